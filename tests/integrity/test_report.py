"""The integrity report from the services (podium.services.integrity): planted copies top its lists, starter code
is left out, the report is kept on disk for what it read and computed again when that changes, and every opening
of a report or a pair is audited."""
from __future__ import annotations

import io
import random

import pytest
from sqlalchemy import select

from podium.errors import NotFound
from podium.models import AuditEvent
from podium.services import code, integrity
from tests.integrity.generated import program
from tests.integrity.world import (COPIER, NOTEBOOK_WRITER, ORIGINAL, PREDICTION_COPIER, PREDICTION_ORIGINAL,
                                   SHARED_WITH, SHARER, STARTER_A, STARTER_B, STUDENTS, TA, copy_integrity_world)


@pytest.fixture
def world(rt, worlds, tmp_path, world_database):
    return copy_integrity_world(worlds, rt, tmp_path)


def emails(pair) -> set[str]:
    return {pair.a.email, pair.b.email}


def audit_events(rt, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
    return events


def test_the_planted_copies_top_the_report(rt, world):
    steps = []
    report = integrity.build(rt.db, rt.settings, world.comp_id, progress=lambda *step: steps.append(step))
    # Every student's code was read: the notebook's code cells, the zips' code (not their CSV), the single files.
    assert report.collects_code and report.code_students == len(STUDENTS)
    assert emails(report.code_pairs[0]) == {ORIGINAL, COPIER}
    assert report.code_pairs[0].similarity > 0.9
    assert all(p.similarity < 0.5 for p in report.code_pairs[1:])
    # Kept the starter file beside their own code, and are not flagged for it.
    starter_pair = [p for p in report.code_pairs if emails(p) == {STARTER_A, STARTER_B}]
    assert not starter_pair or starter_pair[0].similarity < 0.2
    assert report.prediction_students == len(STUDENTS) and report.private_rows == 180
    assert emails(report.prediction_pairs[0]) == {PREDICTION_ORIGINAL, PREDICTION_COPIER}
    assert report.prediction_pairs[0].surprise > 5 * report.prediction_pairs[1].surprise
    assert [{p.email for p in g.people} for g in report.identical] == [{SHARED_WITH, SHARER}]
    assert not report.unreadable
    assert {what for what, _, _ in steps} >= {"Comparing the code", "Reading the predictions"}


def test_the_report_is_kept_until_what_it_read_changes(rt, world):
    opened = integrity.open_report(rt.db, rt.settings, world.comp_id, "ta@example.edu")
    assert opened.report is None and not opened.current
    integrity.build(rt.db, rt.settings, world.comp_id)
    opened = integrity.open_report(rt.db, rt.settings, world.comp_id, "ta@example.edu")
    assert opened.current and emails(opened.report.code_pairs[0]) == {ORIGINAL, COPIER}
    # New code from a student: the report kept is shown, but it is no longer that of what the database holds.
    code.receive_code(rt.db, rt.settings, world.comp_id, world.users[NOTEBOOK_WRITER],
                      io.BytesIO(program(random.Random(5), 2000).encode()), "new.py")
    opened = integrity.open_report(rt.db, rt.settings, world.comp_id, "ta@example.edu")
    assert opened.report is not None and not opened.current
    assert not integrity.is_current(rt.db, rt.settings, world.comp_id)
    events = audit_events(rt, "integrity.report_opened")
    assert len(events) == 3 and events[0].actor == "ta@example.edu" and events[0].target == world.cid


def test_a_pair_side_by_side_marks_the_copied_parts_and_is_audited(rt, world):
    integrity.build(rt.db, rt.settings, world.comp_id)
    a, b = world.users[ORIGINAL], world.users[COPIER]
    page = integrity.open_pair(rt.db, rt.settings, world.comp_id, b, a, TA)  # either order
    assert emails(page.pair) == {ORIGINAL, COPIER}
    sides = {page.pair.a.email: page.files_a, page.pair.b.email: page.files_b}
    copied = next(f for f in sides[COPIER] if f.name == "work/main.py")
    assert copied.marked_chars > 0.9 * len(copied.text)
    starter = next(f for f in sides[COPIER] if f.name == "work/starter.py")
    assert starter.marked_chars == 0  # the starter file every student received is never marked
    assert sides[ORIGINAL][0].marked_chars > 0.9 * len(sides[ORIGINAL][0].text)
    [event] = audit_events(rt, "integrity.pair_opened")
    assert event.actor == TA and set(event.details["students"]) == {ORIGINAL, COPIER}


def test_a_pair_not_in_the_report_is_not_found(rt, world):
    with pytest.raises(NotFound):
        integrity.open_pair(rt.db, rt.settings, world.comp_id, world.users[ORIGINAL], world.users[COPIER], TA)
    integrity.build(rt.db, rt.settings, world.comp_id)
    with pytest.raises(NotFound):
        integrity.open_pair(rt.db, rt.settings, world.comp_id, world.users[ORIGINAL], world.users[TA], TA)


def test_a_pair_whose_code_is_no_longer_readable_says_so_rather_than_failing(rt, world):
    # The kept report names uploads by id; a file gone from the data dir (or changed on disk into something the
    # archive checks refuse) since the report was computed is a clear refusal, never a traceback.
    from podium.errors import PodiumError
    from podium.models import CodeSubmission

    integrity.build(rt.db, rt.settings, world.comp_id)
    with rt.db.session() as session:
        row = session.scalar(select(CodeSubmission).where(CodeSubmission.user_id == world.users[COPIER])
                             .order_by(CodeSubmission.id.desc()))
        path = code.code_file(rt.settings, row)
    path.write_bytes(b"PK\x03\x04 no longer a zip")
    with pytest.raises(PodiumError, match="cannot be read"):
        integrity.open_pair(rt.db, rt.settings, world.comp_id, world.users[ORIGINAL], world.users[COPIER], TA)
    path.unlink()
    with pytest.raises(PodiumError, match="no longer stored"):
        integrity.open_pair(rt.db, rt.settings, world.comp_id, world.users[ORIGINAL], world.users[COPIER], TA)
