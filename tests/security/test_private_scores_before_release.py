"""Private scores stay private until release (POLICY.md section 11), tried on every page and API a student reads.

The rule says that nothing a student can read depends on an unreleased private score. That is tested as it is
stated: a closed, finalised, unreleased competition whose submissions have public and private orders that disagree is
read by a student on every route they can reach; then the private scores are changed (and the cutoffs finalisation
fixes from them), and every answer must be the same, while the staff's gradebook shows that the change mattered
(another counted submission, slack days, grade and cutoff). A test per surface then names what the student sees:
provisional grades computed from public scores.

Every GET route of the application is either read here or declared free of scores, so a new route has to be
placed before the suite passes again.
"""
from __future__ import annotations

import base64
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from podium.models import Competition, Submission
from podium.services import competitions, courses, grading, leaderboards, users
from podium.web import charts
from tests.conftest import predictions
from tests.web.helpers import page, record, same_on_every_request

CID = "c1-hw1"
# Cutoffs: values, and a position that finalisation fixes from the private board ("top 100%": the last rank).
CUTOFFS = {"A": 0.9, "B": 0.8, "C": 0.7, "D": "top 100%"}


def right_on(public: int, private: int) -> str:
    """Predictions right on `public` of the 6 public rows and `private` of the 12 private ones."""
    return predictions(set(range(public)) | set(range(6, 6 + private)))


@dataclass
class Closed:
    """The web course's competition, closed three days ago and finalised, its private board not released."""

    a: int  # the student's, on time and marked: public 1.0, private 0.25
    b: int  # the student's, on time and marked: public 0.5, private 0.75
    c: int  # the student's, a day late: public 0.0, private 1.0
    d: int  # the other student's, on time: public 0.5, private 0.5
    auth: dict[str, str]  # the student's API credentials


@pytest.fixture
def closed(rt, course, now: datetime) -> Closed:
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        comp.opens, comp.early, comp.ontime, comp.late = (
            now - timedelta(days=20), now - timedelta(days=15), now - timedelta(days=7), now - timedelta(days=3))
        comp.cutoffs = CUTOFFS
        ontime = comp.ontime
        key = users.issue_api_key(session, users.get_user(session, course.student))
    subs = Closed(
        a=record(rt, course.comp_id, course.student, right_on(6, 3), at=ontime - timedelta(days=3)),
        b=record(rt, course.comp_id, course.student, right_on(3, 9), at=ontime - timedelta(days=2)),
        c=record(rt, course.comp_id, course.student, right_on(0, 12), at=ontime + timedelta(hours=20)),
        d=record(rt, course.comp_id, course.other, right_on(3, 6), at=ontime - timedelta(days=1)),
        auth={"Authorization": "Basic " + base64.b64encode(f"{course.student}:{key}".encode()).decode()},
    )
    with rt.db.session() as session:
        for n in (subs.a, subs.b):
            session.get(Submission, n).selected = True
        comp = session.get(Competition, course.comp_id)
        assert competitions.finalise(session, comp, actor=course.staff) and comp.released_at is None
    return subs


def change_private_scores(rt, course, closed: Closed) -> None:
    """Other private scores, as another private test set would give, and the position cutoff fixed again from
    them: A 0.9, B 0.2, C (late) 0.1, the other student's 0.6."""
    with rt.db.session() as session:
        for n, private in ((closed.a, 0.9), (closed.b, 0.2), (closed.c, 0.1), (closed.d, 0.6)):
            session.get(Submission, n).private_score = private
        competitions.fix_cutoffs(session, session.get(Competition, course.comp_id))


def forget_what_was_drawn(app, monkeypatch) -> None:
    """Boards and charts are kept between requests; the second reading must compute everything again."""
    monkeypatch.setattr(charts, "cache", charts.SvgCache())
    monkeypatch.setattr(leaderboards, "_kept", {})
    app.extensions.pop("podium.drawn_boards", None)


# --- what a student can read ---------------------------------------------------------------------------------

