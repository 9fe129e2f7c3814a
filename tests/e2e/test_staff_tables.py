"""The staff pages of a course of 400 students in a real Chromium: the People page searched, sorted, paged and a
student unenrolled through its confirmation page; the overview's "copy their emails"; and screenshots of every
staff table (tests/e2e/artifacts/staff-400-*.png) for a person to look at."""
from __future__ import annotations

import re
import threading
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from podium.web import create_app
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import sign_in
from tests.web.big_course import STUDENTS, build_big_course, email, name


@pytest.fixture
def big_site(rt, worlds, tmp_path, world_database):
    big = worlds.copy_into(rt, tmp_path, "course of 400", build_big_course)
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", big
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["podium.scoring"].shutdown(wait=True)


def rows(page):
    return page.locator("table.people tbody tr")


def test_people_of_a_course_of_400_searched_sorted_paged_and_one_unenrolled(browser, big_site):
    url, big = big_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)
    sign_in(page, SimpleNamespace(url=url), big.ta)
    people = f"{url}/staff/{big.slug}/people"
    page.goto(people)
    expect(page.locator(".pager .count")).to_have_text(f"1–50 of {STUDENTS + 2} people")
    expect(rows(page)).to_have_count(50)
    shoot(page, "staff-400-people")

    # Sorted by name, both ways: the header says which way to screen readers.
    page.get_by_role("link", name=re.compile("^Name")).click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Name")
    expect(rows(page).first).to_contain_text("Course Assistant")  # "C" before "S"
    page.get_by_role("link", name=re.compile("^Name")).click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
    last = max(range(STUDENTS), key=name)
    expect(rows(page).first).to_contain_text(email(last))

    # Paged: the next page, then the last, keeping the order.
    page.get_by_role("link", name="next →").click()
    expect(page.locator(".pager .count")).to_have_text(f"51–100 of {STUDENTS + 2} people")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
    page.get_by_role("link", name="page 9").click()
    expect(page.locator(".pager .count")).to_have_text(f"401–402 of {STUDENTS + 2} people")
    expect(rows(page)).to_have_count(2)

    # Searched: one student among 400.
    page.fill("input[type=search]", "student123")
    page.get_by_role("button", name="Search").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(email(123))
    expect(page.locator(".pager .count")).to_have_text("1–1 of 1 people")

    # Unenrolled through the confirmation page: cancelling changes nothing, confirming takes them out.
    rows(page).first.get_by_role("link", name=f"Unenrol {email(123)}").click()
    expect(page.locator("h1")).to_contain_text("Unenrol Student")
    expect(page.locator(".consequences")).to_contain_text("their 2 submissions in this course")
    shoot(page, "staff-400-unenrol-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(rows(page)).to_have_count(1)  # back to the search it came from
    rows(page).first.get_by_role("link", name=f"Unenrol {email(123)}").click()
    page.click("#confirm-unenrol")
    expect(page.locator(".flash-ok")).to_contain_text(f"{email(123)} is no longer enrolled in {big.slug}")
    expect(page.locator("table.people")).to_contain_text("Nobody matches.")
    page.goto(people)
    expect(page.locator(".pager .count")).to_have_text(f"1–50 of {STUDENTS + 1} people")
    assert console.errors == []


def test_the_overview_copies_the_emails_behind_its_count(browser, big_site):
    url, big = big_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    console = Console(page)
    sign_in(page, SimpleNamespace(url=url), big.ta)
    page.goto(f"{url}/staff/{big.slug}")
    cell = page.locator("td.early").first
    expect(cell.get_by_role("link")).to_have_text(re.compile(r"^\d+ missed it$"))
    cell.get_by_role("button", name="Copy their emails").click()
    expect(cell.get_by_role("button")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert email(300) in copied and email(3) in copied and email(1) not in copied
    shoot(page, "staff-400-overview")
    cell.get_by_role("link").click()
    expect(page.locator("textarea#missed-emails")).to_have_value(re.compile(re.escape(email(300))))
    shoot(page, "staff-400-missed-early")
    assert console.errors == []


def test_screenshots_of_the_staff_tables_of_a_course_of_400(browser, big_site):
    url, big = big_site
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(page)
    sign_in(page, SimpleNamespace(url=url), big.ta)
    for path, shot in (("grades", "grades"), ("grades?page=8", "grades-not-yet"), ("slack", "slack"),
                       ("submissions", "submissions"), ("audit", "audit")):
        page.goto(f"{url}/staff/{big.slug}/{path}")
        expect(page.locator(".pager .count").first).to_contain_text("–")
        shoot(page, f"staff-400-{shot}")
    assert console.errors == []


def test_a_refused_staff_form_comes_back_beside_itself_with_what_was_typed(browser, big_site):
    url, big = big_site
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(page)
    sign_in(page, SimpleNamespace(url=url), big.ta)
    page.goto(f"{url}/staff/{big.slug}/extensions")
    page.fill("#grant input[name=email]", email(5))
    page.fill("#grant input[name=until]", "2001-01-01T12:00:00")
    page.fill("#grant input[name=reason]", "a typed reason")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator("#error-grant")).to_contain_text(
        "The new on-time deadline must be after the competition's on-time deadline")
    expect(page.locator("#grant input[name=email]")).to_have_value(email(5))
    expect(page.locator("#grant input[name=reason]")).to_have_value("a typed reason")
    expect(page.locator("#grant input[name=until]")).to_have_attribute("aria-invalid", "true")
    assert page.url.endswith("#grant")
    shoot(page, "staff-400-extension-refused")
    assert [e for e in console.errors if "status of 422" not in e] == []  # the page itself answers 422
