"""Backups: `podium export` and `podium import` round-trip a course whole, between SQLite and PostgreSQL too.

A course with a history (scored, failed and queued submissions, a late one spending slack, final marks, a staff
benchmark, extensions granted and revoked, a slack ledger, a finalised and released competition) is exported and imported elsewhere; every
row is compared by natural keys (ids are new), every file by its sha256, and the grades must be the same.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, select

from podium.cli import cli
from podium.models import (
    AuditEvent,
    Base,
    CodeSubmission,
    Competition,
    Course,
    CourseInvitation,
    DataFile,
    Enrolment,
    Extension,
    GradeChange,
    SlackEntry,
    Submission,
    User,
)
from podium.runtime import Runtime, make_runtime
from podium.services import (backup, competitions, courses, extensions, grading, invitations, ratelimit, regrades,
                             selection, slack, submissions)
from podium.services import users as users_service
from podium.testing.postgres import TemporaryPostgres
from tests.conftest import predictions, write_course

PASSWORD = "correct horse battery"
ANA, BEN, CAT, DAN = "ana@example.edu", "ben@example.edu", "cat@example.edu", "dan@example.edu"
GUS = "gus@example.edu"  # joins through an invitation link

# What the comparison leaves out, and why: a scoring claim and an account's session generation are not backed up
# (see backup.EXCLUDED_COLUMNS).
NOT_COMPARED = {"submissions": {"id", "claimed_by", "lease_until"}, "users": {"id", "session_epoch"}}
# Columns that name a file or folder: compared by the sha256 of what they point to, not by the path.
FILE_COLUMNS = {("data_files", "path"), ("submissions", "file_path"), ("code_submissions", "file_path")}
FOLDER_COLUMNS = {("competitions", "compiled_dir"), ("competitions", "source_dir")}
MODELS = (User, Course, Enrolment, Competition, DataFile, Submission, Extension, SlackEntry, AuditEvent,
          GradeChange, CourseInvitation, CodeSubmission)


# --- building a course with a history ---------------------------------------------------------------------


@dataclasses.dataclass
class History:
    api_key: str
    invitation: str = ""  # the token of a working invitation link


def build_course(rt: Runtime, root: Path, slug: str = "c1") -> History:
    now = datetime.now(timezone.utc)
    folder = write_course(root, slug=slug, competition="hw1", now=now)
    write_course(root, slug=slug, competition="hw0", now=now - timedelta(days=20))  # closed 13 days ago
    with rt.db.session() as session:
        course = courses.load_course(session, rt.settings, folder, actor="test")
        course = courses.get_course(session, slug)
        for email, role, name in ((ANA, "student", "Ana Zoë"), (BEN, "student", "Ben"),
                                  (CAT, "instructor", "Cat"), (DAN, "student", "=Dan")):
            users_service.add_user(session, email, course, role, name=name, password=PASSWORD,
                                   leaderboard_name=f"{name} 🚀" if email == ANA else "", actor="test")
        api_key = users_service.issue_api_key(session, users_service.get_user(session, ANA), actor="test")
        hw0, hw1 = (courses.get_competition(session, f"{slug}-{c}") for c in ("hw0", "hw1"))
        ids = {email: users_service.get_user(session, email).id for email in (ANA, BEN, CAT, DAN)}
        hw0_id, hw1_id = hw0.id, hw1.id

    def submit(comp_id, email, text, days_ago, *, score=True, staff=None, description="", benchmark=None):
        sub = submissions.receive(rt.db, rt.settings, comp_id, ids[email], io.BytesIO(text.encode()),
                                  "predictions.csv", description, at=now - timedelta(days=days_ago),
                                  recorded_by=staff, benchmark=benchmark)
        return (submissions.score(rt.db, rt.settings, sub.id) or sub) if score else sub

    on_time = submit(hw0_id, ANA, predictions(set(range(16))), 22, description="first try")
    submit(hw0_id, ANA, predictions(), 15, staff="cli:staff", description="late, recorded by staff")
    submit(hw0_id, BEN, predictions(set(range(12))), 21)
    submit(hw1_id, ANA, predictions(set(range(18))), 1)
    failed = submit(hw1_id, BEN, "foo,bar\n1,2\n", 1, description="wrong header")
    assert failed.status.value == "failed"
    submit(hw1_id, BEN, predictions(), 0, score=False)  # still queued when the backup is made
    submit(hw1_id, CAT, predictions(set(range(10))), 0, staff="cli:staff", benchmark="Baseline 🚀")

    with rt.db.session() as session:
        selection.set_mark(session, on_time.id, True, by=None, actor="test")
        course = courses.get_course(session, slug)
        hw0, hw1 = session.get(Competition, hw0_id), session.get(Competition, hw1_id)
        ben = users_service.get_user(session, BEN)
        extensions.grant(session, hw1, ben, days=2, reason="ill", actor="test")
        revoked = extensions.grant(session, hw1, users_service.get_user(session, DAN), days=1, reason="travel",
                                   actor="test")
        extensions.revoke(session, revoked.id, actor="test")
        slack.import_ledger(session, course, f"email,days,note\n{ANA},1,autolab part\n{BEN},2,\n", actor="test")
        competitions.finalise(session, hw0, actor="test")
        competitions.release(session, hw0, actor="test")
        regrades.record(session, course, [regrades.Change(ANA, hw0.public_id, 81.0, 79.5)], reason="regrade: test",
                        actor="test", action="grades.regrade")
        link = invitations.create(session, course, by=users_service.get_user(session, CAT), actor=CAT,
                                  label="section A", domains="example.edu", expires_at=now + timedelta(days=30))
        invitations.revoke(session, course, invitations.create(session, course, by=users_service.get_user(
            session, CAT), actor=CAT, label="leaked").invitation.id, by=users_service.get_user(session, CAT), actor=CAT)
        gus = User(email=GUS, name="Gus")
        session.add(gus)
        session.flush()
    with rt.db.session() as session:
        limiter = ratelimit.Limiter(rt.db, rt.settings.rate_limits)
        invitations.join(session, limiter, link.token, users_service.get_user(session, GUS), "127.0.0.1")
    return History(api_key=api_key, invitation=link.token)


# --- comparing by natural keys ----------------------------------------------------------------------------


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def folder_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def snapshot(rt: Runtime, slug: str) -> dict[str, list]:
    """Every row of the course, table by table: ids replaced by natural keys, paths by the sha256 of the files."""
    with rt.db.session() as session:
        course_id = session.scalar(select(Course.id).where(Course.slug == slug))
        comp_ids = select(Competition.id).where(Competition.course_id == course_id)
        owned = {
            Course: Course.id == course_id,
            Enrolment: Enrolment.course_id == course_id,
            Competition: Competition.course_id == course_id,
            DataFile: DataFile.competition_id.in_(comp_ids),
            Submission: Submission.competition_id.in_(comp_ids),
            Extension: Extension.competition_id.in_(comp_ids),
            SlackEntry: SlackEntry.course_id == course_id,
            AuditEvent: AuditEvent.course_id == course_id,
            GradeChange: GradeChange.course_id == course_id,
            CourseInvitation: CourseInvitation.course_id == course_id,
            CodeSubmission: CodeSubmission.competition_id.in_(comp_ids),
        }
        rows = {model: [dict(r) for r in session.execute(select(model.__table__).where(where)).mappings()]
                for model, where in owned.items()}
        user_ids = {r["user_id"] for model in (Enrolment, Submission, Extension, SlackEntry, CodeSubmission)
                    for r in rows[model]}
        rows[User] = [dict(r) for r in session.execute(select(User.__table__).where(User.id.in_(user_ids))).mappings()]
    email = {r["id"]: r["email"] for r in rows[User]}
    comp = {r["id"]: r["slug"] for r in rows[Competition]}
    natural = {
        "users": email,
        "courses": {course_id: slug},
        "competitions": comp,
        "submissions": {r["id"]: (comp[r["competition_id"]], email[r["user_id"]], r["submitted_at"].isoformat(),
                                  r["sha256"]) for r in rows[Submission]},
        "extensions": {r["id"]: (comp[r["competition_id"]], email[r["user_id"]], r["granted_at"].isoformat())
                       for r in rows[Extension]},
        "slack_entries": {r["id"]: (email[r["user_id"]], r["recorded_at"].isoformat(), r["days"])
                          for r in rows[SlackEntry]},
        "audit_events": {r["id"]: (r["action"], r["at"].isoformat()) for r in rows[AuditEvent]},
        "course_invitations": {r["id"]: r["token_hash"] for r in rows[CourseInvitation]},
    }
    return {model.__tablename__: sorted((json.dumps(_natural_row(rt, model.__tablename__, r, natural),
                                                    sort_keys=True, default=str) for r in rows[model]))
            for model in MODELS}


def _natural_row(rt: Runtime, table: str, row: dict, natural: dict) -> dict:
    refs = {"user_id": "users", "course_id": "courses", "competition_id": "competitions",
            "audit_event_id": "audit_events"}
    out = {}
    for name, value in row.items():
        if name in NOT_COMPARED.get(table, {"id"}):
            continue
        if name in refs and value is not None:
            value = natural[refs[name]][value]
        elif (table, name) in FILE_COLUMNS:
            value = file_digest(rt.settings.located(value))
        elif (table, name) in FOLDER_COLUMNS:
            value = folder_digest(rt.settings.located(value))
        elif hasattr(value, "value"):
            value = value.value
        out[name] = value
    if table == "audit_events":
        out["target"], out["details"] = _natural_audit(row, natural)
    return out


def _natural_audit(row: dict, natural: dict):
    """The ids an audit event names, as natural keys: they must point at the same rows after an import."""
    target, details = row["target"], dict(row["details"])
    if row["action"].startswith("submission."):
        target = natural["submissions"][int(target)]
    if row["action"].startswith("extension."):
        details["extension"] = natural["extensions"][details["extension"]]
    if row["action"].startswith("invitation."):
        details["invitation"] = natural["course_invitations"][details["invitation"]]
    if row["action"] == "slack.record":
        target, details["entry"] = natural["users"][int(target)], natural["slack_entries"][details["entry"]]
    return target, details


def grades(rt: Runtime, slug: str) -> list:
    """Every student's grades under both slack policies, submissions named by natural keys."""
    out = []
    with rt.db.session() as session:
        course = courses.get_course(session, slug)
        of_course = select(Submission).join(Competition).where(Competition.course_id == course.id)
        subs = {s.id: (s.competition.slug, s.user.email, s.submitted_at.isoformat(), s.sha256)
                for s in session.scalars(of_course)}
        for slack_policy, reports in grading.gradebooks(session, course, ["chronological", "optimal"]).items():
            for report in reports:
                rows = []
                for row in report.rows:
                    grade = dataclasses.asdict(row.grade)
                    grade["submission_id"] = subs.get(grade["submission_id"])
                    # The explanation names the submission that counts by its id, which an import changes.
                    explanation = re.sub(r"submission (\d+)", lambda m: f"submission {subs[int(m[1])]}",
                                         row.explanation)
                    rows.append((row.competition.slug, json.dumps(grade, sort_keys=True, default=str), explanation))
                out.append((slack_policy, report.user.email, report.budget, report.slack_used, report.total, rows))
    return sorted(out, key=repr)


