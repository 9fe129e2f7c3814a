"""Position cutoffs that give no values (POLICY.md section 11), on every surface that shows grades.

"Position cutoffs not yet resolvable (no counted on-time submission yet): that competition's rows have window `none`
and no grade; every other competition is graded as usual. Cutoffs that come out out of order once positions are
resolved make that competition's grades unavailable with the reason shown to staff, never the whole course's."

The course: c1 with hw1, whose A cutoff is "top 10%", and hw2, value cutoffs (A 0.9, B 0.8, C 0.7, D 0.5), both
open, on time in 3 days. Before, hw1 made the whole gradebook, both exports, every student's "My grades", /api/me/grades
and `podium grades` answer 409, and finalising it failed on every pass of the scheduler.
"""
from __future__ import annotations

import csv
import html
import io
import logging
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from podium.models import AuditEvent, Competition, Submission
from podium.jobs import finalise_due
from podium.rules import FOR_STUDENTS, NOT_YET, OUT_OF_ORDER
from podium.services import competitions, export, finalisations, grading, users
from podium.services.courses import get_course, load_course
from tests.api.openapi_check import assert_matches_openapi
from tests.conftest import predictions, write_course
from tests.web.helpers import page, record, same_on_every_request

POSITIONS = '{ A = "top 10%", B = 0.7, C = 0.6, D = 0.5 }'
NOT_YET_FOR_STAFF = "cutoff A = 'top 10%' is a leaderboard position, read off the private leaderboard"


def right_on(public: int, private: int) -> str:
    """Predictions right on `public` of the 6 public rows and `private` of the 12 private ones."""
    return predictions(set(range(public)) | set(range(6, 6 + private)))


@pytest.fixture
def hw2(rt, course, tmp_path, now: datetime) -> int:
    """hw1's cutoffs made positions in the course file and hw2 added, loaded as `podium load` does; the student
    hands in a perfect hw2 before the early deadline (105: A, and the class best), the other student nothing."""
    folder = tmp_path / "courses"
    write_course(folder, now=now, competition="hw1", cutoffs=POSITIONS)
    write_course(folder, now=now, competition="hw2")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder / "c1")
        hw2_id = session.scalar(select(Competition.id).where(Competition.slug == "hw2"))
    record(rt, hw2_id, course.student, predictions(), at=now - timedelta(days=6))
    return hw2_id


def text(response) -> str:
    assert response.status_code == 200, page(response)[:500]
    return html.unescape(page(response))


def explanation_row(html_text: str, title: str) -> str:
    """The explanation under a competition's row of "My grades"."""
    row = html_text.split(f">{title}</a>", 1)[1]
    return re.search(r'<tr class="explain"><td colspan="7">(.*?)</td></tr>', row, re.S).group(1)


def long_rows(rt, **kwargs) -> list[dict]:
    with rt.db.session() as session:
        done = export.export_grades(session, get_course(session, "c1"), fmt="long", **kwargs)
    return list(csv.DictReader(io.StringIO(done.text)))


# --- no counted on-time submission yet ------------------------------------------------------------------------


def test_the_gradebook_leaves_the_competition_without_grades_and_grades_the_rest(as_staff, hw2):
    html_text = text(as_staff.get("/staff/c1/grades"))
    assert "<strong>hw1</strong>: No grades yet" in html_text and NOT_YET_FOR_STAFF in html_text
    assert "no student has a counted on-time submission yet" in html_text
    student = html_text.split("student@c1.test</a>", 1)[1].split("</tr>", 1)[0]
    # hw1: n/a in either policy's cell, with the reason; the total is over hw2 alone.
    assert student.count('class="num unavailable"') == 2 and student.count(">n/a<") == 2
    assert student.count(">105.0%<") == 2  # both totals: hw2's grade over hw2's weight


def test_the_staff_page_of_a_student_says_no_grade_and_why(as_staff, rt, course, hw2):
    with rt.db.session() as session:
        user_id = users.get_user(session, course.student).id
    html_text = text(as_staff.get(f"/staff/c1/students/{user_id}"))
    assert "n/a" in html_text and NOT_YET_FOR_STAFF in html_text
    assert "over the graded competitions only" in html_text


