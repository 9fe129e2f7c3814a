"""The demo's code: the competition that requires code has the students' uploads (some missing), and its integrity
report, computed when the demo is built, puts the planted pair first."""
from __future__ import annotations

import pytest

from podium import demo
from podium.demo.course import CODE_REQUIRED
from podium.services import code, courses, integrity
from podium.services.demo import CODE_COPIER, CODE_ORIGINAL, WITHOUT_CODE
from tests.demo_world import DEMO_SEED, copy_demo


@pytest.fixture
def demo_course(rt, worlds, tmp_path, world_database):
    copy_demo(worlds, rt, tmp_path)


def test_the_demo_report_shows_the_planted_pair_first(rt, demo_course):
    students = demo.demo_students(DEMO_SEED)
    with rt.db.session() as session:
        comp = courses.get_competition(session, f"{demo.COURSE_SLUG}-{CODE_REQUIRED[0]}")
        assert code.requires_code(comp)
        counted = code.counted_code(session, comp)
        comp_id = comp.id
    assert len(counted) == len(students) - WITHOUT_CODE
    opened = integrity.open_report(rt.db, rt.settings, comp_id, "demo")
    assert opened.current  # computed by `podium demo`, for what the demo holds
    top = opened.report.code_pairs[0]
    assert {top.a.email, top.b.email} == {students[CODE_ORIGINAL].email, students[CODE_COPIER].email}
    assert top.similarity > 0.9 and opened.report.code_pairs[1].similarity < 0.5