def without_import_event(snap: dict) -> dict:
    events = [e for e in snap["audit_events"] if json.loads(e)["action"] != "course.import"]
    return {**snap, "audit_events": events}


# --- runtimes and the command ---------------------------------------------------------------------------


def sqlite_runtime(folder: Path) -> Runtime:
    runtime = make_runtime(data_dir=folder, database_url=f"sqlite:///{folder / 'podium.db'}")
    runtime.db.upgrade()
    return runtime


def run(runtime: Runtime, *args):
    """`podium ...` in-process against `runtime`."""
    return CliRunner().invoke(cli, [str(a) for a in args], obj=runtime, catch_exceptions=False)


def leftovers(runtime: Runtime) -> list[str]:
    """What an import may have left in the data directory: staging folders, the course's folders, uploads."""
    data = runtime.settings.data_dir
    found = [p.name for p in data.glob(".import-*")]
    for folder in (data / "courses", data / "compiled", data / "uploads"):
        if folder.is_dir():
            found += [f"{folder.name}/{p.name}" for p in folder.iterdir()]
    return sorted(found)


def build_exported(rt: Runtime, folder: Path, _now) -> tuple:
    history = build_course(rt, folder / "src")
    result = run(rt, "export", "c1", "-o", folder / "c1.zip")
    assert result.exit_code == 0, result.stderr
    return "c1.zip", snapshot(rt, "c1"), grades(rt, "c1"), history, result.stdout