def test_the_long_export_has_window_none_and_empty_cells(rt, course, hw2):
    rows = {(r["email"], r["competition"]): r for r in long_rows(rt)}
    for email in (course.student, course.other):
        hw1 = rows[(email, "c1-hw1")]
        assert hw1["window"] == "none" and hw1["final_grade"] == hw1["raw_grade"] == hw1["submission_id"] == ""
        assert (hw1["slack_days_used"], hw1["slack_days_remaining"]) == ("0", "7")
    assert rows[(course.student, "c1-hw2")]["final_grade"] == "105.0000"
    assert rows[(course.other, "c1-hw2")]["final_grade"] == "0.0000"  # a real zero: nothing handed in


def test_the_canvas_export_leaves_the_cells_empty(rt, course, hw2):
    with rt.db.session() as session:
        done = export.export_grades(session, get_course(session, "c1"), fmt="canvas")
    lines = list(csv.reader(io.StringIO(done.text)))
    hw1_col = next(i for i, name in enumerate(lines[0]) if name.startswith("Homework hw1"))
    student = next(line for line in lines if line[3] == course.student)
    assert student[hw1_col] == ""
    assert done.ungraded == []  # a column held back from Canvas needs no reason of its own (canvas_notes give it)


def test_my_grades_says_not_yet_and_grades_the_rest(as_student, as_other, hw2):
    html_text = text(as_student.get("/courses/c1/grades"))
    assert explanation_row(html_text, "Homework hw1") == FOR_STUDENTS[NOT_YET]
    assert "not yet" in html_text and "over the graded competitions only" in html_text
    assert '<p class="big">105.0</p>' in html_text  # the total: hw2's
    assert explanation_row(text(as_other.get("/courses/c1/grades")), "Homework hw1") == FOR_STUDENTS[NOT_YET]


def test_the_rest_api_gives_null_and_the_reason(as_student, hw2):
    response = as_student.get("/api/me/grades")
    assert response.status_code == 200
    assert_matches_openapi(response, "/api/me/grades", "get")
    [course] = response.get_json()["courses"]
    hw1, hw2_row = course["competitions"]
    assert (hw1["competition"], hw1["window"], hw1["grade"], hw1["no_grade_reason"]) == (
        "c1-hw1", "none", None, FOR_STUDENTS[NOT_YET])
    assert (hw2_row["grade"], hw2_row["no_grade_reason"]) == (105.0, None)
    assert course["total"] == 105.0 and course["slack_remaining"] == 7


def test_podium_grades_says_it_on_stderr(podium_cli, course, hw2):
    exported = podium_cli("grades", "export", "c1")
    assert exported.exit_code == 0 and "c1-hw2" in exported.stdout
    assert f"note: c1-hw1: No grades yet: {NOT_YET_FOR_STAFF}" in exported.stderr
    canvas = podium_cli("grades", "export", "c1", "--format", "canvas")
    # Not released: the column is held (empty, read only) whatever its grades, and the warning says why.
    assert canvas.exit_code == 0 and "warning: c1-hw1: no grades yet" in canvas.stderr
    hw1 = podium_cli("grades", "explain", "c1-hw1", course.student)
    assert hw1.exit_code == 0 and hw1.stdout.startswith(f"No grades yet: {NOT_YET_FOR_STAFF}")
    hw2_explained = podium_cli("grades", "explain", "c1-hw2", course.student)
    assert hw2_explained.stdout.startswith("Counted: submission") and "note: c1-hw1" in hw2_explained.stderr
    balance = podium_cli("slack", "balance", "c1")
    assert balance.exit_code == 0 and f"{course.student}\t7\t0\t7" in balance.stdout and "note: c1-hw1" in balance.stderr


# --- cutoffs out of order ---------------------------------------------------------------------------------------


@pytest.fixture
def out_of_order(rt, course, hw2) -> dict[str, int]:
    """On time in hw1: the student 0.5 public and private, the other student 0.33 public and 0.25 private. A =
    "top 10%" is rank 1 of 2: 0.5 on either board, below B = 0.7."""
    return {"student": record(rt, course.comp_id, course.student, right_on(3, 6)),
            "other": record(rt, course.comp_id, course.other, right_on(2, 3))}


def test_staff_read_what_is_out_of_order_with_the_values(as_staff, out_of_order):
    html_text = text(as_staff.get("/staff/c1/grades"))
    assert "on the private leaderboard the cutoffs are out of order: A = 'top 10%' (0.5) is below B = 0.7" \
           in html_text
    assert "(resolved: A = 'top 10%' (0.5); B = 0.7; C = 0.6; D = 0.5)" in html_text
    student = html_text.split("student@c1.test</a>", 1)[1].split("</tr>", 1)[0]
    assert student.count(">n/a<") == 2 and student.count(">105.0%<") == 2  # the totals are hw2's


