"""Code submissions from the services (POLICY.md section 12): the [code] table, uploads stored durably and checked,
the latest on-time upload counting, late uploads marked, extensions moving the code deadline; and who may upload."""
from __future__ import annotations

import io
import tomllib
import zipfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from podium.errors import ConfigError, Forbidden, NotFound, PodiumError
from podium.models import CodeSubmission, User
from podium.services import code, competition_settings, extensions, finalisations, grading
from podium.services.courses import get_competition
from podium.spec import DEFAULT_POLICY, read_competition, read_course
from tests.code_world import CID, OTHER_STUDENT, OTHER_TA, STARTER, STUDENTS, TA, copy_code_world, upload, \
    write_code_course
from tests.conftest import write_course

DAY = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def world(rt, worlds, tmp_path, world_database):
    return copy_code_world(worlds, rt, tmp_path)


def stored(rt) -> list[CodeSubmission]:
    with rt.db.session() as session:
        rows = list(session.scalars(select(CodeSubmission).order_by(CodeSubmission.id)))
        session.expunge_all()
    return rows


def files_on_disk(rt) -> list:
    folder = rt.settings.data_dir / "code"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the [code] table ------------------------------------------------------------------------------------


def test_the_code_table_defaults_to_two_days_after_late(tmp_path):
    spec = read_course(write_code_course(tmp_path, now=DAY))
    comp = spec.competitions[0]
    assert comp.code.required and comp.code.deadline == comp.late + timedelta(days=2)
    assert comp.code.kinds == (".zip", ".tar.gz", ".py", ".ipynb") and comp.code.max_mb == 1
    assert [p.name for p in comp.code.starter] == ["starter.py"] and comp.code.max_uploads == 30
    assert spec.policy["missing_code"] == "flag"


@pytest.mark.parametrize("extra, key", [
    ('kinds = [".rar"]', "[code] kinds"),
    ("kinds = []", "[code] kinds"),
    ('deadline = "1999-01-01 00:00:00"', "[code] deadline"),
    ("max_mb = 0", "[code] max_mb"),
    ("max_uploads = 0", "[code] max_uploads"),
    ("max_uploads = 2.5", "[code] max_uploads"),
    ("required = 1", "[code] required"),
    ("colour = 1", "[code] colour"),
])
def test_a_wrong_code_table_names_its_key(tmp_path, extra, key):
    folder = write_code_course(tmp_path, now=DAY, extra=extra)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        read_course(folder)


def test_missing_code_policy_is_checked(tmp_path):
    folder = write_course(tmp_path)
    course_toml = folder / "course.toml"
    course_toml.write_text(course_toml.read_text() + 'missing_code = "fail"\n')
    with pytest.raises(ConfigError, match=r"\[policy\] missing_code.*flag, zero"):
        read_course(folder)


def test_the_competition_row_keeps_the_code_settings_and_the_starter_copy(rt, world):
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        found = code.code_settings(comp)
        assert found.required and found.deadline == comp.late + timedelta(days=2) and found.max_bytes == 1_000_000
        assert [p.read_text() for p in code.starter_files(rt.settings, comp)] == [STARTER]
        assert code.code_settings(get_competition(session, "c2-hw1")) is None


def test_the_settings_page_keeps_the_code_table_and_its_file_carries_it(rt, world, tmp_path):
    """Settings changed on the staff page are checked as `podium load` checks the folder: the [code] table and its
    starter file go along, and the competition.toml to commit carries them, reading back to the same settings."""
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        form = competition_settings.SettingsForm.of(comp)
        changed = competition_settings.update(session, rt.settings, comp, competition_settings.SettingsForm(
            {**form.values, "title": "Homework one"}), actor=TA)
        assert changed == ["title"]
        exported, before = competition_settings.competition_toml(comp), code.code_settings(comp)
        tz = comp.course.timezone
    folder = tmp_path / "exported" / "hw1"
    folder.mkdir(parents=True)
    (folder / "competition.toml").write_text(exported)
    (folder / "solution.csv").write_text("id\n")
    (folder / "starter.py").write_text(STARTER)
    for name in tomllib.loads(exported)["evaluation"]["data_files"]:
        (folder / name).write_text("given\n")
    spec = read_competition(folder / "competition.toml", ZoneInfo(tz), DEFAULT_POLICY)
    assert (spec.code.required, spec.code.deadline, spec.code.max_mb, spec.code.kinds) == (
        before.required, before.deadline, before.max_mb, before.kinds)
    assert [p.name for p in spec.code.starter] == ["starter.py"]


# --- uploads ---------------------------------------------------------------------------------------------