@pytest.fixture
def exported(rt, tmp_path, worlds, world_database):
    """The course built in the test's runtime, its snapshot and grades, and its archive written by `podium export`
    (in tmp_path): a copy of what `build_exported` made once for the run."""
    name, *rest = worlds.copy_into(rt, tmp_path, "backup export", build_exported)
    return (tmp_path / name, *rest)


@pytest.fixture
def target(tmp_path) -> Runtime:
    runtime = sqlite_runtime(tmp_path / "restored")
    yield runtime
    runtime.db.dispose()


# --- round trips ------------------------------------------------------------------------------------------


def test_export_then_import_into_a_fresh_database_restores_every_row_file_and_grade(exported, target):
    archive, before, grades_before, history, export_line = exported
    assert export_line.startswith("c1: 2 competitions, 5 users, 7 submissions")

    result = run(target, "import", archive)

    assert result.exit_code == 0, result.stderr
    assert "c1 imported from" in result.stdout and "5 users" in result.stdout
    after = snapshot(target, "c1")
    assert without_import_event(after) == before
    assert grades(target, "c1") == grades_before
    assert [json.loads(e)["action"] for e in after["audit_events"]].count("course.import") == 1


def test_invitation_links_come_back_working_and_the_archive_holds_no_token(exported, target):
    archive, _, _, history, _ = exported
    with zipfile.ZipFile(archive) as zf:
        assert all(history.invitation.encode() not in zf.read(name) for name in zf.namelist())
        links = [json.loads(line) for line in zf.read("tables/course_invitations.jsonl").splitlines()]
    assert sorted((row["label"], row["joined"], row["revoked_by"]) for row in links) == [
        ("leaked", 0, CAT), ("section A", 1, None)]
    assert run(target, "import", archive).exit_code == 0
    with target.db.session() as session:
        newcomer = User(email="fay@example.edu")
        session.add(newcomer)
        session.flush()
        limiter = ratelimit.Limiter(target.db, target.settings.rate_limits)
        joined = invitations.join(session, limiter, history.invitation, newcomer, "127.0.0.1")
        assert joined.course.slug == "c1" and joined.invitation.joined == 2


