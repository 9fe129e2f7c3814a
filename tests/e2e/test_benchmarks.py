"""In Chromium: staff show their baseline as a benchmark from the staff submissions page; a student sees it
as a marked row on the board, downloads the board as CSV and edits the description of their own submission."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import sign_in
from tests.web.helpers import record


@pytest.mark.only_on("sqlite", why="what the browser shows does not depend on the database; the queries behind it "
                                   "are tested on both by tests/web/test_benchmarks.py and test_descriptions.py")
def test_staff_show_a_benchmark_students_see_it_download_the_board_and_edit_a_description(browser, site, rt):
    # The uploads themselves are the other browser tests' business: these are recorded and scored directly.
    with rt.db.session() as session:
        comp_id = get_competition(session, site.competition).id
    record(rt, comp_id, site.staff, predictions(set(range(4)) | set(range(6, 12))), name="baseline.csv",
           description="a majority vote")
    mine = record(rt, comp_id, site.student, predictions(), name="mine.csv")

    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff_console = Console(staff)
    sign_in(staff, site, site.staff)
    staff.goto(f"{site.url}/staff/{site.course}/submissions?competition={site.competition}")
    row = staff.locator("table.benchmarks tbody tr", has_text="a majority vote")
    row.get_by_label("Benchmark name").fill("Majority vote")
    row.get_by_role("button", name="Show as benchmark").click()
    expect(staff.locator(".flash-ok")).to_contain_text("Benchmark: Majority vote")
    expect(staff.locator("table.benchmarks")).to_contain_text("Take off the boards")
    shoot(staff, "staff-benchmarks")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(page)
    sign_in(page, site, site.student)
    page.goto(f"{site.url}/competitions/{site.competition}/leaderboard")
    expect(page.locator("tr.benchmark")).to_contain_text("Benchmark: Majority vote")
    expect(page.locator("tr.benchmark")).to_contain_text("0.66667")
    expect(page.locator(".your-rank")).to_contain_text("#1 of 1")  # the benchmark takes no rank
    shoot(page, "student-leaderboard-benchmark")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this board as CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0] == "rank,leaderboard_name,score,entries,last_improved"
    assert ",Benchmark: Majority vote,0.66667,," in text and "1,Overfitter,1.00000,1," in text

    page.goto(f"{site.url}/submissions/{mine}")
    page.fill("#description", "all ones, as a check")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator(".flash-ok")).to_contain_text("is saved")
    expect(page.locator("#description")).to_have_value("all ones, as a check")
    shoot(page, "student-submission-description")

    assert console.errors == [] and staff_console.errors == []