def test_the_exports_go_on_and_the_command_names_the_values(podium_cli, rt, course, out_of_order):
    rows = {(r["email"], r["competition"]): r for r in long_rows(rt)}
    assert rows[(course.student, "c1-hw1")]["final_grade"] == "" and rows[(course.student, "c1-hw1")]["window"] == "none"
    assert rows[(course.student, "c1-hw2")]["final_grade"] == "105.0000"
    result = podium_cli("grades", "export", "c1", "--format", "long")
    assert result.exit_code == 0
    assert "note: c1-hw1: No grades: on the private leaderboard the cutoffs are out of order: A = 'top 10%' " \
           "(0.5) is below B = 0.7" in result.stderr


def test_students_read_not_available_yet_and_no_value(as_student, rt, course, out_of_order):
    """Their reason is the neutral one, on the page and in the API, before and after release: it names no score,
    no position, no cutoff."""
    for released in (False, True):
        if released:
            with rt.db.session() as session:
                competitions.release(session, session.get(Competition, course.comp_id), actor=course.staff,
                                     override="released early for the test")
        html_text = text(as_student.get("/courses/c1/grades"))
        reason = explanation_row(html_text, "Homework hw1")
        assert reason == FOR_STUDENTS[OUT_OF_ORDER] and not re.search(r"\d", reason)
        [grades] = as_student.get("/api/me/grades").get_json()["courses"]
        hw1, hw2_row = grades["competitions"]
        assert (hw1["grade"], hw1["no_grade_reason"], hw1["explanation"]) == (None, FOR_STUDENTS[OUT_OF_ORDER],
                                                                              FOR_STUDENTS[OUT_OF_ORDER])
        assert hw2_row["grade"] == 105.0 and grades["total"] == 105.0


def test_a_student_cannot_tell_that_the_private_cutoffs_are_out_of_order(app, as_student, as_staff, rt, course, hw2):
    """On the public board A = "top 10%" is 1.0, in order; on the private one 0.5, out of order. The student's
    provisional grades come from the public board, and read the same once the private scores put A in order."""
    subs = [record(rt, course.comp_id, course.student, right_on(6, 6)),
            record(rt, course.comp_id, course.other, right_on(6, 3))]

    def student_reads() -> tuple[str, dict]:
        return (same_on_every_request(page(as_student.get("/courses/c1/grades"))),
                as_student.get("/api/me/grades").get_json())

    before = student_reads()
    assert "out of order" in text(as_staff.get("/staff/c1/grades"))
    assert before[1]["courses"][0]["competitions"][0]["grade"] is not None  # provisional, from public scores
    with rt.db.session() as session:
        for n, private in zip(subs, (0.95, 0.9)):
            session.get(Submission, n).private_score = private
    assert "out of order" not in text(as_staff.get("/staff/c1/grades"))
    assert student_reads() == before


# --- finalisation --------------------------------------------------------------------------------------------


@pytest.fixture
def closed(rt, course, hw2, now: datetime) -> None:
    """hw1 closed three days ago, nobody handed it in on time; the scheduler's grace has passed."""
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        comp.opens, comp.early, comp.ontime, comp.late = (
            now - timedelta(days=20), now - timedelta(days=15), now - timedelta(days=7), now - timedelta(days=3))


def hw1(rt, course) -> Competition:
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        session.expunge(comp)
        return comp


