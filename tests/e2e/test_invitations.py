"""End to end in a real Chromium: a TA makes an invitation link and copies it; a newcomer enrolled nowhere opens it,
signs in, comes back to it, confirms, and lands in the course as a student."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from podium.models import User
from podium.services import users
from podium.web import create_app
from tests.e2e.conftest import PASSWORD, Console, shoot
from tests.e2e.test_browser import sign_in
from tests.web.conftest import build_course

NEWCOMER = "newcomer@c1.test"


@pytest.fixture
def site(rt, worlds, tmp_path, world_database):
    """The web tests' course (a copy of the world they share, so no course is loaded for this test alone), served."""
    course = worlds.copy_into(rt, tmp_path, "web course", build_course)
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", course=course.slug, staff=course.staff)
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


def test_a_newcomer_joins_through_a_link_a_ta_made(browser, site, rt):
    with rt.db.session() as session:
        newcomer = User(email=NEWCOMER, name="New Comer")
        users.set_password(newcomer, PASSWORD)
        session.add(newcomer)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    console = Console(page)

    sign_in(page, site, site.staff)
    page.goto(f"{site.url}/staff/{site.course}")
    page.click("nav.course-nav >> text=Invitations")
    page.fill("input[name=label]", "Section A")
    page.fill("input[name=domains]", "c1.test")
    page.click("#create button[type=submit]")
    link = page.locator("#invitation-link").inner_text()
    assert link.startswith("/join/")
    copy = page.locator("button.copy[data-copy=invitation-link]")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    shoot(page, "staff-invitations-new-link")
    page.click("form[action='/sign-out'] button")

    page.goto(f"{site.url}{link}")
    expect(page.locator("input[name=email]")).to_be_visible()  # sent to sign in first
    page.fill("input[name=email]", NEWCOMER)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    expect(page.locator("h1")).to_have_text("Join Course c1 as a student")
    shoot(page, "join-confirm")
    page.click("main form button[type=submit]")
    expect(page.locator(".flash-ok")).to_contain_text("You joined Course c1 as a student")
    shoot(page, "join-done")
    assert console.errors == []
    context.close()