def test_an_upload_is_stored_and_the_latest_on_time_counts(rt, world):
    first = upload(rt, world, STUDENTS[0], b"v = 1\n", at=world.now - timedelta(hours=2))
    second = upload(rt, world, STUDENTS[0], b"v = 2\n", at=world.now - timedelta(hours=1))
    upload(rt, world, STUDENTS[1], b"w = 1\n", at=world.now)
    assert not first.late and not second.late and second.kind == ".py" and second.members == 1
    with rt.db.session() as session:
        counted = code.counted_code(session, get_competition(session, CID))
        assert {uid: row.id for uid, row in counted.items()} == {
            world.users[STUDENTS[0]]: second.id, world.users[STUDENTS[1]]: second.id + 1}
        assert code.code_file(rt.settings, counted[world.users[STUDENTS[0]]]).read_bytes() == b"v = 2\n"
        assert [r.id for r in code.history(session, get_competition(session, CID),
                                           session.get(User, world.users[STUDENTS[0]]))] == [second.id, first.id]


def test_a_late_upload_is_kept_marked_late_and_never_counts(rt, world):
    with rt.db.session() as session:
        deadline = code.code_settings(get_competition(session, CID)).deadline
    on_time = upload(rt, world, STUDENTS[0], b"ok\n", at=deadline)  # inclusive
    late = upload(rt, world, STUDENTS[0], b"late\n", at=deadline + timedelta(seconds=1))
    assert not on_time.late and late.late
    with rt.db.session() as session:
        counted = code.counted_code(session, get_competition(session, CID))
    assert counted[world.users[STUDENTS[0]]].id == on_time.id


def test_an_extension_moves_the_code_deadline(rt, world):
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        deadline = code.code_settings(comp).deadline
        extensions.grant(session, comp, session.get(User, world.users[STUDENTS[0]]), days=3, reason="ill",
                         actor=TA)
    at = deadline + timedelta(days=2)
    mine = upload(rt, world, STUDENTS[0], b"a\n", at=at)
    theirs = upload(rt, world, STUDENTS[1], b"b\n", at=at)
    assert not mine.late and theirs.late
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        assert set(code.counted_code(session, comp)) == {world.users[STUDENTS[0]]}
        assert code.last_code_deadline(session, comp) == deadline + timedelta(days=3)


def test_an_archive_is_checked_and_a_refused_one_leaves_nothing(rt, world):
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("src/train.py", "x = 1\n")
        zf.writestr("src/model.py", "y = 2\n")
    row = upload(rt, world, STUDENTS[0], good.getvalue(), "code.zip")
    assert row.kind == ".zip" and row.members == 2
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../escape.py", "x = 1\n")
    with pytest.raises(PodiumError, match=r"leaves the archive.*Nothing was stored"):
        upload(rt, world, STUDENTS[0], bad.getvalue(), "code.zip")
    with pytest.raises(PodiumError, match=r"not a zip archive"):
        upload(rt, world, STUDENTS[0], b"hello", "code.zip")
    with pytest.raises(PodiumError, match=r"code.rar is not a kind of file this competition accepts"):
        upload(rt, world, STUDENTS[0], b"hello", "code.rar")
    with pytest.raises(PodiumError, match=r"larger than the 1 MB limit") as caught:
        upload(rt, world, STUDENTS[0], b"#" * 1_000_001, "big.py")
    assert caught.value.code == 413
    assert [r.id for r in stored(rt)] == [row.id] and len(files_on_disk(rt)) == 1


def test_only_members_of_the_course_upload_and_only_where_code_is_collected(rt, world):
    with pytest.raises(Forbidden):
        upload(rt, world, OTHER_STUDENT)
    with pytest.raises(Forbidden):
        upload(rt, world, OTHER_TA)
    staff_row = upload(rt, world, TA)  # staff try the form on their own course
    with rt.db.session() as session:
        other = get_competition(session, "c2-hw1").id
        counted = code.counted_code(session, get_competition(session, CID))
    assert world.users[TA] not in counted  # staff code is no student's
    with pytest.raises(NotFound, match="does not collect code"):
        code.receive_code(rt.db, rt.settings, other, world.users[OTHER_STUDENT], io.BytesIO(b"x"), "a.py")
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CodeSubmission)) == 1
    assert staff_row.user_id == world.users[TA]


