"""End to end in a real Chromium: a student signs in, uploads through the page (progress bar, then the score without
a reload), marks the submission final; a staff member releases the private board; the student sees it and the grade.
The same core actions also work with JavaScript switched off."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import predictions
from tests.e2e.conftest import PASSWORD, Console, shoot

WAIT_MS = 60_000


def sign_in(page, site, email: str) -> None:
    page.goto(f"{site.url}/sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    expect(page.locator("nav.account .who")).to_be_visible()


def upload(page, site, content: str, name: str) -> None:
    page.goto(f"{site.url}/competitions/{site.competition}/submit")
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": content.encode()}])
    page.fill("textarea[name=description]", f"{name} from the browser")
    page.click("#submit-button")


def test_student_submits_marks_final_and_sees_the_released_board_and_grade(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    console = Console(page)

    sign_in(page, site, site.rival)
    upload(page, site, predictions(set(range(4)) | set(range(6, 12))), "rival.csv")
    expect(page.locator("#public-score")).to_have_text(re.compile(r"Public score: 0\.66667"), timeout=WAIT_MS)
    page.click("form[action='/sign-out'] button")

    sign_in(page, site, site.student)
    page.goto(f"{site.url}/courses/{site.course}")
    expect(page.locator(".next-deadline .countdown")).to_have_text(re.compile(r"^in \d+ days? \d\d:\d\d:\d\d$"))
    expect(page.locator(".yours").first).to_contain_text("your time:")  # Berlin differs from New York
    shoot(page, "student-course")
    page.goto(f"{site.url}/competitions/{site.competition}")
    expect(page.locator(".timeline li")).to_have_count(4)
    shoot(page, "student-competition")

    upload(page, site, predictions(), "mine.csv")
    expect(page.locator("#upload-status")).to_be_visible()
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100", timeout=WAIT_MS)
    expect(page.locator("#public-score")).to_have_text("Public score: 1.00000", timeout=WAIT_MS)
    assert page.url.endswith("/submit")  # the score arrived without leaving or reloading the page
    shoot(page, "student-submit-scored")

    page.goto(f"{site.url}/competitions/{site.competition}/submissions")
    row = page.locator("table.submissions tbody tr", has_text="mine.csv")
    row.get_by_role("button", name="Mark final").click()
    expect(page.locator(".flash-ok")).to_contain_text("marked as final")
    expect(page.locator("table.submissions tbody tr", has_text="mine.csv")).to_contain_text("★ final")
    expect(page.locator(".groups")).to_contain_text("On time: 1 of 2 marked")
    shoot(page, "student-submissions")

    page.goto(f"{site.url}/competitions/{site.competition}/leaderboard")
    expect(page.locator("tr.me")).to_contain_text("Overfitter")
    expect(page.locator("text=Private: shown when the course staff release it")).to_be_visible()
    shoot(page, "student-leaderboard-public")

    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff_console = Console(staff)
    sign_in(staff, site, site.staff)
    staff.goto(f"{site.url}/staff/competitions/{site.competition}")
    shoot(staff, "staff-competition")
    staff.click("#release-button")  # the late window is open: the confirmation page asks for an override
    staff.check("#override")
    staff.fill("#override-reason", "released early to show the board")
    staff.click("#confirm-release")
    expect(staff.locator(".flash-ok")).to_contain_text("released to students")
    expect(staff.locator("table.board")).to_contain_text(site.student)  # staff see emails
    shoot(staff, "staff-leaderboard-private")
    staff.goto(f"{site.url}/staff/{site.course}")
    shoot(staff, "staff-overview")
    staff.goto(f"{site.url}/staff/{site.course}/grades")
    shoot(staff, "staff-grades")

    page.goto(f"{site.url}/competitions/{site.competition}/leaderboard")
    expect(page.locator(".board-switch a[aria-current=page]")).to_have_text("Private")
    expect(page.locator("tr.me")).to_contain_text("1.00000")
    expect(page.locator("table.board")).not_to_contain_text(site.rival)  # students see leaderboard names only
    shoot(page, "student-leaderboard-private")
    page.goto(f"{site.url}/courses/{site.course}/grades")
    expect(page.locator("tr.explain").first).to_contain_text("Counted: submission")
    expect(page.locator("table.grades")).to_contain_text("on-time")
    shoot(page, "student-grades")

    assert console.errors == [] and staff_console.errors == []


def test_core_actions_work_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, site, site.student)
    page.goto(f"{site.url}/competitions/{site.competition}/submit")
    page.set_input_files("#file", files=[{"name": "plain.csv", "mimeType": "text/csv",
                                          "buffer": predictions().encode()}])
    page.click("#submit-button")
    expect(page.locator("#submission h2")).to_contain_text("Submission")  # the plain form led to the submission
    for _ in range(60):  # no script: the student reloads until the score is there
        if page.locator(".status-scored").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("[data-field=public_score]")).to_have_text("1.00000")
    shoot(page, "phone-nojs-submission")
    page.goto(f"{site.url}/competitions/{site.competition}/submissions")
    page.get_by_role("button", name="Mark final").first.click()
    expect(page.locator(".mark-on").first).to_contain_text("final")
    shoot(page, "phone-nojs-submissions")


def test_pages_fit_a_phone(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    console = Console(page)
    sign_in(page, site, site.student)
    for path, name in ((f"/courses/{site.course}", "phone-course"),
                       (f"/competitions/{site.competition}", "phone-competition"),
                       (f"/competitions/{site.competition}/submit", "phone-submit"),
                       (f"/competitions/{site.competition}/leaderboard", "phone-leaderboard")):
        page.goto(site.url + path)
        shoot(page, name)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    assert console.errors == []
