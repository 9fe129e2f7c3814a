"""Sessions are revocable. The finding: a session cookie saved before sign-out, or before a password change, still
worked for 14 days, since a session is a signed cookie the server kept no trace of. Now signing out, a password
change or reset and "sign out everywhere" end every session of the account (a copy of the cookie included), and a
session ends after the idle and absolute lifetimes of the settings. Another account's sessions and the API with
HTTP Basic are untouched."""
from __future__ import annotations

import base64
import re
import time
from dataclasses import replace

from podium.models import AuditEvent, User
from podium.services import accounts, users
from podium.web import create_app
from podium.web.context import SEEN_KEY, SIGNED_IN_KEY
from tests.web.helpers import PASSWORD, Browser, InlineScoring, page

NEW_PASSWORD = "a brand new password"


def copied_cookie(app, browser: Browser) -> Browser:
    """Another browser holding a copy of `browser`'s session cookie, as whoever copied it would."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, browser.get_cookie(name).value)
    return thief


def signed_in(browser: Browser) -> bool:
    """Whether the site takes `browser` for a signed-in person: the profile page answers instead of sending it to
    sign in, and the API (riding on the cookie) knows the caller."""
    profile = browser.get("/profile")
    api = browser.get("/api/me/grades")
    assert (profile.status_code == 200) == (api.status_code == 200), (profile.status_code, api.status_code)
    if profile.status_code == 200:
        return True
    assert profile.status_code == 302 and profile.headers["Location"].startswith("/sign-in")
    assert api.status_code == 401
    return False


def audited(rt, action: str, email: str) -> int:
    with rt.db.session() as db:
        return db.query(AuditEvent).filter(AuditEvent.action == action, AuditEvent.target == email).count()


def test_a_cookie_copied_before_sign_out_no_longer_works_after_it(app, as_student, as_other, rt, course):
    thief = copied_cookie(app, as_student)
    assert signed_in(thief)  # the copy is as good as the original while the session lasts
    as_student.form("/sign-out")
    assert not signed_in(thief) and not signed_in(as_student)
    assert signed_in(as_other)  # another account's session is untouched
    assert audited(rt, "user.sign_out", course.student) == 1


def test_a_cookie_copied_before_a_password_change_no_longer_works_after_it(app, as_student, as_other, course):
    thief = copied_cookie(app, as_student)
    changed = as_student.form("/profile/password", {"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert changed.status_code == 302
    assert not signed_in(thief)
    assert signed_in(as_student)  # the browser that changed the password goes on, in a new session
    assert signed_in(as_other)


def test_a_password_reset_through_a_reset_link_ends_every_session_but_the_resetting_one(app, as_student, as_staff,
                                                                                          rt, course):
    thief = copied_cookie(app, as_student)
    with rt.db.session() as db:
        user_id = db.query(User.id).filter(User.email == course.student).scalar()
    link = re.search(r'id="reset-link">([^<]+)<', page(as_staff.form(f"/staff/c1/people/{user_id}/reset-link")))
    path = link.group(1).replace("http://localhost", "")
    visitor = app.test_client()
    visitor.get(path)
    done = visitor.post(path, data={"password": NEW_PASSWORD, "again": NEW_PASSWORD,
                                    "csrf_token": visitor.csrf_token()})
    assert done.status_code == 302
    assert not signed_in(thief) and not signed_in(as_student)
    assert signed_in(visitor)
    assert signed_in(as_staff)


def test_sign_out_everywhere_ends_every_session_of_the_account_and_only_those(app, as_student, as_other, rt, course):
    laptop = app.test_client()
    laptop.sign_in(course.student)
    assert signed_in(laptop) and signed_in(as_student)
    profile = page(as_student.get("/profile"))
    assert 'action="/profile/sign-out-everywhere"' in profile and "Sign out everywhere" in profile
    response = as_student.form("/profile/sign-out-everywhere")
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert not signed_in(laptop) and not signed_in(as_student)  # the other browser, and the one that asked
    assert signed_in(as_other)
    assert audited(rt, "user.sign_out_everywhere", course.student) == 1
    laptop.sign_in(course.student)  # signing in again works as ever
    assert signed_in(laptop)


def test_sign_out_everywhere_needs_a_signed_in_post_with_a_token(app, as_student, course):
    assert as_student.post("/profile/sign-out-everywhere").status_code == 400
    assert signed_in(as_student)
    assert app.test_client().get("/profile/sign-out-everywhere").status_code == 405


def test_the_api_with_http_basic_is_unaffected(app, as_student, rt, course):
    with rt.db.session() as db:
        key = users.issue_api_key(db, users.get_user(db, course.student))
    basic = {"Authorization": "Basic " + base64.b64encode(f"{course.student}:{key}".encode()).decode()}
    as_student.form("/profile/sign-out-everywhere")
    assert app.test_client().get("/api/me/grades", headers=basic).status_code == 200


def app_with(rt, **lifetimes):
    app = create_app(runtime=replace(rt, settings=replace(rt.settings, **lifetimes)))
    app.test_client_class = Browser
    app.extensions["podium.scoring"] = InlineScoring(rt)
    app.config["TESTING"] = True
    return app


def backdated(browser: Browser, **seconds_ago) -> Browser:
    """The browser's session as if its sign-in or its last request (`signed_in_at`, `seen_at`) were that long ago."""
    keys = {"signed_in_at": SIGNED_IN_KEY, "seen_at": SEEN_KEY}
    with browser.session_transaction() as store:
        for name, ago in seconds_ago.items():
            store[keys[name]] = int(time.time()) - ago
    return browser