def test_a_course_backup_keeps_code_uploads_and_the_code_settings(rt, world, tmp_path):
    from podium.runtime import make_runtime
    from podium.services import backup

    mine = upload(rt, world, STUDENTS[0], b"kept = True\n", "kept.py")
    backup.export_course(rt.db, rt.settings, "c1", tmp_path / "c1.zip")
    target = make_runtime(data_dir=tmp_path / "restored", database_url=f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        target.db.upgrade()
        backup.import_course(target.db, target.settings, tmp_path / "c1.zip")
        with target.db.session() as session:
            comp = get_competition(session, CID)
            [row] = code.counted_code(session, comp).values()
            assert (row.file_name, row.sha256, row.submitted_at) == (mine.file_name, mine.sha256, mine.submitted_at)
            assert code.code_file(target.settings, row).read_bytes() == b"kept = True\n"
            assert code.code_settings(comp).required
            assert [p.read_text() for p in code.starter_files(target.settings, comp)] == [STARTER]
    finally:
        target.db.dispose()


# --- grades (POLICY.md section 12) -------------------------------------------------------------------------


def set_code_deadline_and_policy(rt, deadline, missing_code: str | None = None) -> None:
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        comp.code_deadline = deadline
        if missing_code is not None:
            comp.course.policy = {**comp.course.policy, "missing_code": missing_code}


def staff_rows(rt) -> dict[str, tuple]:
    with rt.db.session() as session:
        course = get_competition(session, CID).course
        return {report.user.email: (report.rows[0].grade.missing_code, report.rows[0].grade.final,
                                    report.rows[0].explanation, report.total)
                for report in grading.gradebook(session, course)}


def test_without_code_a_counted_submission_is_due_then_flagged_and_the_grade_stands(rt, world):
    upload(rt, world, STUDENTS[0], at=world.now - timedelta(minutes=5))
    rows = staff_rows(rt)
    assert rows[STUDENTS[0]][0] is None and "requires code" not in rows[STUDENTS[0]][2]
    assert rows[STUDENTS[1]][0] == "due" and "none is uploaded yet" in rows[STUDENTS[1]][2]
    graded = rows[STUDENTS[1]][1]
    assert graded > 0
    set_code_deadline_and_policy(rt, world.now - timedelta(minutes=1))  # passed; the course says "flag"
    rows = staff_rows(rt)
    assert rows[STUDENTS[1]][:2] == ("flag", graded) and "flagged to staff" in rows[STUDENTS[1]][2]
    assert rows[STUDENTS[0]][0] is None  # ada's code came before the deadline


def test_with_missing_code_zero_the_final_grade_is_zero_once_the_deadline_passed(rt, world, podium_cli):
    upload(rt, world, STUDENTS[0], at=world.now - timedelta(minutes=5))
    set_code_deadline_and_policy(rt, world.now + timedelta(days=1), missing_code="zero")
    assert staff_rows(rt)[STUDENTS[1]][0] == "due" and staff_rows(rt)[STUDENTS[1]][1] > 0  # code may still come
    set_code_deadline_and_policy(rt, world.now - timedelta(minutes=1))
    rows = staff_rows(rt)
    assert rows[STUDENTS[1]][:2] == ("zero", 0.0) and rows[STUDENTS[1]][3] == 0.0
    assert "final grade 0" in rows[STUDENTS[1]][2]
    assert rows[STUDENTS[0]][0] is None and rows[STUDENTS[0]][1] == pytest.approx(0.9 * 105)  # all right, after early
    with rt.db.session() as session:  # as the student reads it too
        report = grading.student_report(session, get_competition(session, CID).course,
                                        session.get(User, world.users[STUDENTS[1]]), staff=False)
        assert report.rows[0].grade.final == 0.0 and "final grade 0" in report.rows[0].explanation
    assert "none was uploaded by the code deadline: final grade 0" in podium_cli("grades", "explain", CID,
                                                                                STUDENTS[1]).stdout


def test_an_extension_keeps_the_grade_while_the_students_code_deadline_runs(rt, world):
    set_code_deadline_and_policy(rt, world.now - timedelta(minutes=1), missing_code="zero")
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        extensions.grant(session, comp, session.get(User, world.users[STUDENTS[1]]), days=1, reason="ill", actor=TA)
    rows = staff_rows(rt)
    assert rows[STUDENTS[1]][0] == "due" and rows[STUDENTS[0]][:2] == ("zero", 0.0)


def test_finalisation_and_release_wait_for_the_last_code_deadline(rt, world):
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        code_deadline = comp.code_deadline
        extensions.grant(session, comp, session.get(User, world.users[STUDENTS[0]]), hours=5, reason="ill", actor=TA)
    between = code_deadline + timedelta(hours=1)  # after everyone's late deadline and the class's code deadline
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        assert comp.late + timedelta(hours=5) < between
        assert finalisations.due_at(session, comp, grace=0) == code_deadline + timedelta(hours=5)
        assert CID not in [c.public_id for c in finalisations.ready_to_finalise(session, grace=0, now=between)]
        readiness = finalisations.release_readiness(session, comp, now=between)
        [reason] = readiness.reasons("UTC")  # the late windows, extended one included, are closed
        assert not readiness.ready and reason.startswith("code is due until")
        after = code_deadline + timedelta(hours=5, seconds=1)
        assert CID in [c.public_id for c in finalisations.ready_to_finalise(session, grace=0, now=after)]
        assert finalisations.release_readiness(session, comp, now=after).ready
