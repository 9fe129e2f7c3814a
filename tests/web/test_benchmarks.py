"""Benchmark rows and the leaderboard's CSV download: staff name a staff member's submission (never a student's), the
boards show it placed by its score without taking a rank from students, grades never read it, and the CSV holds
what the page shows its reader, formula-safe."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import select

from podium.cli import cli
from podium.models import AuditEvent, Competition, Submission
from podium.services import accounts, benchmarks, competitions, grading, leaderboards, users
from podium.services.courses import get_course
from tests.conftest import predictions
from tests.web.helpers import PASSWORD, page, record

# Public rows are ids 0..5, private rows 6..17.
STUDENT = predictions(set(range(17)))  # public 1.0, private 11/12 = 0.91667: beyond the A cutoff (0.9), a bonus
OTHER = predictions({0, 1, 2, 3, 6, 7, 8, 9, 10})  # public 0.66667, private 0.41667
BASELINE = predictions(set(range(5)) | set(range(6, 15)))  # public 0.83333, private 0.75


def board_lines(text: str) -> list[str]:
    """The board from top to bottom: leaderboard names, "Benchmark: NAME" and the cutoff marks ("A cutoff")."""
    body = text[text.index("<tbody>"):text.index("</tbody>")]
    out = []
    for row in re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S):
        if 'class="benchmark"' in row:
            out.append("Benchmark: " + re.sub(r"<[^>]+>", "", row.split("</span>", 1)[1].split("</td>")[0]).strip())
        elif mark := re.search(r'class="name"[^>]*>([A-F]) cutoff', row):
            out.append(f"{mark.group(1)} cutoff")
        elif name := re.search(r'<td class="num rank">\d+</td>(?:<td class="num">.*?</td>)?<td>([^<]+)', row):
            out.append(name.group(1).strip())
    return out


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def named_baseline(rt, course, name: str = "Baseline") -> int:
    sub_id = record(rt, course.comp_id, course.staff, BASELINE, description="logistic regression")
    with rt.db.session() as session:
        benchmarks.name_submission(session, sub_id, name, by=users.get_user(session, course.instructor),
                                   actor=course.instructor)
    return sub_id


def release(rt, course) -> None:
    with rt.db.session() as session:
        competitions.release(session, session.get(Competition, course.comp_id), actor=course.staff,
                             override="early, for the test")


def test_a_benchmark_is_placed_by_its_score_and_takes_no_rank_from_students(as_other, as_staff, rt, course):
    record(rt, course.comp_id, course.student, STUDENT)
    record(rt, course.comp_id, course.other, OTHER)
    sub_id = named_baseline(rt, course)

    text = page(as_other.get(f"/competitions/{course.public_id}/leaderboard"))
    assert board_lines(text) == ["Overfitter", "A cutoff", "Benchmark: Baseline", "B cutoff", "C cutoff",
                                 "Underfitter", "D cutoff"]
    assert "You are <strong>#2</strong> of 2" in text and "2 students." in text  # the benchmark took no rank
    assert "0.83333" in text and "0.75000" not in text  # its public score; nothing private before release
    assert f"/submissions/{sub_id}" not in text and course.staff not in text
    staff_text = page(as_staff.get(f"/competitions/{course.public_id}/leaderboard"))
    assert f'<a href="/submissions/{sub_id}">Baseline</a>' in staff_text  # staff reach the submission from its row

    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        rows = leaderboards.public_board(session, comp)
        assert [(r.rank, r.name) for r in rows] == [(1, "Overfitter"), (2, "Underfitter")]
        assert leaderboards.benchmarks_for(session, comp, "private", staff=True)[0].score == 0.75

    private = page(as_staff.get(f"/competitions/{course.public_id}/leaderboard?board=private"))
    assert [n for n in board_lines(private) if "cutoff" not in n] == ["Overfitter", "Benchmark: Baseline",
                                                                      "Underfitter"]
    assert "0.75000" in private  # staff see private scores at any time

    with rt.db.session() as session:  # a TA made a student: their submissions are a student's, on the board
        users.add_user(session, course.staff, get_course(session, course.slug), "student")
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        assert leaderboards.benchmarks_for(session, comp, "public", staff=True) == []
        assert [r.score for r in leaderboards.public_board(session, comp)] == [1.0, 5 / 6, 4 / 6]


def test_a_benchmark_that_ties_a_student_comes_after_them_and_benchmarks_keep_their_order():
    when = datetime(2019, 9, 1, tzinfo=timezone.utc)

    def student(rank, score):
        return leaderboards.BoardRow(rank, rank, f"S{rank}", "", score, f"{score}", when, rank, 1)

    def benchmark(name, score):
        return leaderboards.BenchmarkRow(name, score, f"{score}", when, 100)

    rows = [student(1, 0.9), student(2, 0.8), student(3, 0.8), student(4, 0.5)]
    marks = [benchmark("best", 0.95), benchmark("tie", 0.8), benchmark("worst", 0.1)]
    lines = leaderboards.with_benchmarks(rows, marks, higher_is_better=True)
    assert [getattr(line, "label", None) or line.name for line in lines] == [
        "Benchmark: best", "S1", "S2", "S3", "Benchmark: tie", "S4", "Benchmark: worst"]
    lower = leaderboards.with_benchmarks([student(1, 0.1), student(2, 0.3)], [benchmark("b", 0.2)],
                                         higher_is_better=False)  # an error rate: the lowest is the best
    assert [getattr(line, "label", None) or line.name for line in lower] == ["S1", "Benchmark: b", "S2"]


def test_grades_bonus_and_class_best_ignore_benchmarks(rt, course):
    record(rt, course.comp_id, course.student, STUDENT)
    record(rt, course.comp_id, course.other, OTHER)

    def graded():
        with rt.db.session() as session:
            course_row = get_course(session, course.slug)
            return [grading.grade_course(session, course_row, staff=staff)[1] for staff in (True, False)]

    before = graded()
    assert before[0][users_id(rt, course.student)].grades[0].bonus == 5.0  # the class best: the student's own
    perfect = record(rt, course.comp_id, course.instructor, predictions())  # better than every student
    with rt.db.session() as session:
        benchmarks.name_submission(session, perfect, "Perfect", by=None, actor="cli:test")
    assert graded() == before


def users_id(rt, email: str) -> int:
    with rt.db.session() as session:
        return users.get_user(session, email).id


def test_only_staff_submissions_become_benchmarks_and_only_staff_of_the_course_name_them(
        app, as_staff, as_student, rt, course):
    mine = record(rt, course.comp_id, course.student, STUDENT)
    baseline = record(rt, course.comp_id, course.staff, BASELINE)
    url = f"/staff/{course.slug}/submissions/{{}}/benchmark?competition={course.public_id}"

    refused = as_staff.form(url.format(mine), {"name": "Sneaky"})
    assert refused.status_code == 409
    assert "Only submissions of the course&#39;s staff can be benchmarks" in page(refused)

    assert as_student.form(url.format(baseline), {"name": "Mine now"}).status_code == 403
    with rt.db.session() as session:  # a TA of another course
        users.add_user(session, "ta@c2.test", get_course(session, "c2"), "staff", password=PASSWORD)
    other_ta = app.test_client().signed_in_as("ta@c2.test")
    assert other_ta.form(f"/staff/c2/submissions/{baseline}/benchmark", {"name": "Elsewhere"}).status_code == 404
    assert other_ta.form(f"/staff/c2/submissions/{baseline}/unbenchmark").status_code == 404

    too_long = as_staff.form(url.format(baseline), {"name": "x" * 81})
    assert too_long.status_code == 422 and "shorten it to at most 80" in page(too_long)
    assert f'value="{"x" * 81}"' in page(too_long)  # what was typed stays in the form

    named = as_staff.form(url.format(baseline), {"name": "  Logistic   regression "})
    assert named.status_code == 302 and f"competition={course.public_id}" in named.headers["Location"]
    shown = page(as_staff.get(named.headers["Location"]))
    assert "Benchmark: <strong>Logistic regression</strong>" in shown and "Take off the boards" in shown
    assert as_staff.form(f"/staff/{course.slug}/submissions/{baseline}/unbenchmark").status_code == 302

    with rt.db.session() as session:
        subs = {s.id: s.benchmark_name for s in session.scalars(select(Submission))}
        events = [(e.action, e.actor, e.target, e.details.get("name"))
                  for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("submission.%benchmark")))]
    assert subs == {mine: None, baseline: None}
    assert events == [("submission.benchmark", course.staff, str(baseline), "Logistic regression"),
                      ("submission.unbenchmark", course.staff, str(baseline), "Logistic regression")]


def test_podium_submit_records_a_staff_baseline_as_a_benchmark_and_refuses_a_students(rt, course, tmp_path):
    baseline = tmp_path / "baseline.csv"
    baseline.write_text(BASELINE)

    def podium(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], obj=rt, catch_exceptions=False)

    done = podium("submit", course.public_id, baseline, "--as", course.staff, "--benchmark", "Baseline")
    assert done.exit_code == 0 and '"benchmark": "Baseline"' in done.stdout and '"status": "scored"' in done.stdout
    student = podium("submit", course.public_id, baseline, "--as", course.student, "--benchmark", "Baseline 2")
    assert student.exit_code == 1 and "Only submissions of the course's staff can be benchmarks" in student.stderr
    again = podium("submit", course.public_id, baseline, "--as", course.instructor, "--benchmark", "Baseline")
    assert again.exit_code == 1 and "choose another --benchmark" in again.stderr
    with rt.db.session() as session:
        assert [(s.user.email, s.benchmark_name) for s in session.scalars(select(Submission))] == [
            (course.staff, "Baseline")]
        recorded = session.scalar(select(AuditEvent).where(AuditEvent.action == "submission.record"))
        assert recorded.details["benchmark"] == "Baseline"


def test_the_board_csv_is_what_the_page_shows_its_reader(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.student, STUDENT)
    record(rt, course.comp_id, course.other, OTHER)
    named_baseline(rt, course, "=cmd|' /C calc'!A0")
    with rt.db.session() as session:  # a leaderboard name a spreadsheet would run
        accounts.set_leaderboard_name(session, users.get_user(session, course.other),
                                      get_course(session, course.slug), "@SUM(1+1)")
    url = f"/competitions/{course.public_id}/leaderboard.csv"
    assert 'href="/competitions/c1-hw1/leaderboard.csv?board=public"' in page(
        as_student.get(f"/competitions/{course.public_id}/leaderboard"))

    public = csv_rows(as_student.get(url))
    assert public[0] == ["rank", "leaderboard_name", "score", "entries", "last_improved"]
    assert [row[:4] for row in public[1:]] == [["1", "Overfitter", "1.00000", "1"],
                                               ["", "Benchmark: =cmd|' /C calc'!A0", "0.83333", ""],
                                               ["2", "'@SUM(1+1)", "0.66667", "1"]]
    assert all(row[4].endswith("Z") for row in public[1:])
    assert as_student.get(url + "?board=private").status_code == 403  # not released: no private score leaves

    staff_private = csv_rows(as_staff.get(url + "?board=private"))
    assert staff_private[0] == ["rank", "moved", "leaderboard_name", "email", "score", "entries", "last_improved"]
    assert [row[:5] for row in staff_private[1:]] == [["1", "0", "Overfitter", course.student, "0.91667"],
                                                      ["", "", "Benchmark: =cmd|' /C calc'!A0", "", "0.75000"],
                                                      ["2", "0", "'@SUM(1+1)", course.other, "0.41667"]]

    release(rt, course)
    released = csv_rows(as_student.get(url))  # the private board is the default once released
    assert released[0][:3] == ["rank", "moved", "leaderboard_name"] and "email" not in released[0]
    assert [row[2] for row in released[1:]] == ["Overfitter", "Benchmark: =cmd|' /C calc'!A0", "'@SUM(1+1)"]
    assert released[2][3] == "0.75000"