# Every GET route a student reaches that may show a score, a grade, a cutoff or a slack day, as (endpoint, url).
# Urls name {a} (a submission of the student's); API routes are read with the student's API key.
STUDENT_READS = {
    "main.index": "/",
    "student.course": "/courses/c1",
    "student.grades": "/courses/c1/grades",
    "student.competition": f"/competitions/{CID}",
    "student.my_submissions": f"/competitions/{CID}/submissions",
    "student.submit": f"/competitions/{CID}/submit",
    "student.submission": "/submissions/{a}",
    "student.submission_json": "/submissions/{a}.json",
    "leaderboards.board": f"/competitions/{CID}/leaderboard",
    "leaderboards.board_csv": f"/competitions/{CID}/leaderboard.csv",
    "charts.distribution": f"/charts/{CID}/distribution.svg",
    "charts.progress": f"/charts/{CID}/progress.svg",
    "accounts.profile": "/profile",
    "api.competitions": "/api/competitions",
    "api.competition": f"/api/competitions/{CID}",
    "api.leaderboard": f"/api/competitions/{CID}/leaderboard",
    "api.list_submissions": f"/api/competitions/{CID}/submissions",
    "api.submission": "/api/submissions/{a}",
    "api.me": "/api/me",
    "api.my_grades": "/api/me/grades",
    "kaggle.competitions_list": "/api/v1/competitions/list",
    "kaggle.submissions_list": f"/api/v1/competitions/submissions/list/{CID}",
    "kaggle.leaderboard_view": f"/api/v1/competitions/{CID}/leaderboard/view",
    "kaggle.leaderboard_download": f"/api/v1/competitions/{CID}/leaderboard/download",
}
# GET routes that show no score, grade, cutoff or slack day to a student (files as uploaded or given, sign-in and
# account recovery, documents), or none at all (staff pages refuse students: tests/security/test_authz_matrix.py).
NO_SCORES = {
    "static", "main.healthz", "api.openapi", "api.unknown", "accounts.sign_in", "accounts.forgot", "accounts.reset",
    "student.data_file", "student.submission_file", "api.data_file", "api.submission_file", "kaggle.data_list",
    "kaggle.data_download", "kaggle.data_download_all", "kaggle.data_archive", "charts.activity",
    # Invitation links: the staff page refuses students; a link's page names the course and the viewer's role only.
    "invitations.staff_page", "invitations.join",
    # Single sign-on: the provider's round trip, and the page for someone enrolled in no course.
    "sign_on.start", "sign_on.callback", "sign_on.enrolled_nowhere",
    # LTI: the platform's round trip, Podium's public key, and the pages that link an LMS course and place
    # competitions (course and competition names only).
    "lti.login", "lti.keys", "lti.link", "lti.deep_link",
    # A student's own code uploads, and the code deadline and what counts (POLICY.md section 12): no score.
    "student.code_file", "api.code_file", "api.list_code",
}


def test_every_route_a_student_may_read_is_checked_or_declared_free_of_scores(app):
    gets = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    staff_pages = {e for e in gets if e.startswith(("staff.", "integrity."))}  # the integrity report is staff's
    assert gets - staff_pages - NO_SCORES == set(STUDENT_READS), "place each new GET route in one of the two sets"


def readable(response) -> str:
    """What the student reads in an answer, without what differs between any two requests (form tokens)."""
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
    if response.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
            return "\n".join(archive.read(name).decode() for name in sorted(archive.namelist()))
    return same_on_every_request(response.get_data(as_text=True))


def read_everything(browser, closed: Closed) -> dict[str, str]:
    answers = {}
    for endpoint, url in STUDENT_READS.items():
        url = url.format(a=closed.a)
        api = url.startswith("/api/")
        answers[endpoint] = readable(browser.get(url, headers=closed.auth if api else {}))
    return answers


def test_nothing_a_student_reads_changes_with_unreleased_private_scores(app, rt, course, closed, as_student,
                                                                         as_staff, monkeypatch):
    before = read_everything(as_student, closed)
    staff_before = page(as_staff.get("/staff/c1/grades"))
    change_private_scores(rt, course, closed)
    forget_what_was_drawn(app, monkeypatch)
    after = read_everything(as_student, closed)
    staff_after = page(as_staff.get("/staff/c1/grades"))
    assert staff_after != staff_before  # the change reaches grades: staff see it
    changed = [endpoint for endpoint in STUDENT_READS if before[endpoint] != after[endpoint]]
    assert not changed, f"these answers depend on unreleased private scores: {changed}"