def test_a_session_idle_for_longer_than_the_idle_lifetime_is_refused(rt, course):
    app = app_with(rt, session_idle_minutes=1)
    assert signed_in(backdated(app.test_client().signed_in_as(course.student), seen_at=50))
    assert not signed_in(backdated(app.test_client().signed_in_as(course.student), seen_at=70))


def test_each_request_keeps_a_session_from_going_idle(rt, course):
    app = app_with(rt, session_idle_minutes=1)
    browser = backdated(app.test_client().signed_in_as(course.student), signed_in_at=600, seen_at=50)
    assert signed_in(browser)
    with browser.session_transaction() as store:
        assert time.time() - store[SEEN_KEY] < 5 and time.time() - store[SIGNED_IN_KEY] >= 600


def test_a_session_past_the_absolute_lifetime_is_refused_however_busy(rt, course):
    app = app_with(rt, session_max_days=1)
    day = 24 * 3600
    assert signed_in(backdated(app.test_client().signed_in_as(course.student), signed_in_at=day - 60))
    assert not signed_in(backdated(app.test_client().signed_in_as(course.student), signed_in_at=day + 60))
    cookie = app.test_client().sign_in(course.student).headers["Set-Cookie"]
    assert re.search(r"Expires=", cookie)
    assert app.permanent_session_lifetime.total_seconds() == day


def test_a_session_without_its_generation_or_instants_is_refused(app, as_student, course):
    """A session written before sessions carried them, or one edited short of them (it cannot be: it is signed)."""
    for missing in ("session_epoch", SIGNED_IN_KEY, SEEN_KEY):
        browser = app.test_client().signed_in_as(course.student)
        with browser.session_transaction() as store:
            del store[missing]
        assert not signed_in(browser), missing
    assert signed_in(as_student)


def test_the_rule_itself(rt):
    settings = replace(rt.settings, session_idle_minutes=10, session_max_days=1)
    user, now = User(email="x@y.test", session_epoch=3), 1_000_000.0
    assert accounts.session_is_current(user, 3, now - 3600, now - 600, settings, now)
    assert not accounts.session_is_current(user, 2, now - 3600, now - 60, settings, now)      # an older generation
    assert not accounts.session_is_current(user, 3, now - 3600, now - 601, settings, now)     # idle too long
    assert not accounts.session_is_current(user, 3, now - 86401, now - 60, settings, now)     # too old
    assert not accounts.session_is_current(user, "3", now - 60, now - 60, settings, now)      # not as written
    assert not accounts.session_is_current(user, 3, None, now - 60, settings, now)
