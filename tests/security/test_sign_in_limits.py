"""Sign-in limits that cannot be turned against a student, and one spelling of an email everywhere.

A classmate's wrong guesses from one address never lock the owner out from another; the per-address and the slower
per-account ceilings still stop a spray; a variant of an email (full-width letters, letter case, NFKC) counts against
the same limits and finds the same account; /forgot answers alike for known and unknown emails and mails only after
its answer; a password reset revokes the account's API key."""
from __future__ import annotations

import re

import pytest
from alembic import command
from sqlalchemy import select, text

from podium.config import Limit, RateLimits
from podium.db import Database, alembic_config
from podium.models import User
from podium.services import accounts, users
from podium.services.courses import get_course
from tests.conftest import free_port, send_mail
from tests.security.conftest import EMAIL
from tests.security.test_rate_limits import Clock, servers  # noqa: F401 - the fixture
from tests.web.helpers import PASSWORD, answered, page

A, B = "10.0.0.1", "10.0.0.2"
FULL_WIDTH = "ＳＴＵＤＥＮＴ@ｃ１.ｔｅｓｔ"  # student@c1.test in full-width letters


def attempt(app, email: str, password: str, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.form("/sign-in", {"email": email, "password": password})


def guess(app, address: str, email: str = EMAIL["student"]):
    return attempt(app, email, "not the password", address).status_code


def test_guesses_from_one_address_never_lock_the_owner_out_from_another(servers, people):
    app, = servers(1, RateLimits())
    assert [guess(app, A) for _ in range(6)] == [401] * 5 + [429]
    assert attempt(app, EMAIL["student"], PASSWORD, A).status_code == 429  # the guesser's address is stopped
    assert attempt(app, EMAIL["student"], PASSWORD, B).status_code == 302  # the owner, elsewhere, is not


def test_one_address_guessing_for_hours_under_the_defaults_never_reaches_the_account_ceiling(servers, people):
    """The default per-account ceiling is above what one address can reach in its window."""
    clock = Clock()
    app, = servers(1, RateLimits(), clock)
    for _ in range(5):  # more than an hour of guessing, as fast as the per-address limit lets it
        assert [guess(app, A) for _ in range(6)] == [401] * 5 + [429]
        clock.now += 15 * 60
    assert attempt(app, EMAIL["student"], PASSWORD, B).status_code == 302


def test_the_per_address_ceiling_stops_a_spray_over_many_accounts(servers, people):
    app, = servers(1, RateLimits(sign_in_address=Limit(4, 900)))
    assert [guess(app, A, f"guess{n}@c1.test") for n in range(4)] == [401] * 4
    refused = attempt(app, EMAIL["student"], PASSWORD, A)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 900
    assert attempt(app, EMAIL["student"], PASSWORD, B).status_code == 302


def test_the_per_account_ceiling_stops_guessing_spread_over_many_addresses(servers, people):
    app, = servers(1, RateLimits(sign_in=Limit(2, 900), sign_in_account=Limit(6, 3600)))
    addresses = [f"10.0.1.{n}" for n in range(1, 4)]
    assert [guess(app, address) for address in addresses for _ in range(2)] == [401] * 6
    refused = attempt(app, EMAIL["student"], "not the password", "10.0.1.9")  # a fresh address
    assert refused.status_code == 429 and "Too many failed sign-ins" in page(refused)
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert attempt(app, EMAIL["other"], PASSWORD, "10.0.1.9").status_code == 302  # other accounts are not locked


@pytest.mark.parametrize("variant", [FULL_WIDTH, "Student@C1.TEST", "ｓtudent@c1.test", " student@c1.test "])
def test_a_variant_of_the_email_counts_against_the_same_limit(servers, people, variant):
    app, = servers(1, RateLimits(sign_in=Limit(3, 900)))
    assert [guess(app, A, e) for e in (variant, EMAIL["student"], variant)] == [401] * 3
    assert attempt(app, EMAIL["student"], PASSWORD, A).status_code == 429
    assert attempt(app, variant, PASSWORD, A).status_code == 429


def test_a_variant_of_the_email_signs_in_to_the_same_account(servers, people):
    app, = servers(1, RateLimits())
    assert attempt(app, FULL_WIDTH, PASSWORD, A).status_code == 302


def test_emails_are_normalised_nfkc_case_folded_with_an_idna_domain():
    assert users.normalise_email(FULL_WIDTH) == "student@c1.test"
    assert users.normalise_email("Ａｄａ＠Example.EDU") == "ada@example.edu"
    assert users.normalise_email("Straße@Bücher.test") == "strasse@xn--bcher-kva.test"
    assert users.normalise_email("ﬁona@c1.test") == "fiona@c1.test"  # the ligature is two letters
    assert users.normalise_email("e\u0301@c1.test") == users.normalise_email("\u00e9@c1.test")


def test_users_add_with_a_variant_finds_the_existing_account(podium_cli, rt, people):
    with rt.db.session() as session:
        before = session.scalar(select(User.id).where(User.email == EMAIL["student"]))
        count = len(session.scalars(select(User.id)).all())
    result = podium_cli("users", "add", FULL_WIDTH, "--course", "c2", "--role", "student")
    assert result.exit_code == 0, result.stderr
    with rt.db.session() as session:
        assert len(session.scalars(select(User.id)).all()) == count
        user = users.get_user(session, "STUDENT@c1.test")
        assert user.id == before and {e.course.slug for e in user.enrolments} == {"c1", "c2"}
        assert users.check_password(user, PASSWORD)  # the existing account, left as it was
        assert users.authenticate_key(session, FULL_WIDTH, people.keys["student"]) is user


def test_a_roster_with_variants_enrols_the_existing_accounts(rt, people):
    with rt.db.session() as session:
        count = len(session.scalars(select(User.id)).all())
        result = users.import_roster(session, get_course(session, "c2"),
                                     f"email,name\n{FULL_WIDTH},S\nOTHER@C1.test,O\n")
        assert (result.added, result.updated) == (0, 2)
        assert len(session.scalars(select(User.id)).all()) == count


# --- /forgot and reset -----------------------------------------------------------------------------------


@pytest.fixture
def mailing(servers, people, mail_server, monkeypatch):
    monkeypatch.setenv("PODIUM_BASE_URL", "https://podium.c1.test")
    app, = servers(1, RateLimits())
    return app, mail_server


def sent(app) -> None:
    """The background work's pass over the outbox."""
    send_mail(app.extensions["podium"])


def without_token(response) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page(response))