def audit(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_finalising_without_values_is_refused_with_what_to_do(rt, course, closed, podium_cli):
    with rt.db.session() as session, pytest.raises(competitions.CutoffsGiveNoValues) as refused:
        competitions.finalise(session, session.get(Competition, course.comp_id), actor=course.staff)
    assert refused.value.code == 409
    assert refused.value.message.startswith(f"c1-hw1 cannot be finalised: {NOT_YET_FOR_STAFF}")
    assert "Give the cutoffs as values instead" in refused.value.message
    result = podium_cli("finalise", "c1-hw1")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: c1-hw1 cannot be finalised: {NOT_YET_FOR_STAFF}")
    assert "Traceback" not in result.output
    assert hw1(rt, course).finalised_at is None and hw1(rt, course).resolved_cutoffs is None
    assert audit(rt, "competition.finalise") == []


def test_finalising_cutoffs_out_of_order_is_refused_with_the_values(rt, course, closed, now):
    record(rt, course.comp_id, course.student, right_on(3, 6), at=now - timedelta(days=8))
    with rt.db.session() as session, pytest.raises(competitions.CutoffsGiveNoValues, match=re.escape(
            "c1-hw1 cannot be finalised: on the private leaderboard the cutoffs are out of order: "
            "A = 'top 10%' (0.5) is below B = 0.7")):
        competitions.finalise(session, session.get(Competition, course.comp_id), actor=course.staff)
    assert hw1(rt, course).finalised_at is None


def test_the_scheduler_reports_it_once_and_finalises_once_the_cutoffs_are_fixed(rt, course, closed, podium_cli,
                                                                                 as_staff, caplog):
    caplog.set_level(logging.WARNING, logger="podium.jobs")
    assert finalise_due(rt, 300) == [] and finalise_due(rt, 300) == []
    [held] = audit(rt, finalisations.FINALISE_HELD)
    assert (held.actor, held.target) == ("scheduler", "c1-hw1")
    assert held.details["reason"].startswith(f"c1-hw1 cannot be finalised: {NOT_YET_FOR_STAFF}")
    assert [r.levelname for r in caplog.records if "c1-hw1" in r.getMessage()] == ["WARNING"]  # no traceback
    with rt.db.session() as session:
        [item] = [i for i in finalisations.upcoming(session, 300) if i.competition == "c1-hw1"]
    assert item.held == held.details["reason"]
    jobs = podium_cli("jobs", "--course", "c1")
    assert f"    not finalised: c1-hw1 cannot be finalised: {NOT_YET_FOR_STAFF}" in jobs.stdout
    assert "Not finalised:</strong> c1-hw1 cannot be finalised" in text(as_staff.get("/staff/c1/jobs"))
    # Staff give the cutoffs as values: the next pass finalises it, and it leaves the list.
    with rt.db.session() as session:
        session.get(Competition, course.comp_id).cutoffs = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}
    assert finalise_due(rt, 300) == ["c1-hw1"]
    assert hw1(rt, course).resolved_cutoffs == {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}
    with rt.db.session() as session:
        assert "c1-hw1" not in [i.competition for i in finalisations.upcoming(session, 300)]


def test_a_new_reason_is_reported_again(rt, course, closed, now):
    assert finalise_due(rt, 300) == []
    record(rt, course.comp_id, course.student, right_on(3, 6), at=now - timedelta(days=8))
    assert finalise_due(rt, 300) == [] and finalise_due(rt, 300) == []
    reasons = [e.details["reason"] for e in audit(rt, finalisations.FINALISE_HELD)]
    assert len(reasons) == 2 and "no student has a counted" in reasons[0] and "out of order" in reasons[1]


def test_an_extension_after_the_hold_takes_the_reason_off_the_list_until_it_is_due_again(rt, course, closed):
    assert finalise_due(rt, 300) == []
    with rt.db.session() as session:
        from podium.services import extensions

        extensions.grant(session, session.get(Competition, course.comp_id), users.get_user(session, course.other),
                         days=10, reason="illness", actor=course.staff)
    with rt.db.session() as session:
        [item] = [i for i in finalisations.upcoming(session, 300) if i.competition == "c1-hw1"]
    assert item.held is None


def test_the_other_competitions_grades_survive_a_held_finalisation(rt, course, closed):
    finalise_due(rt, 300)
    with rt.db.session() as session:
        reports = grading.gradebook(session, get_course(session, "c1"))
    student = next(r for r in reports if r.user.email == course.student)
    assert [(r.competition.slug, r.grade.graded) for r in student.rows] == [("hw1", False), ("hw2", True)]
    assert student.total == 105


def test_cutoffs_of_a_finalised_competition_changed_to_give_no_values_are_refused(rt, course, closed, podium_cli,
                                                                                  tmp_path):
    """Finalised with value cutoffs; the course folder still says "top 10%", with nobody on the final board."""
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        comp.cutoffs = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}
        assert competitions.finalise(session, comp, actor=course.staff)
    result = podium_cli("load", tmp_path / "courses" / "c1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: c1-hw1 is finalised, so its cutoffs are fixed from its final private "
                                    f"leaderboard, and these give no values there: {NOT_YET_FOR_STAFF}")
    assert hw1(rt, course).cutoffs == {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}
    assert hw1(rt, course).resolved_cutoffs == {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5}
