"""Signing in with OpenID Connect against a real provider (tests/oidc/conftest.py): a known account, a new person,
an unverified email, and the attacks on the answer: a token for another application, from another issuer, altered,
expired, replayed into another sign-in (nonce), a replayed state; the provider out of reach; password sign-in off.

The Flask test client is Podium's browser; the provider's pages are filled in over HTTP (ProviderBrowser). Where
Podium's answer is refused, the provider is still the real one: the interceptor on the way to its token endpoint
swaps or alters its real ID token.
"""
from __future__ import annotations

import base64
import html
import json
import secrets
from urllib.parse import quote

import pytest
from sqlalchemy import select

from podium.models import AuditEvent, User
from podium.services import accounts, users
from tests.oidc.conftest import (CALLBACK, CONTACT, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, PROVIDER_NAME,
                                 ProviderBrowser, id_token_from, path_of, query)
from tests.web.conftest import app, client, course, now  # noqa: F401 - fixtures
from tests.web.helpers import PASSWORD

pytestmark = pytest.mark.usefixtures("sign_on_settings")


def start(client, next_url: str | None = None, **kwargs) -> str:
    """Click "Sign in with ...": the provider's authorization address Podium sends the browser to."""
    response = client.get("/sign-in/oidc" + (f"?next={quote(next_url, safe='')}" if next_url else ""), **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def come_back(client, login: str, next_url: str | None = None):
    """A whole sign-in: Podium's button, the provider's pages as `login`, and Podium's callback. The callback's
    answer, and the callback address the provider sent the browser to."""
    callback = ProviderBrowser().sign_in(start(client, next_url), login)
    assert callback.startswith(CALLBACK + "?")
    return client.get(path_of(callback)), callback


def signed_in_id(client) -> int | None:
    with client.session_transaction() as session:
        return session.get("user_id")


def account(rt, email: str) -> User | None:
    with rt.db.session() as session:
        user = users.account_of(session, email)
        if user is not None:
            session.expunge(user)
        return user


def audited(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return events


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def refused_with(response, words: str) -> None:
    assert response.status_code == 400, text(response)[:500]
    assert words in text(response)
    assert "Sign in with Campus Login" in text(response)  # the page offers to start again


# --- signing in ---------------------------------------------------------------------------------------------


def test_the_sign_in_page_offers_the_provider_and_the_request_goes_out_with_pkce_state_and_nonce(rt, course, client,
                                                                                                 sign_on_settings):
    page = text(client.get("/sign-in"))
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'name="password"' in page  # passwords are still taken unless turned off

    # The redirect URI comes from PODIUM_BASE_URL, whatever Host the request names.
    asked = query(start(client, headers={"Host": "evil.example"}))
    assert asked["redirect_uri"] == CALLBACK
    assert asked["client_id"] == "podium" and asked["response_type"] == "code"
    assert set(asked["scope"].split()) == {"openid", "email", "profile"}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32


def test_a_known_account_signs_in_by_its_verified_normalised_email(rt, course, client, interceptor):
    before = account(rt, course.student)
    interceptor.watch = lambda: rt.db.engine.pool.checkedout()
    response, _ = come_back(client, "Student@C1.TEST", next_url=f"/courses/{course.slug}")

    assert response.status_code == 302 and response.headers["Location"] == f"/courses/{course.slug}"
    assert signed_in_id(client) == before.id
    after = account(rt, course.student)
    assert after.password_hash == before.password_hash and after.name == before.name  # nothing of it changed
    assert client.get(f"/courses/{course.slug}").status_code == 200
    [event] = audited(rt, "user.sign_on")
    assert (event.actor, event.target, event.details) == (course.student, course.student, {"via": "oidc"})
    assert audited(rt, "user.created_by_sign_on") == []
    # Podium held no database connection (so no transaction) while it waited on the provider: for its
    # discovery document (fetched when the button was clicked) and at its token endpoint.
    assert [path for path, _ in interceptor.held] == ["/.well-known/openid-configuration", "/token"]
    assert [held for _, held in interceptor.held] == [0, 0]
    # The session is a sign-in like the password's: it ends with "sign out everywhere" like any other.
    client.form("/profile/sign-out-everywhere")
    assert client.get("/profile").status_code == 302


def test_a_local_next_only(rt, course, client):
    response, _ = come_back(client, course.student, next_url="https://evil.example/phish")
    assert response.headers["Location"] == "/"
    for elsewhere in ("//evil.example/phish", "/\\evil.example/phish", "/\t/evil.example/phish"):
        response, _ = come_back(client, course.student, next_url=elsewhere)
        assert response.headers["Location"] == "/", elsewhere


def test_a_new_person_gets_an_account_without_password_or_course_and_is_told_how_to_join(rt, course, client):
    response, _ = come_back(client, "Newcomer@Uni.test", next_url=f"/courses/{course.slug}")

    assert response.status_code == 302 and response.headers["Location"] == "/no-course"
    new = account(rt, "newcomer@uni.test")
    assert new is not None and new.email == "newcomer@uni.test" and new.password_hash is None
    assert new.name == "Person Newcomer"
    assert signed_in_id(client) == new.id
    page = text(client.get("/no-course"))
    assert "You are not in a course yet" in page and "newcomer@uni.test" in page
    assert "join link" in page and "course staff" in page and CONTACT in page
    assert client.get(f"/courses/{course.slug}").status_code == 403  # no enrolment came with the account
    assert "How to join one" in text(client.get("/"))
    [created] = audited(rt, "user.created_by_sign_on")
    assert created.target == "newcomer@uni.test" and created.details == {"via": "oidc"}
    assert [e.target for e in audited(rt, "user.sign_on")] == ["newcomer@uni.test"]

    # The next sign-in finds the same account.
    again = ProviderBrowser().sign_in(start(client), "newcomer@uni.test")
    client.get(path_of(again))
    assert signed_in_id(client) == new.id and len(audited(rt, "user.created_by_sign_on")) == 1


def test_an_unverified_email_signs_nobody_in_and_says_what_to_do(rt, course, client):
    response, _ = come_back(client, f"unverified:{course.instructor}")
    assert response.status_code == 403
    assert "has not verified your email address" in text(response) and "Verify it with Campus Login" in text(response)
    assert signed_in_id(client) is None
    response, _ = come_back(client, "unverified:stranger@uni.test")
    assert account(rt, "stranger@uni.test") is None
    assert audited(rt, "user.sign_on") == []


# --- attacks on the answer ----------------------------------------------------------------------------------


def test_a_token_the_provider_issued_to_another_application_is_refused(rt, course, client, providers, interceptor):
    url = start(client)
    # A real token of the same provider, for the same person and even the same nonce, issued to another client.
    stolen = id_token_from(providers.main, course.instructor, nonce=query(url)["nonce"], client_id=OTHER_CLIENT_ID,
                           client_secret=OTHER_CLIENT_SECRET)
    interceptor.alter = lambda token: {**token, "id_token": stolen}
    response = client.get(path_of(ProviderBrowser().sign_in(url, course.instructor)))
    refused_with(response, "it was issued to another application")
    assert signed_in_id(client) is None


def test_a_token_of_another_issuer_is_refused(rt, course, client, providers, interceptor):
    url = start(client)
    # Another tenant of the same service: the same signing keys, so only the issuer tells it apart.
    foreign = id_token_from(providers.rogue, course.instructor, nonce=query(url)["nonce"])
    interceptor.alter = lambda token: {**token, "id_token": foreign}
    response = client.get(path_of(ProviderBrowser().sign_in(url, course.student)))
    refused_with(response, "it was issued by another provider")
    assert signed_in_id(client) is None


def _with_claims(token: str, **claims) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**data, **claims}).encode()).rstrip(b"=").decode()
    return ".".join([header, changed, signature])


