"""In a real Chromium: "Sign in with Campus Login", the provider's own sign-in and consent pages (the real provider
of tests/oidc), and back on Podium signed in; a person no course has lands on the page that says how to join one."""
from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from podium.web import create_app
from tests.conftest import free_port
from tests.e2e.conftest import Console, shoot
from tests.oidc.conftest import CONTACT, oidc_environment, providers, rt  # noqa: F401 - fixtures
from tests.web.conftest import course, now  # noqa: F401 - fixtures


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def sign_on_settings(monkeypatch, providers, port):
    """Podium at a live address, set up for the main provider directly (the browser follows real redirects)."""
    oidc_environment(monkeypatch, f"{providers.main}/.well-known/openid-configuration",
                     base_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def site(rt, course, port):
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


def sign_in_at_the_provider(page, login: str, shots: str = "") -> None:
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    if shots:
        shoot(page, f"{shots}-provider-login")
    page.click("button[type=submit]")
    expect(page.locator("button[type=submit]")).to_have_text("Continue")  # the provider's consent page
    page.click("button[type=submit]")


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # The provider's development pages ask for web fonts, which this machine cannot fetch: refused at once rather
    # than after a name lookup.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    return context, context.new_page()


def test_signing_in_through_the_providers_own_pages(browser, site, course):
    context, page = new_page(browser)
    page.goto(f"{site}/courses/{course.slug}")  # sent to sign in first, and back here afterwards
    expect(page.get_by_role("link", name="Sign in with Campus Login")).to_be_visible()
    shoot(page, "sign-on-sign-in-page")
    page.get_by_role("link", name="Sign in with Campus Login").click()
    expect(page).not_to_have_url(re.compile(re.escape(site)))  # at the provider

    sign_in_at_the_provider(page, course.student, shots="sign-on")
    expect(page).to_have_url(f"{site}/courses/{course.slug}")
    expect(page.locator("nav.account .who")).to_have_text("Overfitter")
    shoot(page, "sign-on-signed-in")
    console = Console(page)  # Podium's page, not the provider's (whose development pages load web fonts)
    page.reload()
    expect(page.locator("nav.account .who")).to_have_text("Overfitter")  # the session stands
    assert console.errors == []
    context.close()

    # Someone no course has yet, in a browser of their own.
    context, page = new_page(browser)
    page.goto(f"{site}/sign-in")
    page.get_by_role("link", name="Sign in with Campus Login").click()
    sign_in_at_the_provider(page, "newcomer@uni.test")
    expect(page).to_have_url(f"{site}/no-course")
    expect(page.locator("h1")).to_have_text("You are not in a course yet")
    expect(page.locator("main")).to_contain_text(CONTACT)
    shoot(page, "sign-on-enrolled-nowhere")
    context.close()