def test_an_archive_written_before_invitation_links_existed_imports(exported, target, tmp_path):
    old = rewrite(exported[0], tmp_path / "before-links.zip", drop="tables/course_invitations.jsonl",
                  update_manifest=True)
    result = run(target, "import", old)
    assert result.exit_code == 0, result.stderr
    with target.db.session() as session:
        assert session.scalars(select(CourseInvitation)).all() == []


def test_the_archive_says_what_it_is_and_lists_every_member_with_its_sha256(exported):
    archive = exported[0]
    assert archive.stat().st_mode & 0o077 == 0  # it holds password hashes: readable by its owner only
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == "podium-course-backup" and manifest["format_version"] == backup.FORMAT_VERSION
        assert manifest["course"] == "c1" and manifest["alembic_revision"]
        assert datetime.fromisoformat(manifest["created_at"]).utcoffset() == timedelta(0)
        assert manifest["counts"]["submissions"] == 7 and manifest["counts"]["competitions"] == 2
        assert set(manifest["files"]) == set(zf.namelist()) - {"manifest.json"}
        for member, entry in manifest["files"].items():
            assert hashlib.sha256(zf.read(member)).hexdigest() == entry["sha256"], member
        submissions_rows = [json.loads(line) for line in zf.read("tables/submissions.jsonl").splitlines()]
    assert all(row["file_path"].startswith("files/uploads/") for row in submissions_rows)
    assert {row["status"] for row in submissions_rows} == {"scored", "failed", "queued"}
    assert [row["benchmark_name"] for row in submissions_rows if row["benchmark_name"]] == ["Baseline 🚀"]
    assert all(row["submitted_at"].endswith("+00:00") for row in submissions_rows)