def test_an_altered_token_is_refused(rt, course, client, interceptor):
    # The student's real token, rewritten to name the instructor; the provider's signature no longer matches.
    interceptor.alter = lambda token: {**token, "id_token": _with_claims(token["id_token"], sub=course.instructor,
                                                                         email=course.instructor)}
    response, _ = come_back(client, course.student)
    refused_with(response, "its signature is not one of the provider's keys")
    assert signed_in_id(client) is None

    flipped = lambda token: {**token, "id_token": token["id_token"][:-5] + ("A" if token["id_token"][-5] != "A"  # noqa: E731
                                                                          else "B") + token["id_token"][-4:]}
    interceptor.alter = flipped
    response, _ = come_back(client, course.student)
    refused_with(response, "its signature is not one of the provider's keys")


def test_an_expired_token_is_refused(rt, course, client, app, interceptor):
    url = start(client)
    callback = ProviderBrowser().sign_in(url, course.student)
    # The provider's ID tokens live 600 s (provider.mjs); Podium judges this one 11 minutes after it was issued.
    provider = app.extensions["podium.oidc"]
    issued = provider.clock()
    provider.clock = lambda: issued + 600 + 60 + 1
    response = client.get(path_of(callback))
    refused_with(response, "it has expired")
    assert signed_in_id(client) is None


