"""Accounts: sign-in and its rate limits, sign-out, reset links, the profile with its API key and leaderboard name."""
from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from podium.config import Limit, RateLimits
from podium.models import AuditEvent, User
from podium.services import accounts, users
from podium.services.courses import get_course
from podium.web import create_app
from podium.web.context import SEEN_KEY, SIGNED_IN_KEY
from tests.conftest import send_mail
from tests.web.helpers import PASSWORD, TOKEN, Browser, answered, page


@pytest.mark.real_password_hashing
def test_passwords_are_stored_as_memory_hard_scrypt_hashes_at_full_cost():
    """The suite hashes at a small work factor for speed; production keeps Werkzeug's full scrypt cost."""
    stored = users.password_hash(PASSWORD)
    assert stored.startswith("scrypt:32768:8:1$")
    assert users.check_password_hash(stored, PASSWORD) and not users.check_password_hash(stored, PASSWORD + "!")


def test_sign_in_sets_the_shared_session_key_and_returns_to_the_page_asked_for(client, course, rt):
    response = client.form("/sign-in", {"email": course.student, "password": PASSWORD, "next": "/courses/c1"})
    assert response.status_code == 302 and response.headers["Location"] == "/courses/c1"
    with client.session_transaction() as session:
        with rt.db.session() as db:
            assert session["user_id"] == db.query(User.id).filter(User.email == course.student).scalar()
        assert session.permanent


def test_the_sign_in_form_leaves_the_session_that_other_tests_start_signed_in_with(app, course):
    """Browser.signed_in_as skips the form's round trips; it must leave what the form leaves, nothing else."""
    through_the_form, given = app.test_client(), app.test_client()
    through_the_form.sign_in(course.student)
    given.signed_in_as(course.student)
    with through_the_form.session_transaction() as formed, given.session_transaction() as started:
        assert formed.permanent and started.permanent
        # The same keys and values, but for the instants, which are those of each sign-in.
        instants = {SIGNED_IN_KEY, SEEN_KEY}
        assert formed.keys() == started.keys() and instants <= formed.keys()
        assert {k: v for k, v in formed.items() if k not in instants} == \
               {k: v for k, v in started.items() if k not in instants}
        assert all(abs(formed[k] - started[k]) <= 5 for k in instants)
    assert without_csrf_tokens(through_the_form.get("/profile")) == without_csrf_tokens(given.get("/profile"))


def without_csrf_tokens(response) -> str:
    return TOKEN.sub("", response.get_data(as_text=True))  # a token is random in each session


def test_sign_in_never_redirects_off_site(client, course):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.form("/sign-in", {"email": course.student, "password": PASSWORD, "next": target})
        assert response.headers["Location"] == "/"
        client.form("/sign-out")


def test_wrong_password_says_so_without_telling_which_part(client, course):
    response = client.form("/sign-in", {"email": course.student, "password": "nope-nope"})
    assert response.status_code == 401
    assert accounts.SIGN_IN_FAILED in page(response)
    unknown = client.form("/sign-in", {"email": "nobody@c1.test", "password": "nope-nope"})
    assert unknown.status_code == 401 and accounts.SIGN_IN_FAILED in page(unknown)


def test_pages_ask_visitors_to_sign_in_first(client, course):
    response = client.get(f"/competitions/{course.public_id}/submit")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/competitions/c1-hw1/submit")


