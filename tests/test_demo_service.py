"""`podium demo` builds the 11-785 course with every competition state on show, scored histories and accounts, and
hw3p2's code with a planted copy for its integrity report; running it again starts afresh."""
from __future__ import annotations

from sqlalchemy import func, select

from podium import demo
from podium.models import Competition, Extension, Status, Submission, User, utcnow
from podium.services import code, courses, integrity
from podium.services.courses import competition_state, get_course
from podium.services.demo import CODE_COPIER, CODE_ORIGINAL, WITHOUT_CODE, build_demo
from podium.services.users import check_password
from tests.demo_world import DEMO_SEED, copy_demo


def test_the_demo_course_shows_every_state_with_scored_histories(rt, worlds, tmp_path, world_database):
    lines = copy_demo(worlds, rt, tmp_path)  # what `build_demo` left, built once for the run (tests/demo_world.py)
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
        # Staff pages have extensions to show, granted by the instructor with a reason, as the audit log records.
        granted = session.scalars(select(Extension)).all()
        assert {(e.competition.slug, e.user.email) for e in granted} == {
            ("hw2p2-classification", "student05@demo.podium.test"), ("hw2p2-verification", "student12@demo.podium.test")}
        assert all(e.granted_by == "instructor@demo.podium.test" and e.reason for e in granted)

    # Running it again starts the demo course afresh rather than piling up a second history: only the uploads it
    # says it recorded are there (the world was built earlier in the run: a later clock may add an upload or two).
    said = []
    build_demo(rt, seed=DEMO_SEED, echo=said.append)
    recorded = int(next(line for line in said if line.startswith("recording")).split()[3])
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == recorded
        assert session.scalar(select(func.count()).select_from(User)) == 42
        assert session.scalar(select(func.count()).select_from(Extension)) == 2


def test_the_demo_collects_code_and_its_integrity_report_shows_the_planted_pair_first(rt, worlds, tmp_path,
                                                                                      world_database):
    copy_demo(worlds, rt, tmp_path)
    students = demo.demo_students(DEMO_SEED)
    with rt.db.session() as session:
        [comp] = [c for c in courses.get_course(session, demo.COURSE_SLUG).competitions if code.requires_code(c)]
        assert comp.slug == "hw3p2"  # as the course page's Code Submission Form, beside HW3P2
        counted = code.counted_code(session, comp)
        comp_id = comp.id
    assert len(counted) == len(students) - WITHOUT_CODE  # some students uploaded nothing
    opened = integrity.open_report(rt.db, rt.settings, comp_id, "demo")
    assert opened.current  # computed by `podium demo`, for what the demo holds
    top = opened.report.code_pairs[0]
    assert {top.a.email, top.b.email} == {students[CODE_ORIGINAL].email, students[CODE_COPIER].email}
    assert top.similarity > 0.9 and opened.report.code_pairs[1].similarity < 0.5