def test_an_imported_course_works_people_sign_in_and_new_uploads_are_scored(exported, target):
    archive, _, _, history, _ = exported
    assert run(target, "import", archive).exit_code == 0

    with target.db.session() as session:
        ana = users_service.get_user(session, ANA)
        assert users_service.authenticate_key(session, ANA, history.api_key).id == ana.id
        assert users_service.check_password(ana, PASSWORD)
        comp_id = courses.get_competition(session, "c1-hw1").id
        ana_id = ana.id
        downloaded = courses.data_file(target.settings, courses.get_competition(session, "c1-hw1"), "README.md",
                                       staff=False, now=datetime.now(timezone.utc))
        assert downloaded.read_text().startswith("# Homework")
    sub = submissions.receive(target.db, target.settings, comp_id, ana_id, io.BytesIO(predictions().encode()),
                              "again.csv")
    scored = submissions.score(target.db, target.settings, sub.id)
    assert scored.status.value == "scored" and scored.public_score == 1.0


def test_sqlite_to_postgresql_and_back_keeps_every_row_file_and_grade(tmp_path, postgres):
    source = sqlite_runtime(tmp_path / "sqlite-a")
    build_course(source, tmp_path / "src")
    before, grades_before = snapshot(source, "c1"), grades(source, "c1")
    assert run(source, "export", "c1", "-o", tmp_path / "a.zip").exit_code == 0

    on_postgres = make_runtime(data_dir=tmp_path / "pg", database_url=postgres.create_database())
    assert run(on_postgres, "import", tmp_path / "a.zip").exit_code == 0
    assert on_postgres.db.engine.dialect.name == "postgresql"
    assert without_import_event(snapshot(on_postgres, "c1")) == before
    assert grades(on_postgres, "c1") == grades_before
    assert run(on_postgres, "export", "c1", "-o", tmp_path / "b.zip").exit_code == 0

    back = sqlite_runtime(tmp_path / "sqlite-b")
    result = run(back, "import", tmp_path / "b.zip")
    assert result.exit_code == 0, result.stderr
    after = snapshot(back, "c1")
    imports = [e for e in after["audit_events"] if json.loads(e)["action"] == "course.import"]
    assert len(imports) == 2  # the first import's event travelled with the course, and this one's was added
    assert without_import_event(after) == before
    assert grades(back, "c1") == grades_before
    for runtime in (source, on_postgres, back):
        runtime.db.dispose()


@pytest.fixture(scope="module")
def postgres():
    cluster = TemporaryPostgres().start()
    yield cluster
    cluster.stop()


# --- a database with other courses ------------------------------------------------------------------------


def test_import_beside_another_course_remaps_ids_keeps_both_and_keeps_existing_accounts(exported, target, tmp_path):
    archive, before, grades_before, _, _ = exported
    other = write_course(tmp_path / "other", slug="c2", competition="hw9")
    with target.db.session() as session:
        courses.load_course(session, target.settings, other, actor="test")
        c2 = courses.get_course(session, "c2")
        users_service.add_user(session, ANA, c2, "staff", name="Ana Elsewhere", password="another password",
                               actor="test")
        eve = users_service.add_user(session, "eve@example.edu", c2, "student", name="Eve", actor="test")
        hw9_id, eve_id = courses.get_competition(session, "c2-hw9").id, eve.id
    # c2's submission takes the first submission id here, as c1's first one had at the source.
    submissions.score(target.db, target.settings, submissions.receive(
        target.db, target.settings, hw9_id, eve_id, io.BytesIO(predictions().encode()), "eve.csv").id)
    build_c2_history = snapshot(target, "c2")
    c2_grades = grades(target, "c2")

    result = run(target, "import", archive)

    assert result.exit_code == 0, result.stderr
    assert "1 existing accounts kept" in result.stdout
    assert snapshot(target, "c2") == build_c2_history and grades(target, "c2") == c2_grades
    after = without_import_event(snapshot(target, "c1"))
    assert {k: v for k, v in after.items() if k != "users"} == {k: v for k, v in before.items() if k != "users"}
    assert grades(target, "c1") == grades_before
    with target.db.session() as session:
        ana = users_service.get_user(session, ANA)
        assert ana.name == "Ana Elsewhere" and users_service.check_password(ana, "another password")
        assert sorted(e.course.slug for e in ana.enrolments) == ["c1", "c2"]
        # The target's c2 took the first ids, so the course's rows were given new ones.
        assert session.scalar(select(Course.id).where(Course.slug == "c1")) == 2
        assert session.scalar(select(Submission.user_id).where(Submission.id == 1)) == eve_id