def test_a_token_of_another_sign_in_is_refused_by_its_nonce(rt, course, client, interceptor):
    come_back(client, course.instructor)  # a sign-in whose real ID token the attacker captured
    captured = interceptor.tokens[-1]["id_token"]
    client.post("/sign-out", data={"csrf_token": client.csrf_token()})

    interceptor.alter = lambda token: {**token, "id_token": captured}
    response, _ = come_back(client, course.student)
    refused_with(response, "it belongs to another sign-in attempt")
    assert signed_in_id(client) is None


def test_a_state_is_good_once_and_only_in_its_browser(rt, course, app, client):
    response, callback = come_back(client, course.student)
    assert response.status_code == 302 and signed_in_id(client) is not None

    again = client.get(path_of(callback))  # the same answer, a second time
    refused_with(again, "not one this browser is waiting for")

    other = app.test_client()  # someone who got hold of the address
    refused_with(other.get(path_of(callback)), "not one this browser is waiting for")
    assert signed_in_id(other) is None

    # A browser that started its own sign-in cannot finish it with another browser's state.
    url = start(other)
    code = query(ProviderBrowser().sign_in(url, course.student))["code"]
    forged = f"/sign-in/oidc/callback?code={code}&state={secrets.token_urlsafe(24)}"
    refused_with(other.get(forged), "not one this browser is waiting for")
    assert signed_in_id(other) is None


def test_a_provider_out_of_reach_is_a_clear_page(rt, course, client, app, interceptor):
    interceptor.broken = True
    response, _ = come_back(client, course.student)
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert "Campus Login could not be reached" in text(response) and "Try again in a few minutes" in text(response)
    assert signed_in_id(client) is None

    provider = app.extensions["podium.oidc"]
    provider.settings = type(provider.settings)(**{**provider.settings.__dict__,
                                                   "discovery_url": "http://127.0.0.1:9/.well-known/x"})
    provider._metadata = None
    response = client.get("/sign-in/oidc")
    assert response.status_code == 503 and "Campus Login could not be reached" in text(response)
    assert "Traceback" not in text(response)


def test_the_provider_refusing_the_code_is_a_clear_page(rt, course, client):
    url = start(client)
    callback = ProviderBrowser().sign_in(url, course.student)
    with client.session_transaction() as session:
        flows = dict(session["sign_on_flows"])
    client.get(path_of(callback))
    client.post("/sign-out", data={"csrf_token": client.csrf_token()})
    with client.session_transaction() as session:  # the browser's old cookie, replayed with the used code
        session["sign_on_flows"] = flows
    response = client.get(path_of(callback))
    refused_with(response, "Campus Login did not accept this sign-in")
    assert signed_in_id(client) is None


def test_cancelling_at_the_provider(rt, course, client):
    state = query(start(client))["state"]
    response = client.get(f"/sign-in/oidc/callback?error=access_denied&state={state}")
    refused_with(response, "Campus Login did not sign you in (you cancelled)")


# --- password sign-in turned off ----------------------------------------------------------------------------


@pytest.fixture
def passwords_off(monkeypatch, sign_on_settings):
    monkeypatch.setenv("PODIUM_PASSWORD_SIGN_IN", "off")


@pytest.mark.usefixtures("passwords_off")
def test_password_sign_in_turned_off(rt, course, app, client):
    page = text(client.get("/sign-in"))
    assert "Sign in with Campus Login" in page and 'name="password"' not in page and "/forgot" not in page
    forgot = text(client.get("/forgot"))
    assert "does not take passwords" in forgot and 'name="email"' not in forgot

    # The pages have no form left to take a CSRF token from; a script posting the old forms is what is refused.
    app.config["WTF_CSRF_ENABLED"] = False
    refused = client.post("/sign-in", data={"email": course.student, "password": PASSWORD})
    assert refused.status_code == 403 and signed_in_id(client) is None
    assert 'This Podium does not take passwords: use "Sign in with Campus Login"' in text(refused)
    refused = client.post("/forgot", data={"email": course.student})
    assert refused.status_code == 403 and "does not take passwords" in text(refused)
    with rt.db.session() as session:
        student = users.get_user(session, course.student)
        link = accounts.reset_token(rt.settings.secret_key, student)  # a link handed out before passwords went off
    refused = client.post(f"/reset/{link}", data={"password": "a new password 1", "again": "a new password 1"})
    assert refused.status_code == 403 and signed_in_id(client) is None

    # Signing on still works, and API keys are no passwords: scripts and the Kaggle CLI keep working.
    response, _ = come_back(client, course.student)
    assert response.status_code == 302 and signed_in_id(client) is not None
    with rt.db.session() as session:
        key = users.issue_api_key(session, users.get_user(session, course.student), actor="test")
    api = app.test_client().get("/api/competitions", auth=(course.student, key))
    assert api.status_code == 200 and course.public_id in text(api)
