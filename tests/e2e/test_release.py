"""Release in a real Chromium (POLICY.md section 11): the staff member's Release button leads to a confirmation page
that says what students will see; confirmed after the late window, the student's board shows private scores.
During the late window the release is refused with what to wait for, and goes through only with an override and
its reason."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from podium.models import Competition
from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.e2e.conftest import Console, shoot
from tests.e2e.test_browser import sign_in
from tests.web.helpers import record


def right_on(public: int, private: int) -> str:
    return predictions(set(range(public)) | set(range(6, 6 + private)))


def scored(rt, site, *, closed: bool) -> None:
    """Two students' scored submissions whose public and private orders disagree; with `closed`, the competition's
    late deadline passed yesterday."""
    now = datetime.now(timezone.utc)
    with rt.db.session() as session:
        comp = get_competition(session, site.competition)
        if closed:
            comp.opens, comp.early, comp.ontime, comp.late = (now - timedelta(days=20), None, now - timedelta(days=3),
                                                              now - timedelta(days=1))
        comp_id, ontime = comp.id, comp.ontime
    at = ontime - timedelta(days=1) if closed else None
    record(rt, comp_id, site.student, right_on(3, 12), at=at)  # public 0.5, private 1.0
    record(rt, comp_id, site.rival, right_on(6, 3), at=at)  # public 1.0, private 0.25


def released(rt, site) -> bool:
    with rt.db.session() as session:
        return session.get(Competition, get_competition(session, site.competition).id).released_at is not None


def test_staff_confirm_the_release_and_the_student_sees_private_scores(browser, site, rt):
    scored(rt, site, closed=True)
    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(staff)
    sign_in(staff, site, site.staff)
    staff.goto(f"{site.url}/staff/competitions/{site.competition}")
    staff.click("#release-button")
    expect(staff.locator("#release h2")).to_have_text("Release the private leaderboard of Homework hw1?")
    will_see = staff.locator("ul.will-see")
    expect(will_see).to_contain_text("The private leaderboard: 2 of 2 students ranked")
    expect(will_see).to_contain_text("Their private scores")
    expect(will_see).to_contain_text("2 of 2 students' grades differ from what they read now")
    expect(will_see).to_contain_text("none changes")
    expect(staff.locator("#release-ready")).to_contain_text("Ready: every upload received by the last late deadline")
    expect(staff.locator("#override")).to_have_count(0)
    shoot(staff, "release-confirmation")
    assert not released(rt, site)  # the page only asks
    staff.click("#confirm-release")
    expect(staff.locator(".flash-ok")).to_contain_text("The private leaderboard is released to students.")
    assert released(rt, site)

    student = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(student, site, site.student)
    student.goto(f"{site.url}/competitions/{site.competition}/leaderboard")
    expect(student.locator(".board-switch a[aria-current=page]")).to_have_text("Private")
    expect(student.locator("tr.me")).to_contain_text("1.00000")  # first on the private board
    shoot(student, "release-student-private-board")
    assert console.errors == []


def test_a_release_during_the_late_window_is_refused_and_needs_an_override(browser, site, rt):
    scored(rt, site, closed=False)
    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console = Console(staff)
    sign_in(staff, site, site.staff)
    staff.goto(f"{site.url}/staff/competitions/{site.competition}")
    staff.click("#release-button")
    notice = staff.locator("#release-not-ready")
    expect(notice).to_contain_text("Not ready to release.")
    expect(notice).to_contain_text("the late window is open until")
    expect(staff.locator("#confirm-release")).to_have_text("Release early to students")
    staff.click("#confirm-release")  # without the override
    expect(staff.locator("#release-error")).to_contain_text("To release now, tick “Release early anyway”")
    shoot(staff, "release-refused")
    assert not released(rt, site)
    staff.check("#override")
    staff.click("#confirm-release")  # the override without a reason
    expect(staff.locator("#release-error")).to_contain_text("Give the reason for releasing early")
    expect(staff.locator("#override")).to_be_checked()
    staff.fill("#override-reason", "the solutions are discussed in class tomorrow")
    shoot(staff, "release-override")
    staff.click("#confirm-release")
    expect(staff.locator(".flash-ok")).to_contain_text("released to students early (the override is in the audit log)")
    assert released(rt, site)
    staff.goto(f"{site.url}/staff/{site.course}/audit")
    expect(staff.locator("body")).to_contain_text("the solutions are discussed in class tomorrow")
    shoot(staff, "release-audit")

    # The student's window is still open: an upload after the early release keeps its private score hidden.
    with rt.db.session() as session:
        comp_id = get_competition(session, site.competition).id
    hidden = record(rt, comp_id, site.student, right_on(6, 12))
    student = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(student, site, site.student)
    student.goto(f"{site.url}/competitions/{site.competition}/submissions")
    row = student.locator("table.submissions tbody tr", has=student.locator(f"a[href='/submissions/{hidden}']"))
    expect(row.locator("td[data-label=Private]")).to_contain_text("after")
    expect(student.locator("#private-hidden-note")).to_contain_text("appears once your late deadline has passed")
    shoot(student, "release-early-student-submissions")
    student.goto(f"{site.url}/submissions/{hidden}")
    expect(student.locator("[data-field=private_score]")).to_contain_text("shown once your late deadline has passed")
    shoot(student, "release-early-student-submission")
    # The two refusals are answered 409 and 422, which the browser logs; nothing else may be.
    assert [e for e in console.errors if not ("status of 409" in e or "status of 422" in e)] == []