# --- refusals ---------------------------------------------------------------------------------------------


def test_importing_a_course_whose_slug_exists_is_refused_and_changes_nothing(exported, rt, podium_cli):
    archive, before = exported[0], exported[1]

    result = podium_cli("import", archive)

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: a course 'c1' exists already; `podium import --replace` replaces it (its rows and files) with the "
        "archive's"]
    assert snapshot(rt, "c1") == before
    assert not list(rt.settings.data_dir.glob(".import-*"))


def test_replace_restores_the_course_as_it_was_exported(exported, rt, podium_cli, tmp_path):
    archive, before, grades_before, _, _ = exported
    with rt.db.session() as session:
        hw1 = courses.get_competition(session, "c1-hw1")
        comp_id, user_id = hw1.id, users_service.get_user(session, DAN).id
        competitions.release(session, hw1, actor="test", override="released early for the test")
    extra = submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(predictions().encode()), "dan.csv")
    assert snapshot(rt, "c1") != before

    result = podium_cli("import", "--replace", archive)

    assert result.exit_code == 0, result.stderr
    assert "replacing the course that was there" in result.stdout
    assert without_import_event(snapshot(rt, "c1")) == before
    assert grades(rt, "c1") == grades_before
    assert not Path(extra.file_path).exists()  # the replaced course's files went with it
    assert not list(rt.settings.data_dir.glob(".import-*"))


def rewrite(source: Path, dest: Path, *, change=None, add: dict[str, bytes] | None = None,
            drop: str | None = None, update_manifest: bool = False) -> Path:
    """A copy of an archive with one member changed, added or dropped; the manifest follows only when asked."""
    with zipfile.ZipFile(source) as zin:
        members = {name: zin.read(name) for name in zin.namelist()}
    manifest = json.loads(members["manifest.json"])
    for name in list(members):
        if change is not None and name != "manifest.json":
            members[name] = change(name, members[name])
    members.update(add or {})
    if drop:
        del members[drop]
    if update_manifest:
        manifest["files"] = {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                             for name, data in members.items() if name != "manifest.json"}
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dest, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return dest


def first_upload(archive: Path) -> str:
    with zipfile.ZipFile(archive) as zf:
        return next(n for n in zf.namelist() if n.startswith("files/uploads/"))


def assert_refused(runtime: Runtime, archive: Path, *expected: str) -> None:
    result = run(runtime, "import", archive)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    with runtime.db.session() as session:
        assert session.scalar(select(Course).where(Course.slug == "c1")) is None
        assert session.scalar(select(User).where(User.email == ANA)) is None
    assert leftovers(runtime) == []


def test_a_changed_file_is_refused_naming_it(exported, target, tmp_path):
    archive = exported[0]
    upload = first_upload(archive)
    tampered = rewrite(archive, tmp_path / "tampered.zip",
                       change=lambda name, data: data.replace(b"\n0,0", b"\n0,1", 1) if name == upload else data)

    assert_refused(target, tampered, upload, "does not match its sha256 in the manifest")


def test_a_changed_row_is_refused_naming_its_table(exported, target, tmp_path):
    archive = exported[0]
    tampered = rewrite(archive, tmp_path / "tampered.zip", change=lambda name, data: data.replace(
        b'"status": "failed"', b'"status": "scored"') if name == "tables/submissions.jsonl" else data)

    assert_refused(target, tampered, "tables/submissions.jsonl", "does not match its sha256")


def test_a_truncated_archive_is_refused(exported, target, tmp_path):
    archive = exported[0]
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    assert_refused(target, truncated, "truncated.zip is not a complete zip archive")


def test_a_member_missing_from_the_archive_is_refused_naming_it(exported, target, tmp_path):
    archive = exported[0]
    upload = first_upload(archive)

    assert_refused(target, rewrite(archive, tmp_path / "short.zip", drop=upload), upload, "missing from the archive")


