"""The public board kept between requests always equals the board ranked afresh from every submission: after new
scorings, scorings committed out of order, rescores up and down, failures, practice uploads, renames, students
joining and leaving, and a new display precision. Its version moves exactly when its rows may have."""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, update

from podium import rules
from podium.models import Competition, Enrolment, Role, Status, Submission, User, board_name
from podium.services import grading, leaderboards, users
from podium.services.courses import get_competition, get_course, load_course


def afresh(session, comp: Competition) -> list[tuple]:
    """The board by its definition, read from scratch: each enrolled student's best public score over their
    scored, non-practice submissions, labelled with the current names."""
    people = {u.id: u for u in grading.students_of(session, comp.course)}
    subs = grading.scored_submissions(session, [comp.id], list(people))[comp.id]
    entries = Counter(s.student for s in subs if s.gradable)
    return [(e.rank, e.student, board_name(e.student, people[e.student].leaderboard_name_in(comp.course_id)),
             people[e.student].email, e.score, f"{e.score:.{comp.display_precision}f}", e.submitted_at,
             e.submission_id, entries[e.student])
            for e in rules.public_leaderboard(subs, comp.higher_is_better)]


def kept(session, comp: Competition) -> list[tuple]:
    board = leaderboards.kept_public_board(session, comp)
    return [(r.rank, r.user_id, r.name, r.email, r.score, r.shown_score, r.submitted_at, r.submission_id, r.entries)
            for r in board.rows]


class Course:
    """A loaded course with students, and a clock that only moves forward, for writing scorings directly."""

    def __init__(self, rt, course_dir, students: int = 6):
        self.rt = rt
        self.clock = datetime.now(timezone.utc)
        with rt.db.session() as session:
            load_course(session, rt.settings, course_dir)
            course = get_course(session, "c1")
            for i in range(students):
                users.add_user(session, f"s{i}@x.edu", course, "student", leaderboard_name=f"team {i}")
            self.comp_id = get_competition(session, "c1-hw1").id
            self.course_id = course.id

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=7)
        return self.clock

    def scored(self, session, user_id: int, public: float, *, scored_at: datetime | None = None,
               practice: bool = False) -> None:
        at = self.tick()
        session.execute(insert(Submission).values(
            competition_id=self.comp_id, user_id=user_id, submitted_at=at, file_path="-", file_name="p.csv",
            sha256="-", size_bytes=1, status=Status.scored, public_score=public, private_score=public,
            practice=practice, scored_at=scored_at or at))

    def rescored(self, session, sub_id: int, public: float | None) -> None:
        """A rescore moves the score; None: the rescore failed."""
        values = (dict(status=Status.failed, public_score=None, private_score=None) if public is None
                  else dict(status=Status.scored, public_score=public, private_score=public))
        session.execute(update(Submission).where(Submission.id == sub_id).values(scored_at=self.tick(), **values))

    def student_ids(self, session) -> list[int]:
        return list(session.scalars(select(Enrolment.user_id).where(
            Enrolment.course_id == self.course_id, Enrolment.role == Role.student).order_by(Enrolment.user_id)))


def test_the_kept_board_follows_every_kind_of_change(rt, course_dir):
    c = Course(rt, course_dir)
    rng = random.Random(11785)
    joined = 0
    for step in range(120):
        with rt.db.session() as session:
            students = c.student_ids(session)
            scored_ids = list(session.scalars(select(Submission.id).where(
                Submission.competition_id == c.comp_id, Submission.status == Status.scored)))
            action = rng.choice(["score", "score", "score", "late", "practice", "rescore", "fail", "rename",
                                 "join", "leave", "precision", "nothing"])
            if action == "score":
                c.scored(session, rng.choice(students), round(rng.random(), 3))
            elif action == "late":
                # Committed after a later scoring: its time stamp is older than the newest one already read.
                c.scored(session, rng.choice(students), round(rng.random(), 3), scored_at=c.clock - timedelta(minutes=2))
            elif action == "practice":
                c.scored(session, rng.choice(students), 1.0, practice=True)
            elif action in ("rescore", "fail") and scored_ids:
                c.rescored(session, rng.choice(scored_ids), None if action == "fail" else round(rng.random(), 3))
            elif action == "rename":
                user = session.get(User, rng.choice(students))
                user.enrolments[0].leaderboard_name = f"renamed {step}"
            elif action == "join":
                joined += 1
                users.add_user(session, f"new{joined}@x.edu", session.get(Competition, c.comp_id).course, "student")
            elif action == "leave" and len(students) > 2:
                enrolment = session.scalar(select(Enrolment).where(Enrolment.user_id == rng.choice(students),
                                                                   Enrolment.course_id == c.course_id))
                enrolment.role = Role.staff
            elif action == "precision":
                session.get(Competition, c.comp_id).display_precision = rng.randint(0, 6)
        with rt.db.session() as session:
            comp = session.get(Competition, c.comp_id)
            assert kept(session, comp) == afresh(session, comp), f"step {step}: {action}"


