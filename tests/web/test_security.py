"""The site's guards: CSRF on every form, a content security policy that the templates honour, escaped user text,
the API's exemption only for HTTP Basic, SameSite session cookies."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from podium.web import security

TEMPLATES = Path(__file__).resolve().parents[2] / "podium" / "web" / "templates"

FORMS = ["/sign-in", "/sign-out", "/forgot", "/profile/name", "/profile/api-key", "/profile/password",
         "/competitions/c1-hw1/submit", "/submissions/1/mark", "/staff/c1/people/import", "/staff/c1/people/add",
         "/staff/c1/extensions", "/staff/c1/slack", "/staff/competitions/c1-hw1", "/staff/competitions/c1-hw1/release",
         "/staff/competitions/c1-hw1/solution", "/staff/competitions/c1-hw1/rescore"]


@pytest.mark.parametrize("url", FORMS)
def test_every_form_refuses_a_post_without_its_token(as_instructor, url):
    response = as_instructor.post(url, data={"selected": "1", "title": "x", "email": "a@b.test"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_a_token_from_another_session_is_refused(app, as_student, course):
    other = app.test_client()
    stolen = other.csrf_token()
    response = as_student.post("/profile/name", data={"leaderboard_name": "x", "csrf_token": stolen})
    assert response.status_code == 400


def test_every_page_carries_the_policy_and_svg_gets_its_own(as_student, course):
    page = as_student.get("/courses/c1")
    assert page.headers["Content-Security-Policy"] == security.PAGE_POLICY
    assert "script-src 'self'" in security.PAGE_POLICY and "unsafe-inline" not in security.PAGE_POLICY
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    chart = as_student.get("/charts/c1-hw1/progress.svg")
    assert chart.mimetype == "image/svg+xml" and chart.headers["Content-Security-Policy"] == security.SVG_POLICY
    assert "script-src" not in security.SVG_POLICY


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_script_style_or_handlers(template):
    """The policy would block them in the browser; this keeps them from being written."""
    text = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert "<style" not in text, "inline <style>"
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "event handler attribute"
    assert "javascript:" not in text


def test_session_cookie_is_http_only_and_same_site(client, course):
    response = client.form("/sign-in", {"email": course.student, "password": "correct horse battery"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_the_api_is_exempt_only_with_http_basic(app, course, rt):
    """A session-cookie POST to the API needs the token like any form; HTTP Basic needs none."""
    from podium.services import users

    with rt.db.session() as db:
        key = users.issue_api_key(db, users.get_user(db, course.student))
    browser = app.test_client()
    browser.sign_in(course.student)
    with_cookie = browser.post(f"/api/competitions/{course.public_id}/submissions", data={})
    assert with_cookie.status_code == 400 and "token" in with_cookie.get_json()["message"].lower()
    basic = app.test_client().post(f"/api/competitions/{course.public_id}/submissions", data={},
                                   auth=(course.student, key))
    # Past the CSRF check: the API's own answer about the missing file.
    assert "token" not in basic.get_json()["message"].lower() and "file" in basic.get_json()["message"].lower()


def test_static_script_is_served_and_referenced(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert '<script src="/static/podium.js" defer></script>' in page
    assert client.get("/static/podium.js").status_code == 200


# --- secrets are never cached -----------------------------------------------------------------------------


def test_the_page_showing_a_new_api_key_is_not_stored_by_any_cache(as_student):
    shown = as_student.form("/profile/api-key")
    assert 'id="api-key"' in shown.get_data(as_text=True)
    assert shown.headers.get("Cache-Control") == "no-store"


def test_the_page_showing_a_reset_link_to_staff_and_the_reset_page_are_not_stored(as_staff, client, rt, course):
    from podium.models import User

    with rt.db.session() as db:
        user_id = db.query(User.id).filter(User.email == course.student).scalar()
    shown = as_staff.form(f"/staff/c1/people/{user_id}/reset-link")
    assert shown.status_code == 200 and shown.headers.get("Cache-Control") == "no-store"
    link = re.search(r'id="reset-link">([^<]+)<', shown.get_data(as_text=True)).group(1)
    opened = client.get(link.replace("http://localhost", ""))
    assert opened.status_code == 200 and opened.headers.get("Cache-Control") == "no-store"


def test_ordinary_pages_keep_their_caching(as_student):
    assert as_student.get("/profile").headers.get("Cache-Control") != "no-store"
