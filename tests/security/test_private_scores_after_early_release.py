"""After an early release, a submission received later shows its private score to its author only once that author's
window has closed (POLICY.md section 11), tried on every page and API a student reads.

The class's late deadline has passed, but the student has an extension (their on-time deadline is still to come), so
staff release with an override while the student's window is open. The student then uploads. As the rule is stated, nothing a student reads may depend
on that upload's private score until the student's late deadline (extension included) has passed: every route of
`test_private_scores_before_release.STUDENT_READS` is read, that private score is changed, and every answer must be
the same, for the author and for the other student. Once the window has closed, the score shows.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete

from podium.models import Competition, Submission
from podium.services import competitions, extensions, submissions, users
from tests.security.test_private_scores_before_release import (CID, STUDENT_READS, forget_what_was_drawn, readable,
                                                               right_on)
from tests.web.helpers import page, record


@dataclass
class EarlyRelease:
    a: int  # the student's upload after the early release, on time under their extension: public 0.5, private 1.0
    before: int  # the student's on-time submission, received before the release: public 1.0, private 0.25
    other: int  # the other student's on-time submission: public 0.5, private 0.5
    late: datetime  # the student's late deadline, extension included
    auth: dict[str, str]  # the student's API credentials


@pytest.fixture
def early(rt, course, now: datetime) -> EarlyRelease:
    with rt.db.session() as session:
        # The world's own submissions were received as it was built: these are the only ones here.
        session.execute(delete(Submission).where(Submission.competition_id == course.comp_id))
        comp = session.get(Competition, course.comp_id)
        comp.opens, comp.early, comp.ontime, comp.late = (
            now - timedelta(days=20), None, now - timedelta(days=4), now - timedelta(days=1))
        student = users.get_user(session, course.student)
        key = users.issue_api_key(session, student)
        extensions.grant(session, comp, student, days=5, reason="illness", actor=course.staff)
        ontime = comp.ontime
    before = record(rt, course.comp_id, course.student, right_on(6, 3), at=ontime - timedelta(days=1))
    other = record(rt, course.comp_id, course.other, right_on(3, 6), at=ontime - timedelta(days=2))
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        with pytest.raises(competitions.ReleaseRefused):  # the student's window is open: an override is needed
            competitions.release(session, comp, actor=course.staff)
        assert competitions.release(session, comp, actor=course.staff, override="the solutions are out").early
        late = comp.late + timedelta(days=5)
    a = record(rt, course.comp_id, course.student, right_on(3, 12))
    return EarlyRelease(a=a, before=before, other=other, late=late,
                        auth={"Authorization": "Basic " + base64.b64encode(f"{course.student}:{key}".encode()).decode()})


def change_private_score(rt, n: int, private: float) -> None:
    with rt.db.session() as session:
        session.get(Submission, n).private_score = private


# Once released, the private board is the default on the leaderboard page; the API and the chart give it on request.
READS = {**STUDENT_READS, "api.leaderboard (private)": f"/api/competitions/{CID}/leaderboard?board=private",
         "charts.distribution (private)": f"/charts/{CID}/distribution.svg?board=private"}


def read_everything(browser, early: EarlyRelease) -> dict[str, str]:
    answers = {}
    for endpoint, url in READS.items():
        url = url.format(a=early.a)
        answers[endpoint] = readable(browser.get(url, headers=early.auth if url.startswith("/api/") else {}))
    return answers


def test_nothing_a_student_reads_depends_on_a_private_score_received_after_an_early_release(
        app, rt, early, as_student, as_other, as_staff, monkeypatch):
    before = read_everything(as_student, early)
    board_of_the_other = readable(as_other.get(f"/competitions/{CID}/leaderboard?board=private"))
    staff_before = page(as_staff.get("/staff/c1/grades"))
    change_private_score(rt, early.a, 0.1)
    forget_what_was_drawn(app, monkeypatch)
    after = read_everything(as_student, early)
    assert page(as_staff.get("/staff/c1/grades")) != staff_before  # the change reaches grades: staff see it
    changed = [endpoint for endpoint in READS if before[endpoint] != after[endpoint]]
    assert not changed, f"these answers depend on a private score the student may not read yet: {changed}"
    assert readable(as_other.get(f"/competitions/{CID}/leaderboard?board=private")) == board_of_the_other


def test_what_the_author_reads_instead(as_student, client, early):
    data = client.get(f"/api/submissions/{early.a}", headers=early.auth).get_json()
    assert data["private_score"] is None and data["private_hidden_until"].endswith("Z")
    assert data["public_score"] == pytest.approx(0.5)
    shown_before = client.get(f"/api/submissions/{early.before}", headers=early.auth).get_json()
    assert shown_before["private_score"] == pytest.approx(0.25) and shown_before["private_hidden_until"] is None
    assert "shown once your late deadline has passed" in page(as_student.get(f"/submissions/{early.a}"))
    listed = page(as_student.get(f"/competitions/{CID}/submissions"))
    assert "the private score of a submission received after the release appears once your late deadline" in listed
    kaggle = client.get(f"/api/v1/competitions/submissions/list/{CID}", headers=early.auth).get_json()
    assert {item["ref"]: item["privateScore"] for item in kaggle} == {early.a: "", early.before: "0.25000"}
    # The grade counts the upload with its public score (0.5, the D cutoff: 40) and says why it is provisional.
    grades = page(as_student.get("/courses/c1/grades"))
    assert re.search(rf"Counted: submission {early.a} \(on time\), public 0\.50000, base 40\.0; 7 slack days remain\. "
                     r"Provisional: "
                     r"submissions received after the early release", grades)
    [course] = client.get("/api/me/grades", headers=early.auth).get_json()["courses"]
    [row] = course["competitions"]
    assert (row["submission_id"], row["score_board"], row["private_score"]) == (early.a, "public", None)
    assert row["provisional"] is True and row["released"] is True and row["grade"] == pytest.approx(40.0)


def test_the_private_score_shows_once_the_authors_window_has_closed(as_student, as_other, client, early,
                                                                    monkeypatch):
    monkeypatch.setattr(submissions, "utcnow", lambda: early.late + timedelta(seconds=1))
    data = client.get(f"/api/submissions/{early.a}", headers=early.auth).get_json()
    assert data["private_score"] == pytest.approx(1.0) and data["private_hidden_until"] is None
    board = client.get(f"/api/competitions/{CID}/leaderboard?board=private", headers=early.auth).get_json()
    assert [(e["me"], e["score"]) for e in board["entries"]][0] == (True, 1.0)  # the upload is on time for them
    [course] = client.get("/api/me/grades", headers=early.auth).get_json()["courses"]
    [row] = course["competitions"]
    assert (row["submission_id"], row["score_board"], row["provisional"]) == (early.a, "private", False)
    assert "1.00000" in page(as_other.get(f"/competitions/{CID}/leaderboard?board=private"))


def test_staff_read_it_at_once(as_staff, early):
    assert "1.00000" in page(as_staff.get(f"/submissions/{early.a}"))
