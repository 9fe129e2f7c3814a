"""Release of a private board is a decision (POLICY.md section 11): the button leads to a confirmation page that says
what students will see; the release is refused before the last effective late deadline (extensions included) and
while uploads received by then are unscored, unless overridden with a reason, which is audited; and the grades of
other released competitions it changes through the slack chain are listed in its audit entry and shown to the
students beside the grade."""
from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from podium.models import AuditEvent, Competition, GradeChange, Submission
from podium.services import competitions, extensions, regrades, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import predictions, write_course
from tests.web.helpers import page, record

CID = "c1-hw1"
RELEASE = f"/staff/competitions/{CID}/release"
CONFIRM = {"confirm": "yes"}


def right_on(public: int, private: int) -> str:
    """Predictions right on `public` of the 6 public rows and `private` of the 12 private ones."""
    return predictions(set(range(public)) | set(range(6, 6 + private)))


def set_schedule(rt, comp_id: int, now: datetime, *, ontime: timedelta, late: timedelta) -> None:
    """The competition's deadlines relative to `now` (opens 20 days before, no early deadline)."""
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        comp.opens, comp.early, comp.ontime, comp.late = now - timedelta(days=20), None, now + ontime, now + late


def words(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def released_at(rt, public_id: str = CID):
    with rt.db.session() as session:
        return get_competition(session, public_id).released_at


def release_events(rt) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "competition.release")))


@pytest.fixture
def closed(rt, course, now):
    """hw1 closed a day ago (late window over), every upload scored: ready to release."""
    set_schedule(rt, course.comp_id, now, ontime=-timedelta(days=3), late=-timedelta(days=1))
    ontime = now - timedelta(days=3)
    record(rt, course.comp_id, course.student, right_on(6, 3), at=ontime - timedelta(days=1))
    record(rt, course.comp_id, course.other, right_on(3, 12), at=ontime - timedelta(days=2))
    return course


# --- the confirmation page -----------------------------------------------------------------------------------


def test_the_release_button_leads_to_a_confirmation_page_that_says_what_students_will_see(as_staff, rt, closed):
    settings = page(as_staff.get(f"/staff/competitions/{CID}"))
    assert re.search(rf'<a class="button danger" id="release-button" href="{RELEASE}"', settings)
    assert f'action="{RELEASE}"' not in settings  # no form releases from the settings page in one click
    text = words(page(as_staff.get(RELEASE)))
    assert "Release the private leaderboard of Homework hw1?" in text
    assert "<strong>The private leaderboard</strong>: 2 of 2 students ranked" in text
    assert "<strong>Their private scores</strong>: each student the private score of every one" in text
    # From private scores the two students change places: both grades differ from the provisional ones.
    assert ("<strong>Their final grades in this competition</strong>, computed from private scores instead of the "
            "provisional ones from public scores: 2 of 2 students' grades differ from what they read now") in text
    assert "<strong>Grades of other released competitions</strong> (the slack chain): none changes" in text
    assert 'id="release-ready"' in text and 'name="override"' not in text
    assert released_at(rt) is None  # reading the page changes nothing
    assert as_staff.form(RELEASE).headers["Location"] == RELEASE  # no confirmation: the page again
    assert released_at(rt) is None


def test_confirming_releases_once_with_one_audit_entry(as_staff, as_student, rt, closed):
    response = as_staff.form(RELEASE, CONFIRM)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/competitions/{CID}/leaderboard?board=private")
    assert "released to students." in page(as_staff.get(response.headers["Location"]))
    assert released_at(rt) is not None
    assert as_student.get(f"/competitions/{CID}/leaderboard?board=private").status_code == 200
    [event] = release_events(rt)
    assert (event.actor, event.target, event.details["changes"]) == (closed.staff, CID, [])
    assert "override" not in event.details
    as_staff.form(RELEASE, CONFIRM)
    assert len(release_events(rt)) == 1
    assert "Already released" in page(as_staff.get(RELEASE))


def test_students_may_neither_see_the_page_nor_release(as_student, rt, closed):
    assert as_student.get(RELEASE).status_code == 403
    assert as_student.form(RELEASE, {**CONFIRM, "override": "1", "reason": "me"}).status_code == 403
    assert released_at(rt) is None and release_events(rt) == []


# --- refused before the last effective late deadline, or with uploads unscored -----------------------------


def test_during_the_late_window_the_release_is_refused_and_says_what_to_wait_for(as_staff, rt, course, now):
    set_schedule(rt, course.comp_id, now, ontime=-timedelta(days=1), late=timedelta(days=2))
    text = page(as_staff.get(RELEASE))
    assert "Not ready to release." in text and "the late window is open until" in text
    assert 'name="override"' in text and 'name="reason"' in text
    response = as_staff.form(RELEASE, CONFIRM)
    refused = page(response)
    assert response.status_code == 409 and "Not released." in refused
    assert re.search(r"It is not ready \(see above\)\. To release now, tick “Release early anyway” and give the "
                     r"reason; otherwise wait until \d{4}-\d\d-\d\d [^.]+\.", refused)
    assert re.search(r"<li>the late window is open until \d{4}-\d\d-\d\d [^<]+</li>", refused)
    assert released_at(rt) is None and release_events(rt) == []