def test_forgot_answers_alike_for_known_and_unknown_emails_and_mails_the_known_one(mailing):
    app, mail = mailing
    known = answered(app.test_client().form("/forgot", {"email": FULL_WIDTH}))
    unknown = answered(app.test_client().form("/forgot", {"email": "nobody@c1.test"}))
    invalid = answered(app.test_client().form("/forgot", {"email": "not an email"}))
    assert known.status_code == unknown.status_code == invalid.status_code == 200
    assert without_token(known) == without_token(unknown) == without_token(invalid)
    sent(app)
    assert [message["To"] for message in mail] == [EMAIL["student"]]
    assert "https://podium.c1.test/reset/" in mail[0].get_content()


def test_forgot_mails_only_after_its_answer_is_sent(mailing):
    app, mail = mailing
    response = app.test_client().form("/forgot", {"email": EMAIL["student"]}, buffered=False)
    assert response.status_code == 200 and "on its way" in page(response)
    sent(app)
    assert mail == []  # the answer is complete, nothing has been looked up or written to the outbox yet
    response.close()  # what the server does once the last byte is sent
    sent(app)
    assert [message["To"] for message in mail] == [EMAIL["student"]]


def test_a_reset_mail_the_server_cannot_take_waits_and_the_answer_is_the_same(servers, people, monkeypatch):
    monkeypatch.setenv("PODIUM_BASE_URL", "https://podium.c1.test")
    monkeypatch.setenv("PODIUM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PODIUM_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("PODIUM_SMTP_STARTTLS", "false")
    app, = servers(1, RateLimits())
    response = answered(app.test_client().form("/forgot", {"email": EMAIL["student"]}))
    assert response.status_code == 200 and "on its way" in page(response)
    report = send_mail(app.extensions["podium"])
    assert len(report.retrying) == 1 and not report.sent  # kept, to be tried again


def test_a_password_reset_through_a_link_revokes_the_api_key(app, rt, people):
    assert app.test_client().get("/api/me", headers=people.basic("student")).status_code == 200
    with rt.db.session() as session:
        token = accounts.reset_token(rt.settings.secret_key, users.get_user(session, EMAIL["student"]))
    browser = app.test_client()
    reset = browser.form(f"/reset/{token}", {"password": "a new password", "again": "a new password"})
    assert reset.status_code == 302
    assert app.test_client().get("/api/me", headers=people.basic("student")).status_code == 401
    assert app.test_client().get("/api/me", headers=people.basic("other")).status_code == 200


# --- accounts made before the rule -----------------------------------------------------------------------


def test_the_migration_normalises_stored_emails_and_leaves_look_alikes_to_the_operator(blank_database_url):
    database = Database(blank_database_url)
    try:
        command.upgrade(alembic_config(database.url), "0007")
        with database.engine.begin() as connection:
            for email in ("Student@C1.test", "ＯＴＨＥＲ@c1.test", "other@c1.test", "prof@c1.test"):
                connection.execute(text("INSERT INTO users (email, name, leaderboard_name, created_at) "
                                        "VALUES (:email, '', '', CURRENT_TIMESTAMP)"), {"email": email})
        database.upgrade()
        with database.engine.connect() as connection:
            emails = connection.execute(text("SELECT email FROM users ORDER BY id")).scalars().all()
    finally:
        database.dispose()
    assert emails == ["student@c1.test", "ＯＴＨＥＲ@c1.test", "other@c1.test", "prof@c1.test"]


# --- staff forms -------------------------------------------------------------------------------------------


def test_the_extension_form_answers_alike_for_no_account_and_an_account_outside_the_course(as_staff, people):
    def grant(email: str):
        return as_staff.form("/staff/c1/extensions", {"competition": "c1-hw1", "email": email, "days": "1",
                                                      "reason": "ill"})

    outside, nobody = grant(EMAIL["outsider"]), grant("nobody@c2.test")
    assert outside.status_code == nobody.status_code == 404
    words = [re.search(r"(\S+) is not enrolled in c1[^<]*", page(r)) for r in (outside, nobody)]
    assert words[0] and words[1] and words[0].group(0).replace(EMAIL["outsider"], "X") == \
        words[1].group(0).replace("nobody@c2.test", "X")
    assert grant(FULL_WIDTH).status_code == 302  # a member, by a variant of the email
