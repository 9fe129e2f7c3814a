"""Charts in a real Chromium: drawn inline in the page under its content security policy (nothing blocked, nothing
fetched), their numbers one click away in a table the picture names as its description, and fitting a phone."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import sign_in
from tests.web.helpers import record


@pytest.mark.only_on("sqlite", why="what the browser draws and lays out; the numbers behind it are tested on both "
                                   "databases by tests/web/test_charts.py")
def test_charts_are_drawn_in_the_page_with_their_numbers_and_fit_a_phone(browser, site, rt):
    with rt.db.session() as session:
        comp_id = get_competition(session, site.competition).id
    record(rt, comp_id, site.student, predictions())
    record(rt, comp_id, site.rival, predictions(set(range(3))))  # public 0.5

    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff_console = Console(staff)
    sign_in(staff, site, site.staff)
    staff.goto(f"{site.url}/staff/competitions/{site.competition}")
    charts = staff.locator("figure.chart-figure svg[role=img]")
    expect(charts).to_have_count(3)  # the public and private distributions, submissions per hour
    for chart in charts.all():
        assert chart.bounding_box()["width"] > 400
        expect(staff.locator(f"#{chart.get_attribute('aria-describedby')}")).to_be_attached()
    numbers = staff.locator("details.chart-numbers").first
    expect(numbers.locator("table")).not_to_be_visible()
    numbers.locator("summary").click()
    expect(numbers.locator("table")).to_be_visible()
    expect(numbers.locator("tbody tr").last).to_be_visible()
    shoot(staff, "charts-staff-competition")
    staff.goto(f"{site.url}/staff/{site.course}")
    expect(staff.locator("figure.chart-figure svg")).to_have_count(1)
    shoot(staff, "charts-staff-overview")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    console = Console(phone)
    sign_in(phone, site, site.student)
    for path, name in ((f"/competitions/{site.competition}/leaderboard", "charts-phone-leaderboard"),
                       (f"/competitions/{site.competition}/submissions", "charts-phone-submissions")):
        phone.goto(site.url + path)
        chart = phone.locator("figure.chart-figure svg")
        expect(chart).to_be_visible()
        assert 300 < chart.bounding_box()["width"] <= 390
        phone.locator("details.chart-numbers summary").click()
        expect(phone.locator("details.chart-numbers table")).to_be_visible()
        shoot(phone, name)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    assert phone.evaluate("performance.getEntriesByType('resource').every(r => !r.name.includes('/charts/'))")
    assert console.errors == [] and staff_console.errors == []  # a blocked attribute or style would be here