def test_five_failures_lock_the_account_even_with_the_right_password(app, client, course):
    for _ in range(5):
        assert client.form("/sign-in", {"email": course.student, "password": "wrong-guess"}).status_code == 401
    locked = client.form("/sign-in", {"email": course.student, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in page(locked)
    # Another account from the same address is not locked by these five.
    assert client.form("/sign-in", {"email": course.other, "password": PASSWORD}).status_code == 302


def test_an_address_that_fails_on_many_accounts_is_stopped(app, client, course):
    app.extensions["podium.limiter"].limits = RateLimits(sign_in_address=Limit(3, 15 * 60))
    for i in range(3):
        client.form("/sign-in", {"email": f"guess{i}@c1.test", "password": "x" * 8})
    refused = client.form("/sign-in", {"email": course.student, "password": PASSWORD})
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 15 * 60


def test_a_successful_sign_in_clears_the_account_failures(client, course):
    for _ in range(4):
        client.form("/sign-in", {"email": course.student, "password": "wrong-guess"})
    client.sign_in(course.student)
    client.form("/sign-out")
    for _ in range(4):
        client.form("/sign-in", {"email": course.student, "password": "wrong-guess"})
    assert client.form("/sign-in", {"email": course.student, "password": PASSWORD}).status_code == 302


def test_sign_out_needs_a_post_with_a_token(as_student):
    assert as_student.get("/sign-out").status_code == 405
    assert as_student.post("/sign-out").status_code == 400  # no CSRF token: a link elsewhere cannot sign you out
    assert as_student.signed_in
    as_student.form("/sign-out")
    assert not as_student.signed_in
    assert as_student.get("/profile").status_code == 302


def _reset_link(as_staff, rt, email: str) -> str:
    with rt.db.session() as db:
        user_id = db.query(User.id).filter(User.email == email).scalar()
    response = as_staff.form(f"/staff/c1/people/{user_id}/reset-link")
    assert response.status_code == 200
    return re.search(r'id="reset-link">([^<]+)<', page(response)).group(1)


def test_staff_hand_out_a_reset_link_that_works_once(app, as_staff, rt, course):
    link = _reset_link(as_staff, rt, course.student)
    path = link.replace("http://localhost", "")
    visitor = app.test_client()
    assert course.student in page(visitor.get(path))
    token = visitor.csrf_token()
    done = visitor.post(path, data={"password": "a new password", "again": "a new password", "csrf_token": token})
    assert done.status_code == 302 and visitor.signed_in
    with rt.db.session() as db:
        user = users.get_user(db, course.student)
        assert users.check_password(user, "a new password")
        assert db.query(AuditEvent).filter(AuditEvent.action == "user.reset_link", AuditEvent.actor == course.staff).count() == 1
    again = app.test_client().get(path)
    assert again.status_code == 410 and "already used" in page(again)


def test_a_reset_link_checks_the_two_passwords_and_the_length(app, as_staff, rt, course):
    path = _reset_link(as_staff, rt, course.student).replace("http://localhost", "")
    visitor = app.test_client()
    token = visitor.csrf_token()
    differ = visitor.post(path, data={"password": "one password", "again": "another one", "csrf_token": token})
    assert differ.status_code == 422 and "differ" in page(differ)
    short = visitor.post(path, data={"password": "short", "again": "short", "csrf_token": token})
    assert short.status_code == 400 and "at least 8 characters" in page(short)


def test_reset_links_expire_and_forged_ones_are_refused(rt, course):
    with rt.db.session() as db:
        user = users.get_user(db, course.student)
        token = accounts.reset_token("secret", user)
        with pytest.raises(accounts.PodiumError, match="expired"):
            accounts.user_for_reset(db, "secret", token, max_age=-1)
        with pytest.raises(accounts.PodiumError, match="not valid"):
            accounts.user_for_reset(db, "another secret", token)


def test_reset_links_for_staff_accounts_come_from_an_instance_administrator(as_staff, as_instructor, rt, course):
    with rt.db.session() as db:
        prof_id = db.query(User.id).filter(User.email == course.instructor).scalar()
        ta_id = db.query(User.id).filter(User.email == course.staff).scalar()
    assert as_staff.form(f"/staff/c1/people/{prof_id}/reset-link").status_code == 403
    refused = as_instructor.form(f"/staff/c1/people/{ta_id}/reset-link")
    assert refused.status_code == 403 and "podium users reset-link" in refused.get_data(as_text=True)


def test_students_cannot_make_reset_links(as_student, rt, course):
    with rt.db.session() as db:
        other_id = db.query(User.id).filter(User.email == course.other).scalar()
    assert as_student.form(f"/staff/c1/people/{other_id}/reset-link").status_code == 403


def test_forgot_password_without_mail_tells_people_to_ask_staff(client, monkeypatch):
    monkeypatch.delenv("PODIUM_SMTP_HOST", raising=False)
    text = page(client.get("/forgot"))
    assert "Ask your course staff for a password reset link" in text
    assert 'name="email"' not in text


BASE_URL = "https://podium.c1.test/course-site"


@pytest.fixture
def base_url(rt) -> str:
    """PODIUM_BASE_URL, as the deployment would set it."""
    rt.settings = replace(rt.settings, base_url=BASE_URL)
    return BASE_URL


def test_forgot_password_mails_a_link_when_smtp_is_configured(client, rt, course, base_url, mail_server):
    response = answered(client.form("/forgot", {"email": course.student}))
    assert "on its way" in page(response)
    unknown = answered(client.form("/forgot", {"email": "nobody@c1.test"}))
    assert "on its way" in page(unknown)  # the same answer: the form does not reveal who has an account
    assert mail_server == []  # written to the outbox; the background work sends it
    send_mail(rt)
    assert len(mail_server) == 1
    message = mail_server[0]
    assert message["To"] == course.student and f"{BASE_URL}/reset/" in message.get_content()


def mailed_link(message) -> str:
    return re.search(r"\S+/reset/\S+", message.get_content()).group(0)


def attacker_form(client, url: str, data: dict, headers: dict):
    """A form posted with the attacker's headers on every request, the one that fetches the token too."""
    token = TOKEN.search(page(client.get("/sign-in", headers=headers))).group(1)
    return answered(client.post(url, data={**data, "csrf_token": token}, headers=headers))


def test_a_mailed_reset_link_is_built_from_the_base_url_never_from_the_host_header(client, rt, course, base_url,
                                                                                   mail_server):
    sent = attacker_form(client, "/forgot", {"email": course.student}, {"Host": "evil.example"})
    assert "on its way" in page(sent)
    send_mail(rt)
    [message] = mail_server
    link = mailed_link(message)
    assert link.startswith(f"{BASE_URL}/reset/") and "evil.example" not in message.as_string()


def test_a_mailed_reset_link_ignores_forwarded_host_headers_of_a_trusted_proxy(rt, course, base_url, mail_server):
    rt.settings = replace(rt.settings, trust_proxy=1)
    app = create_app(runtime=rt)
    app.test_client_class, app.config["TESTING"] = Browser, True
    client = app.test_client()
    sent = attacker_form(client, "/forgot", {"email": course.student}, {"X-Forwarded-Host": "evil.example"})
    assert "on its way" in page(sent), page(sent)
    send_mail(rt)
    [message] = mail_server
    link = mailed_link(message)
    assert link.startswith(f"{BASE_URL}/reset/") and "evil.example" not in message.as_string()
    # The link works: it names this site's reset page.
    assert course.student in page(client.get(link.removeprefix(BASE_URL)))


def test_without_a_base_url_no_reset_mail_is_sent_and_the_form_sends_people_to_staff(client, course, mail_server,
                                                                                     caplog):
    assert client.application.extensions["podium"].settings.base_url is None
    text = page(client.get("/forgot"))
    assert "Ask your course staff for a password reset link" in text and 'name="email"' not in text
    response = attacker_form(client, "/forgot", {"email": course.student}, {"Host": "evil.example"})
    send_mail(client.application.extensions["podium"])
    assert response.status_code == 200 and mail_server == []
    assert "PODIUM_BASE_URL" in caplog.text


def test_staff_reset_links_use_the_base_url_and_are_mailed_from_it(as_staff, rt, course, base_url, mail_server):
    link = _reset_link(as_staff, rt, course.student)
    assert link.startswith(f"{BASE_URL}/reset/")
    with rt.db.session() as db:
        user_id = db.query(User.id).filter(User.email == course.student).scalar()
    as_staff.form(f"/staff/c1/people/{user_id}/reset-link", {"mail": "1"})
    send_mail(rt)
    [message] = mail_server
    assert mailed_link(message).startswith(f"{BASE_URL}/reset/")


def test_without_a_base_url_staff_reset_links_are_relative_to_the_site(as_staff, rt, course):
    with rt.db.session() as db:
        user_id = db.query(User.id).filter(User.email == course.student).scalar()
    response = as_staff.form(f"/staff/c1/people/{user_id}/reset-link")
    link = re.search(r'id="reset-link">([^<]+)<', page(response)).group(1)
    assert link.startswith("/reset/") and "PODIUM_BASE_URL" in page(response)


def test_profile_sets_the_leaderboard_name(as_student, rt, course):
    response = as_student.form("/profile/name", {"leaderboard_name": "  Gradient   Ascent "})
    assert response.status_code == 302
    with rt.db.session() as db:
        student = users.get_user(db, course.student)
        assert student.leaderboard_name_in(get_course(db, "c1").id) == "Gradient Ascent"
    empty = as_student.form("/profile/name", {"leaderboard_name": "   "})
    assert empty.status_code == 400 and "Choose a leaderboard name" in page(empty)
    long = as_student.form("/profile/name", {"leaderboard_name": "x" * 41})
    assert long.status_code == 400


def test_the_profile_sets_a_name_per_course_and_shows_the_course(as_student, rt, course):
    with rt.db.session() as db:
        users.add_user(db, course.student, get_course(db, "c2"), "student")
    profile = page(as_student.get("/profile"))
    assert "Course c1" in profile and "Course c2" in profile and 'value="Overfitter"' in profile
    assert as_student.form("/profile/name", {"course": "c2", "leaderboard_name": "Second Self"}).status_code == 302
    unnamed = as_student.form("/profile/name", {"leaderboard_name": "Which course?"})
    assert unnamed.status_code == 400 and "Choose one of your courses" in page(unnamed)
    with rt.db.session() as db:
        student = users.get_user(db, course.student)
        c1, c2 = get_course(db, "c1").id, get_course(db, "c2").id
        assert (student.leaderboard_name_in(c1), student.leaderboard_name_in(c2)) == ("Overfitter", "Second Self")


def test_the_profile_refuses_another_students_name_and_hidden_characters_saying_why(as_student, rt, course):
    taken = as_student.form("/profile/name", {"course": "c1", "leaderboard_name": "UNDERFITTER"})
    assert taken.status_code == 409 and "Another student of c1" in page(taken)
    bidi = as_student.form("/profile/name", {"course": "c1", "leaderboard_name": "Over\u202efitter"})
    assert bidi.status_code == 400 and "U+202E" in page(bidi)
    with rt.db.session() as db:
        assert users.get_user(db, course.student).leaderboard_name_in(get_course(db, "c1").id) == "Overfitter"


def test_the_api_key_is_shown_once_and_works(as_student, rt, course):
    response = as_student.form("/profile/api-key")
    key = re.search(r'id="api-key">([^<]+)<', page(response)).group(1)
    with rt.db.session() as db:
        assert users.authenticate_key(db, course.student, key) is not None
    later = page(as_student.get("/profile"))
    assert key not in later and "cannot be shown again" in later
    second = re.search(r'id="api-key">([^<]+)<', page(as_student.form("/profile/api-key"))).group(1)
    with rt.db.session() as db:
        assert users.authenticate_key(db, course.student, key) is None  # the previous key stops working
        assert users.authenticate_key(db, course.student, second) is not None
    with as_student.session_transaction() as session:
        assert key not in str(dict(session)) and second not in str(dict(session))


def test_the_profile_gives_the_kaggle_cli_set_up_for_this_server_and_this_student(as_student, rt, course):
    """The exact client release that can be pointed at Podium, and the three variables, filled in (the key only on
    the page that shows it, once)."""
    shown = html.unescape(page(as_student.get("/profile")))
    assert 'pip install "kaggle==1.6.17"' in shown and "1.7 and up" in shown
    assert "export KAGGLE_API_ENDPOINT=http://localhost\n" in shown
    assert f"export KAGGLE_USERNAME={course.student}" in shown and "export KAGGLE_KEY=<your API key>" in shown
    assert f"kaggle competitions submit -c {course.public_id}" in shown
    made = page(as_student.form("/profile/api-key"))
    key = re.search(r'id="api-key">([^<]+)<', made).group(1)
    assert f"export KAGGLE_KEY={key}" in html.unescape(made)


def test_the_kaggle_endpoint_is_the_configured_address_behind_a_proxy(as_student, rt, course, monkeypatch):
    monkeypatch.setattr(rt, "settings", replace(rt.settings, base_url="https://podium.example.edu"))
    assert "export KAGGLE_API_ENDPOINT=https://podium.example.edu\n" in html.unescape(page(as_student.get("/profile")))


def test_password_change_needs_the_current_one(as_student, rt, course):
    wrong = as_student.form("/profile/password", {"current": "not it at all", "new": "brand new pass", "again": "brand new pass"})
    assert wrong.status_code == 403
    ok = as_student.form("/profile/password", {"current": PASSWORD, "new": "brand new pass", "again": "brand new pass"})
    assert ok.status_code == 302
    with rt.db.session() as db:
        assert users.check_password(users.get_user(db, course.student), "brand new pass")