def test_an_override_needs_a_reason_and_keeps_what_was_typed(as_staff, rt, course, now):
    set_schedule(rt, course.comp_id, now, ontime=-timedelta(days=1), late=timedelta(days=2))
    response = as_staff.form(RELEASE, {**CONFIRM, "override": "1", "reason": "   "})
    text = page(response)
    assert response.status_code == 422 and "Give the reason for releasing early" in text
    assert re.search(r'<input type="checkbox" name="override" value="1" id="override" checked>', text)
    response = as_staff.form(RELEASE, {**CONFIRM, "reason": "the exam is tomorrow"})  # a reason, box not ticked
    text = page(response)
    assert response.status_code == 409 and ">the exam is tomorrow</textarea>" in text
    assert released_at(rt) is None and release_events(rt) == []


def test_an_override_releases_early_and_the_audit_entry_says_who_why_and_what_was_open(as_staff, rt, course, now):
    set_schedule(rt, course.comp_id, now, ontime=-timedelta(days=1), late=timedelta(days=2))
    waiting = _unscored_upload(rt, course, at=now - timedelta(hours=2))
    response = as_staff.form(RELEASE, {**CONFIRM, "override": "1", "reason": "solutions are discussed in class"})
    assert response.status_code == 302
    assert "released to students early (the override is in the audit log)" in page(
        as_staff.get(response.headers["Location"]))
    [event] = release_events(rt)
    details = event.details
    assert event.actor == course.staff and details["override"] == "solutions are discussed in class"
    assert details["unscored"] == 1 and details["late_window_open_until"].endswith("Z")
    assert re.fullmatch(r"the late window is open until [^;]+; 1 upload received by then is not scored yet",
                        details["still_open"])
    assert "competition.release" in page(as_staff.get("/staff/c1/audit"))
    submissions.score(rt.db, rt.settings, waiting)


def test_an_extension_keeps_the_window_open_and_the_refusal_names_the_student(rt, closed, now):
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        extensions.grant(session, comp, users.get_user(session, closed.student), days=3, reason="ill", actor="t")
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        with pytest.raises(competitions.ReleaseRefused) as refused:
            competitions.release(session, comp, actor=closed.staff)
        extended_late = comp.late + timedelta(days=3)
        assert competitions.plan_release(session, comp).readiness.last_late == extended_late
    assert "the late window of 1 student with an extension is still open (student@c1.test until" in str(refused.value)
    assert released_at(rt) is None
    with rt.db.session() as session:  # once that student's window has closed, no override is needed
        assert competitions.release(session, get_competition(session, CID), actor=closed.staff,
                                    now=extended_late + timedelta(seconds=1))
    [event] = release_events(rt)
    assert "override" not in event.details


def test_an_early_release_over_an_extension_names_the_student_in_its_audit_entry(rt, closed):
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        extensions.grant(session, comp, users.get_user(session, closed.student), days=3, reason="ill", actor="t")
    with rt.db.session() as session:
        assert competitions.release(session, get_competition(session, CID), actor=closed.staff,
                                    override="grades are due").early
    [event] = release_events(rt)
    assert event.details["override"] == "grades are due" and event.details["unscored"] == 0
    assert event.details["still_open"].startswith("the late window of 1 student with an extension is still open")
    [extended] = event.details["extended"]
    assert re.fullmatch(r"student@c1\.test until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", extended)


def test_uploads_received_in_time_but_unscored_hold_the_release_back(rt, closed, now):
    waiting = _unscored_upload(rt, closed, at=now - timedelta(days=2))
    with rt.db.session() as session:
        with pytest.raises(competitions.ReleaseRefused) as refused:
            competitions.release(session, get_competition(session, CID), actor=closed.staff)
    assert "1 upload received by then is not scored yet" in str(refused.value)
    assert "until every upload received by then is scored" in str(refused.value)
    submissions.score(rt.db, rt.settings, waiting)
    with rt.db.session() as session:
        assert competitions.release(session, get_competition(session, CID), actor=closed.staff)


def _unscored_upload(rt, course, *, at: datetime) -> int:
    with rt.db.session() as session:
        student = users.get_user(session, course.student).id
    return submissions.receive(rt.db, rt.settings, course.comp_id, student, io.BytesIO(predictions().encode()),
                               "late.csv", at=at).id


# --- the slack chain -----------------------------------------------------------------------------------------


@dataclass
class Chain:
    hw1: int
    hw2: int
    auth: dict[str, str]