@pytest.mark.parametrize("name", ["files/course/../../../../escaped.txt", "/etc/escaped.txt",
                                  "files/course/..\\..\\escaped.txt", "files/./course/x"])
def test_a_member_that_climbs_out_of_its_folder_is_refused(exported, target, tmp_path, name):
    archive = exported[0]
    # Even listed in the manifest with the right sha256: the name alone is refused.
    hostile = rewrite(archive, tmp_path / "hostile.zip", add={name: b"owned"}, update_manifest=True)

    assert_refused(target, hostile, repr(name), "unsafe")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_row_naming_a_folder_outside_the_archive_is_refused(exported, target, tmp_path):
    def point_elsewhere(name: str, data: bytes) -> bytes:
        if name != "tables/competitions.jsonl":
            return data
        return data.replace(b'"source_dir": "files/course/hw1"', b'"source_dir": "files/course/../../../elsewhere"')

    # The manifest follows the change: only the name in the row is wrong.
    hostile = rewrite(exported[0], tmp_path / "hostile.zip", update_manifest=True, change=point_elsewhere)

    assert_refused(target, hostile, "tables/competitions.jsonl line ",
                   ": source_dir 'files/course/../../../elsewhere' is unsafe")


def test_a_manifest_whose_course_is_not_a_slug_is_refused(exported, target, tmp_path):
    with zipfile.ZipFile(exported[0]) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["course"] = "../../c1"
    members["manifest.json"] = json.dumps(manifest).encode()
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)

    assert_refused(target, hostile, "the course '../../c1' in manifest.json is not a slug")


def test_a_member_not_in_the_manifest_is_refused(exported, target, tmp_path):
    extra = rewrite(exported[0], tmp_path / "extra.zip", add={"files/course/hw1/files/extra.csv": b"1,2\n"})

    assert_refused(target, extra, "files/course/hw1/files/extra.csv", "not listed in the manifest")


def test_an_archive_larger_than_the_limit_is_refused_before_anything_is_written(exported, target):
    result = run(target, "import", "--max-size", "0.000001", exported[0])
    assert result.exit_code == 1
    assert "more than the 1,000 bytes an import accepts (see --max-size)" in result.stderr
    assert leftovers(target) == []


def test_an_archive_from_a_newer_podium_is_refused(exported, target, tmp_path):
    archive = exported[0]
    with zipfile.ZipFile(archive) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["format_version"] = backup.FORMAT_VERSION + 1
    members["manifest.json"] = json.dumps(manifest).encode()
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)

    assert_refused(target, newer, "written by a newer Podium", "upgrade Podium")


def test_a_file_that_is_not_an_archive_is_refused_in_one_line(target, tmp_path):
    not_zip = tmp_path / "grades.csv"
    not_zip.write_text("email,grade\n")

    assert_refused(target, not_zip, "grades.csv is not a complete zip archive")


def test_a_row_the_database_refuses_after_files_were_placed_leaves_nothing_behind(exported, target, tmp_path):
    """All or nothing: the course folders were already moved into place when the row fails; they go back, and a
    leftover folder that was set aside for them is put back too."""
    archive = exported[0]
    leftover = target.settings.courses_dir / "c1" / "notes.txt"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("kept")
    too_long = rewrite(archive, tmp_path / "long.zip", update_manifest=True, change=lambda name, data: data.replace(
        b'"file_name": "predictions.csv"', b'"file_name": "' + b"x" * 300 + b'"', 1)
        if name == "tables/submissions.jsonl" else data)

    result = run(target, "import", too_long)

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: The file name is at most 255 characters long; 300 were given."
    assert leftover.read_text() == "kept"
    assert sorted(p.name for p in (target.settings.data_dir / "courses" / "c1").iterdir()) == ["notes.txt"]
    assert not (target.settings.compiled_dir / "c1").exists()
    assert not list(target.settings.data_dir.glob(".import-*"))
    with target.db.session() as session:
        assert session.scalar(select(User).where(User.email == ANA)) is None


def test_export_of_an_unknown_course_is_one_line(podium_cli, tmp_path):
    result = podium_cli("export", "nope", "-o", tmp_path / "nope.zip")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no course 'nope'; `podium load DIR` creates one"
    assert not (tmp_path / "nope.zip").exists()