# --- what the student sees instead: provisional grades from public scores -----------------------------------


def staff_grades(rt, course) -> dict:
    with rt.db.session() as session:
        course_row = courses.get_course(session, "c1")
        student = users.get_user(session, course.student)
        report = grading.student_report(session, course_row, student, staff=True)
        [row] = report.rows
        return {"submission": row.grade.submission_id, "window": row.grade.window, "slack_used": report.slack_used,
                "grade": row.grade.final, "cutoffs": dict(row.competition.resolved_cutoffs)}


def test_the_scenario_counts_the_late_submission_for_staff(rt, course, closed):
    """From private scores the late submission (private 1.0) beats both marked ones: a slack day is spent; the
    other student's 0.5 fixes the D cutoff."""
    assert staff_grades(rt, course) == {"submission": closed.c, "window": "slack", "slack_used": 1,
                                        "grade": pytest.approx(100 * 0.9), "cutoffs": pytest.approx(
                                            {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.5})}


def test_my_grades_page_counts_the_better_public_of_two_marked_submissions(as_student, closed):
    html = page(as_student.get("/courses/c1/grades"))
    # Submission a has the better public score (1.0 against b's 0.5): it counts, on time, with no slack day.
    assert re.search(rf'href="/submissions/{closed.a}">#{closed.a}</a>', html)
    assert f"#{closed.b}</a>" not in html and f"#{closed.c}</a>" not in html
    assert re.search(rf"Counted: submission {closed.a} \(on time\), public 1\.00000, base 100\.0 \+ bonus 5\.0 = "
                     r"105\.0; no early submission, so x0\.9 = 94\.5; 7 slack days remain\. Provisional", html)
    assert re.search(r'<p class="label">Remaining <span class="badge">provisional</span></p><p class="big">7</p>',
                     html)
    assert "0.25000" not in html and "0.75000" not in html and "private 1" not in html


def test_the_rest_api_gives_the_same_provisional_grade(client, closed):
    [course] = client.get("/api/me/grades", headers=closed.auth).get_json()["courses"]
    [row] = course["competitions"]
    assert (row["submission_id"], row["window"], row["score_board"], row["score"]) == (closed.a, "on_time", "public",
                                                                                     1.0)
    assert row["private_score"] is None and row["grade"] == pytest.approx(94.5) and row["provisional"] is True
    assert (course["slack_used"], course["slack_remaining"], course["provisional"]) == (0, 7, True)
    assert course["total"] == pytest.approx(94.5)


def test_a_position_cutoff_stays_a_position_for_students_until_release(as_student, as_staff, closed):
    """Finalisation fixed "top 100%" from the private board (0.5); students see the position, staff the value."""
    for browser, shown in ((as_student, False), (as_staff, True)):
        competition = page(browser.get(f"/competitions/{CID}"))
        board = page(browser.get(f"/competitions/{CID}/leaderboard"))
        assert ("0.50000 <span class=\"muted\">(top 100%)</span>" in competition) is shown
        assert ("D cutoff · 0.50000" in board) is shown and ("D cutoff · top 100%" in board) is not shown


def test_the_kaggle_client_reads_no_private_score_before_release(client, closed):
    listed = client.get(f"/api/v1/competitions/submissions/list/{CID}", headers=closed.auth).get_json()
    assert {item["ref"] for item in listed} >= {closed.a, closed.b, closed.c}
    assert all(item["privateScore"] == "" for item in listed)
    download = client.get(f"/api/v1/competitions/{CID}/leaderboard/download", headers=closed.auth)
    board = readable(download)
    # The public board: the student's best public score, 1.0, first; nothing of the private 1.0 of submission c.
    assert re.search(r"\n1,[^\n]*,1\.0", board) and "0.75" not in board


def test_release_shows_the_private_grade(as_student, rt, course, closed):
    with rt.db.session() as session:
        competitions.release(session, session.get(Competition, course.comp_id), actor=course.staff)
    html = page(as_student.get("/courses/c1/grades"))
    assert re.search(rf"Counted: submission {closed.c} \(slack, 1 day late\), private 1\.00000, base 100\.0; "
                     r"no early submission, so x0\.9 = 90\.0; 6 slack days remain\.</td>", html)
    assert "provisional</span>" not in html