@pytest.fixture
def chain(rt, course, now, tmp_path) -> Chain:
    """Two competitions and a one-day slack budget. hw1 (not released, closed) has the student's marked on-time
    submission (public 1.0, private 0.25) and a day-late one (public 0.0, private 1.0); hw2 (later, released) has the
    student's day-late submission. Read with public scores, hw1 counts the on-time one and hw2 spends the slack day;
    once hw1's private scores count, hw1 spends it, and hw2's submission becomes late: 100 -> 90."""
    folder = write_course(tmp_path / "courses", competition="hw2")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        c1 = get_course(session, "c1")
        c1.policy = {**c1.policy, "slack_days": 1}
        hw2 = get_competition(session, "c1-hw2").id
        key = users.issue_api_key(session, users.get_user(session, course.student))
    set_schedule(rt, course.comp_id, now, ontime=-timedelta(days=7), late=-timedelta(days=3))
    set_schedule(rt, hw2, now, ontime=-timedelta(days=5), late=-timedelta(days=1))
    hw1_ontime, hw2_ontime = now - timedelta(days=7), now - timedelta(days=5)
    on_time = record(rt, course.comp_id, course.student, right_on(6, 3), at=hw1_ontime - timedelta(days=1))
    record(rt, course.comp_id, course.student, right_on(0, 12), at=hw1_ontime + timedelta(hours=20))
    record(rt, hw2, course.student, right_on(6, 12), at=hw2_ontime + timedelta(hours=20))
    with rt.db.session() as session:
        session.get(Submission, on_time).selected = True
        session.get(Competition, hw2).released_at = now - timedelta(hours=1)
    return Chain(course.comp_id, hw2,
                 {"Authorization": "Basic " + base64.b64encode(f"{course.student}:{key}".encode()).decode()})


def test_the_confirmation_page_lists_the_grades_the_slack_chain_changes(as_staff, rt, chain):
    with rt.db.session() as session:
        plan = competitions.plan_release(session, get_competition(session, CID))
    assert plan.chain_changes == [regrades.Change("student@c1.test", "c1-hw2", 100.0, 90.0)]
    text = page(as_staff.get(RELEASE))
    assert "1 grade change, listed below" in text
    assert re.search(r"<tr><td>student@c1.test</td><td><code>c1-hw2</code></td>\s*<td class=\"num\">100.0</td>\s*"
                     r"<td class=\"num\">90.0</td></tr>", text)


def test_the_release_lists_every_grade_it_changed_and_the_student_sees_the_reason(as_staff, as_student, client,
                                                                                   rt, chain):
    assert as_staff.form(RELEASE, CONFIRM).status_code == 302
    [event] = release_events(rt)  # one entry: the release lists the changes itself
    assert event.target == CID and event.details["reason"] == "release of Homework hw1"
    assert event.details["changes"] == [{"email": "student@c1.test", "competition": "c1-hw2", "old": 100.0,
                                         "new": 90.0}]
    with rt.db.session() as session:
        [row] = session.scalars(select(GradeChange)).all()
        assert (row.competition_id, row.old_final, row.new_final, row.audit_event_id) == (chain.hw2, 100.0, 90.0,
                                                                                          event.id)
    grades = page(as_student.get("/courses/c1/grades"))
    assert re.search(r'<span class="grade-change">Changed from 100.0 to 90.0: release of Homework hw1, on <time[^>]*>'
                     r'[^<]*</time></span>', grades)
    assert grades.count('class="grade-change"') == 1
    [course] = client.get("/api/me/grades", headers=chain.auth).get_json()["courses"]
    by_id = {row["competition"]: row for row in course["competitions"]}
    assert by_id["c1-hw1"]["change"] is None
    change = by_id["c1-hw2"]["change"]
    assert (change["old"], change["new"], change["reason"]) == (100.0, 90.0, "release of Homework hw1")
    assert change["at"].endswith("Z") and by_id["c1-hw2"]["grade"] == pytest.approx(90.0)


def test_a_change_recorded_for_a_competition_not_released_is_not_shown(as_student, client, rt, chain):
    """A regrade's change of a grade students still read provisionally, from public scores, means nothing to them."""
    with rt.db.session() as session:
        course = get_course(session, "c1")
        regrades.record(session, course, [regrades.Change("student@c1.test", CID, 50.0, 60.0)], reason="regrade: test",
                        actor="t", action="grades.regrade")
    assert 'class="grade-change"' not in page(as_student.get("/courses/c1/grades"))
    [course] = client.get("/api/me/grades", headers=chain.auth).get_json()["courses"]
    assert all(row["change"] is None for row in course["competitions"])


def test_a_competition_whose_cutoffs_cannot_be_resolved_yet_holds_no_release_back(as_staff, rt, closed, tmp_path,
                                                                                  now):
    """hw2 has a position cutoff and no submission yet: grades of the course may not be computable, but releasing
    hw1 is not held back by it."""
    folder = write_course(tmp_path / "courses", competition="hw2",
                          cutoffs='{ A = "top 10%", B = 0.8, C = 0.7, D = 0.5 }')
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
    set_schedule(rt, closed.comp_id, now, ontime=-timedelta(days=3), late=-timedelta(days=1))  # as loading reset it
    assert as_staff.get(RELEASE).status_code == 200
    assert as_staff.form(RELEASE, CONFIRM).status_code == 302
    assert released_at(rt) is not None and len(release_events(rt)) == 1
