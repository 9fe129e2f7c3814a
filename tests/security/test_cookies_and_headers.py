"""Session cookies (HttpOnly, SameSite, Secure over HTTPS, proxies believed only when configured) and the security
headers every response carries: pages, the APIs, errors, downloads, charts and static files."""
from __future__ import annotations

import re

import pytest

from podium.config import Limit, RateLimits, load_settings
from podium.errors import PodiumError
from podium.runtime import make_runtime
from podium.web import create_app, security
from tests.security.conftest import EMAIL
from tests.web.helpers import PASSWORD, Browser

HTTPS = "https://localhost"


@pytest.fixture
def make_app(rt):
    """An app on the test's database with other settings (as the environment would give them)."""
    runtimes = []

    def make(**overrides):
        runtime = make_runtime(**overrides)
        runtimes.append(runtime)
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        app.test_client_class = Browser
        return app

    yield make
    for runtime in runtimes:
        runtime.db.dispose()


def sign_in(client, *, base_url: str = "http://localhost", headers: dict | None = None):
    """Sign in as the student over the given scheme; the answer's Set-Cookie is the session cookie."""
    headers = {"Referer": f"{base_url}/sign-in", **(headers or {})}  # Flask-WTF checks the referrer over HTTPS
    form = client.get("/sign-in", base_url=base_url, headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/sign-in", base_url=base_url, headers=headers,
                           data={"email": EMAIL["student"], "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1
    return cookies[0]


def attributes(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_http_only_and_same_site_lax_and_not_secure_over_http(app, people):
    cookie = session_cookie(sign_in(app.test_client()))
    assert {"httponly", "samesite", "expires"} <= attributes(cookie)
    assert "SameSite=Lax" in cookie
    assert "secure" not in attributes(cookie)  # a browser would drop a Secure cookie sent over plain HTTP


def test_over_https_the_cookie_is_secure_and_browsers_are_told_to_stay_on_https(app, people):
    response = sign_in(app.test_client(), base_url=HTTPS)
    assert "secure" in attributes(session_cookie(response))
    assert response.headers["Strict-Transport-Security"] == security.HSTS
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


def test_x_forwarded_proto_is_believed_only_when_the_proxy_is_trusted(make_app, people):
    # As the browser saw it: an HTTPS page (Flask-WTF compares the referrer with the scheme the request came in on).
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "localhost", "Referer": f"{HTTPS}/sign-in"}
    untrusted = make_app()
    cookie = session_cookie(sign_in(untrusted.test_client(), headers=forwarded))
    assert "secure" not in attributes(cookie)
    trusted = make_app(trust_proxy=1)
    response = sign_in(trusted.test_client(), headers=forwarded)
    assert "secure" in attributes(session_cookie(response))
    assert "Strict-Transport-Security" in response.headers


def test_secure_cookies_can_be_forced_on_or_off(make_app, people):
    assert "secure" in attributes(session_cookie(sign_in(make_app(secure_cookies="always").test_client())))
    assert "secure" not in attributes(session_cookie(sign_in(make_app(secure_cookies="never").test_client(),
                                                             base_url=HTTPS)))


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(make_app, people):
    """Sign-in failures are counted per address: a client must not pick its own address by sending a header, and
    behind a trusted proxy each student is counted by their own address, not the proxy's."""
    limits = RateLimits(sign_in_address=Limit(2, 900))

    def fail_from(app, address: str):
        client = app.test_client()
        return client.form("/sign-in", {"email": f"guess-{address}@c1.test", "password": "wrong password"},
                           headers={"X-Forwarded-For": address})

    direct = make_app(rate_limits=limits)
    assert [fail_from(direct, a).status_code for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [401, 401, 429]
    proxied = make_app(rate_limits=limits, trust_proxy=1)
    assert [fail_from(proxied, a).status_code for a in ("10.0.1.1", "10.0.1.2", "10.0.1.3")] == [401, 401, 401]


@pytest.mark.parametrize("name, value, words", [
    ("PODIUM_TRUST_PROXY", "maybe", "number of reverse proxies"),
    ("PODIUM_SECURE_COOKIES", "sometimes", "auto"),
    ("PODIUM_API_LIMIT", "600 per minute", "COUNT/DURATION"),
    ("PODIUM_SIGN_IN_LIMIT", "5/0m", "at least one second"),
])
def test_a_bad_setting_is_refused_with_a_message_naming_it(rt, monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(PodiumError) as refused:
        load_settings()
    assert name in refused.value.message and words in refused.value.message


def test_settings_from_the_environment(rt, monkeypatch):
    monkeypatch.setenv("PODIUM_TRUST_PROXY", "2")
    monkeypatch.setenv("PODIUM_SECURE_COOKIES", "true")
    monkeypatch.setenv("PODIUM_SIGN_IN_LIMIT", "3/10m")
    monkeypatch.setenv("PODIUM_SIGN_IN_ADDRESS_LIMIT", "50/1h")
    monkeypatch.setenv("PODIUM_SIGN_IN_ACCOUNT_LIMIT", "20/1h")
    monkeypatch.setenv("PODIUM_API_LIMIT", "0")
    settings = load_settings()
    assert settings.trust_proxy == 2 and settings.secure_cookies == "always"
    assert settings.rate_limits == RateLimits(sign_in=Limit(3, 600), sign_in_address=Limit(50, 3600),
                                              sign_in_account=Limit(20, 3600), api=Limit(0, 1))
    assert settings.rate_limits.api.off


# --- headers on every kind of response -------------------------------------------------------------------


def responses(app, people, rt) -> dict[str, object]:
    anonymous = app.test_client()
    student = app.test_client()
    student.signed_in_as(EMAIL["student"])
    key = ("Authorization", people.basic("student")["Authorization"])
    app.extensions["podium.limiter"].limits = RateLimits(api=Limit(1, 3600))
    answers = {
        "page": student.get("/courses/c1"),
        "front page": anonymous.get("/"),
        "sign-in page": anonymous.get("/sign-in"),
        "redirect to sign in": anonymous.get("/profile"),
        "404 page": student.get("/no/such/page"),
        "403 page": student.get("/staff/c1"),
        "405 page": student.get("/sign-out"),
        "400 page (no CSRF token)": student.post("/profile/name", data={"leaderboard_name": "x"}),
        "static script": anonymous.get("/static/podium.js"),
        "static style": anonymous.get("/static/podium.css"),
        "static 404": anonymous.get("/static/nothing.js"),
        "data file download": student.get("/competitions/c1-hw1/files/README.md"),
        "submission download": student.get(f"/submissions/{people.subs['student']}/file"),
        "chart": student.get("/charts/c1-hw1/distribution.svg"),
        "health": anonymous.get("/healthz"),
        "API JSON": anonymous.get("/api/me", headers=[key]),
        "API 401": anonymous.get("/api/me"),
        "API 404": anonymous.get("/api/no/such/thing"),
        "API 429": anonymous.get("/api/me", headers=[key]),
        "API download": anonymous.get("/api/openapi.json"),
    }
    app.extensions["podium.limiter"].limits = RateLimits(sign_in_account=Limit(1, 3600))
    anonymous.form("/sign-in", {"email": EMAIL["other"], "password": "wrong password"})
    answers["429 page"] = anonymous.form("/sign-in", {"email": EMAIL["other"], "password": "wrong password"})
    return answers


def test_every_kind_of_response_carries_the_security_headers(app, people, rt):
    answers = responses(app, people, rt)
    codes = {name: response.status_code for name, response in answers.items()}
    assert codes["API 429"] == 429 and codes["429 page"] == 429 and codes["404 page"] == 404
    assert codes["405 page"] == 405 and codes["400 page (no CSRF token)"] == 400 and codes["static 404"] == 404
    for name, response in answers.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "same-origin", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Permissions-Policy"] == security.PERMISSIONS_POLICY, name
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", name
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, name
        assert "script-src 'self'" in policy or "script-src" not in policy and "default-src 'none'" in policy, name
        assert "unsafe-eval" not in policy, name
        assert response.status_code < 500, name


def test_the_page_policy_allows_no_inline_script_or_style():
    directives = dict(d.strip().split(" ", 1) for d in security.PAGE_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in security.PAGE_POLICY