def test_a_scoring_committed_late_is_not_missed(rt, course_dir):
    # Two workers: one takes its time stamp first but commits after the other. The board read in between has
    # already seen the newer time stamp; the older one must still reach it.
    c = Course(rt, course_dir, students=2)
    with rt.db.session() as session:
        first, second = c.student_ids(session)
        c.scored(session, first, 0.5)
    with rt.db.session() as session:
        comp = session.get(Competition, c.comp_id)
        assert [r.user_id for r in leaderboards.kept_public_board(session, comp).rows] == [first]
        c.scored(session, second, 0.9, scored_at=c.clock - timedelta(seconds=3))
    with rt.db.session() as session:
        comp = session.get(Competition, c.comp_id)
        assert [r.user_id for r in leaderboards.kept_public_board(session, comp).rows] == [second, first]


def test_a_failed_rescore_takes_the_score_off_the_board(rt, course_dir):
    c = Course(rt, course_dir, students=2)
    with rt.db.session() as session:
        first, second = c.student_ids(session)
        c.scored(session, first, 0.9)
        c.scored(session, first, 0.4)
        c.scored(session, second, 0.6)
    with rt.db.session() as session:
        comp = session.get(Competition, c.comp_id)
        board = leaderboards.kept_public_board(session, comp)
        assert [(r.user_id, r.score, r.entries) for r in board.rows] == [(first, 0.9, 2), (second, 0.6, 1)]
        best = board.rows[0].submission_id
        c.rescored(session, best, None)
    with rt.db.session() as session:
        comp = session.get(Competition, c.comp_id)
        board = leaderboards.kept_public_board(session, comp)
        assert [(r.user_id, r.score, r.entries) for r in board.rows] == [(second, 0.6, 1), (first, 0.4, 1)]


def test_the_version_moves_when_the_rows_may_have_and_only_then(rt, course_dir):
    c = Course(rt, course_dir, students=2)
    with rt.db.session() as session:
        first, second = c.student_ids(session)
        c.scored(session, first, 0.5)

    def version() -> int:
        with rt.db.session() as session:
            return leaderboards.kept_public_board(session, session.get(Competition, c.comp_id)).version

    v1 = version()
    assert version() == v1  # nothing changed
    with rt.db.session() as session:
        session.execute(insert(Submission).values(  # received, not scored yet: the board cannot have changed
            competition_id=c.comp_id, user_id=second, submitted_at=c.tick(), file_path="-", file_name="p.csv",
            sha256="-", size_bytes=1, status=Status.queued))
    assert version() == v1
    with rt.db.session() as session:
        c.scored(session, second, 0.7)
    v2 = version()
    assert v2 != v1
    with rt.db.session() as session:
        session.get(User, first).enrolments[0].leaderboard_name = "new name"
    v3 = version()
    assert v3 != v2
    with rt.db.session() as session:
        rows = leaderboards.kept_public_board(session, session.get(Competition, c.comp_id)).rows
        assert [r.name for r in rows] == ["team 1", "new name"]


def test_scored_submissions_without_a_scoring_time_are_ranked_too(rt, course_dir):
    # Rows written before scoring times were kept (or restored without them) still count: the board is the same
    # whichever way a score reached the database.
    c = Course(rt, course_dir, students=2)
    with rt.db.session() as session:
        first, second = c.student_ids(session)
        c.scored(session, first, 0.5)
        session.execute(update(Submission).values(scored_at=None))
        c.scored(session, second, 0.7)
    with rt.db.session() as session:
        comp = session.get(Competition, c.comp_id)
        assert [(r.user_id, r.score) for r in leaderboards.kept_public_board(session, comp).rows] == [
            (second, 0.7), (first, 0.5)]
        assert kept(session, comp) == afresh(session, comp)