def test_export_refuses_a_damaged_upload_and_writes_no_archive(rt, tmp_path, podium_cli):
    build_course(rt, tmp_path / "src")
    with rt.db.session() as session:
        path = rt.settings.located(session.scalars(select(Submission.file_path)).first())
    path.write_text("id,label\n0,0\n")

    result = podium_cli("export", "c1", "-o", tmp_path / "c1.zip")

    assert result.exit_code == 1
    assert f"{path} does not match the sha256 the database records for it" in result.stderr
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".c1.zip.*"))


# --- the format keeps up with the schema ------------------------------------------------------------------


def test_every_table_that_hangs_off_a_course_is_backed_up_or_left_out_on_purpose():
    assert backup.uncovered_tables(Base.metadata) == [], (
        "a table refers to a course-owned table: add it to backup.TABLES or, with the reason, to "
        "backup.EXCLUDED_TABLES")


def test_the_coverage_check_notices_a_new_table_of_a_competition():
    metadata = MetaData()
    for model in (Course, Competition):
        model.__table__.to_metadata(metadata)
    Table("notes", metadata, Column("id", Integer, primary_key=True),
          Column("competition_id", ForeignKey("competitions.id")))

    assert backup.uncovered_tables(metadata) == ["notes"]


def test_every_column_of_a_backed_up_table_is_written_or_left_out_on_purpose():
    assert backup.uncovered_columns() == {}, (
        "add the column to its table's list in backup.TABLES, or with the reason to backup.EXCLUDED_COLUMNS")
    assert {spec.name for spec in backup.TABLES} == {model.__tablename__ for model in MODELS}


def test_a_format_1_archive_puts_each_users_leaderboard_name_on_their_enrolment(exported, target, tmp_path):
    """Format 1 kept the leaderboard name on the user; importing it gives the name to the enrolment."""
    archive = exported[0]

    def as_format_1(name: str, data: bytes) -> bytes:
        if name not in ("tables/users.jsonl", "tables/enrolments.jsonl"):
            return data
        rows = [json.loads(line) for line in data.decode().splitlines() if line]
        if name == "tables/enrolments.jsonl":
            for row in rows:
                del row["leaderboard_name"], row["leaderboard_key"]
        else:
            for row in rows:
                row["leaderboard_name"] = f"{row['name']} 🚀" if row["email"] == ANA else ""
        return "".join(json.dumps(row) + "\n" for row in rows).encode()

    old = rewrite(archive, tmp_path / "format1.zip", change=as_format_1, update_manifest=True)
    with zipfile.ZipFile(old) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["format_version"] = 1
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(old, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    result = run(target, "import", old)
    assert result.exit_code == 0, result.stderr
    with target.db.session() as session:
        ana = session.scalar(select(User).where(User.email == ANA))
        (enrolment,) = ana.enrolments
        assert enrolment.leaderboard_name.endswith(" 🚀") and enrolment.leaderboard_key == enrolment.leaderboard_name.casefold()


def test_an_archives_emails_are_stored_in_the_one_spelling_accounts_are_found_by(exported, target, tmp_path):
    """An archive edited by hand (or written by a crafted tool) cannot store an address any other way than Podium
    does: a mixed-case one is normalised, and one that is no address is refused naming its line."""
    shouting = ANA.upper().encode()

    def respell(name: str, data: bytes) -> bytes:
        return data.replace(ANA.encode(), shouting) if name == "tables/users.jsonl" else data

    mixed = rewrite(exported[0], tmp_path / "mixed.zip", update_manifest=True, change=respell)
    assert run(target, "import", mixed).exit_code == 0
    with target.db.session() as session:
        assert session.scalar(select(User.email).where(User.email.in_([ANA, ANA.upper()]))) == ANA

    def break_it(name: str, data: bytes) -> bytes:
        return data.replace(ANA.encode(), b"not an address") if name == "tables/users.jsonl" else data

    hostile = rewrite(exported[0], tmp_path / "hostile.zip", update_manifest=True, change=break_it)
    result = run(target, "import", hostile, "--replace")
    assert result.exit_code == 1
    assert "tables/users.jsonl line " in result.stderr and "is not a valid email address" in result.stderr
