"""`podium demo` builds the 11-785 course with every competition state on show, scored histories and accounts;
running it again starts afresh."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from podium import demo as demo_data
from podium.models import Competition, Extension, Status, Submission, User, utcnow
from podium.services import demo as demo_service
from podium.services.courses import competition_state, get_course
from podium.services.demo import build_demo
from podium.services.users import check_password


@pytest.fixture
def class_simulated_once(monkeypatch):
    """Both builds of the test at one instant, and the class's history simulated once for both: the simulation is a
    function of the course folder, the students, the seed and the instant alone (tests/demo checks that it is, and
    that the same seed and day write the same folder), and takes a third of a build. The second build still resets,
    writes and loads the course, and records and scores every upload again."""
    now = utcnow()
    monkeypatch.setattr(demo_service, "utcnow", lambda: now)
    simulate, made = demo_data.simulate_submissions, {}

    def simulate_once(course_dir, students, seed, now):
        key = (Path(course_dir), tuple(students), seed, now)
        if key not in made:
            made[key] = simulate(course_dir, students, seed=seed, now=now)
        return made[key]

    monkeypatch.setattr(demo_data, "simulate_submissions", simulate_once)
    return made


def test_the_demo_course_shows_every_state_with_scored_histories(rt, class_simulated_once):
    lines = build_demo(rt, seed=7, echo=lambda _line: None)
    assert any("instructor@demo.podium.test" in line for line in lines)
    with rt.db.session() as session:
        course = get_course(session, "11785-f19")
        states = {c.slug: competition_state(c, utcnow()).key for c in course.competitions}
        assert states == {"hw1p2": "closed", "hw2p2-classification": "late", "hw2p2-verification": "open",
                          "hw3p2": "open", "hw4p2": "upcoming"}
        released = session.scalars(select(Competition.slug).where(Competition.released_at.is_not(None))).all()
        assert released == ["hw1p2"]
        counts = dict(session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all())
        assert counts[Status.scored] > 300 and 0 < counts[Status.failed] < 30 and Status.queued not in counts
        failed = session.scalars(select(Submission.error).where(Submission.status == Status.failed)).first()
        assert "header" in failed
        instructor = session.scalar(select(User).where(User.email == "instructor@demo.podium.test"))
        assert check_password(instructor, "demo-password")
        first = session.scalar(select(func.count()).select_from(Submission))
        # Staff pages have extensions to show, granted by the instructor with a reason, as the audit log records.
        granted = session.scalars(select(Extension)).all()
        assert {(e.competition.slug, e.user.email) for e in granted} == {
            ("hw2p2-classification", "student05@demo.podium.test"), ("hw2p2-verification", "student12@demo.podium.test")}
        assert all(e.granted_by == "instructor@demo.podium.test" and e.reason for e in granted)

    # Running it again starts the demo course afresh rather than piling up a second history.
    build_demo(rt, seed=7, echo=lambda _line: None)
    assert len(class_simulated_once) == 1  # the same course, class and instant as the first build
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == first
        assert session.scalar(select(func.count()).select_from(User)) == 42
        assert session.scalar(select(func.count()).select_from(Extension)) == 2
