"""Course backups: `podium export COURSE -o FILE.zip` writes one course whole, `podium import FILE.zip` restores it.

An archive is a zip file:

    manifest.json                          what the archive is and holds (below)
    tables/<table>.jsonl                   one JSON object per row: "id" (the source's key) and the columns of
                                           `TABLES`; foreign keys hold the source's ids; datetimes ISO 8601 in UTC
    files/course/<path>                    the course folder copy (data files, custom metrics): data_dir/courses/<slug>
    files/compiled/<competition>/<dir>/..  each competition's compiled solution in use
    files/uploads/<submission id>/<name>   each submission's uploaded file
    files/code/<code submission id>/<name> each code upload (podium.services.code)

The manifest gives the format and its version, the Podium version and the database's Alembic revision that wrote
it, when, the course, the number of rows per table, and the size and sha256 of every other member. A column that
names a file or a folder holds its place in the archive, never a path of the machine that wrote it; import puts the
file under its own data directory and stores that path.

Import checks the whole archive (member names, sizes, every sha256) before it touches anything, stages the files in
a private folder of the data directory, writes every row in one transaction with new ids (users are matched by
email), moves the staged folders into place, and commits. A failure at any step undoes the moves and rolls the
transaction back, so nothing of a refused or failed import is left behind.
"""
from __future__ import annotations

import enum
import hashlib
import json
import os
import shutil
import tempfile
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

from sqlalchemy import Enum as SqlEnum, Table, delete, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium.errors import PodiumError
from podium.models import (
    AuditEvent,
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
    UTCDateTime,
    utcnow,
)
from podium.services import audit, names, users
from podium.services.courses import get_course
from podium.services.files import TooLarge, fsync_dir, store_stream

FORMAT = "podium-course-backup"
FORMAT_VERSION = 2  # 2: leaderboard names are the enrolments' (format 1 kept one on each user)
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 64 << 20
DEFAULT_MAX_BYTES = 100 * 10**9
# Room kept free on the data directory's disk after staging an archive: a full disk breaks the running server.
FREE_SPACE_MARGIN = 256 * 10**6
CHUNK = 1 << 20

COURSE_FILES, COMPILED_FILES, UPLOAD_FILES = "files/course/", "files/compiled/", "files/uploads/"
CODE_FILES = "files/code/"
# Where each kind of uploaded file goes under the data dir: <folder>/<competition id>/<user id>/<name>.
UPLOAD_ROOTS = {"submissions": (UPLOAD_FILES, "uploads"), "code_submissions": (CODE_FILES, "code")}


class ArchiveError(PodiumError):
    """An archive that cannot be imported: damaged, changed, unsafe or from a newer Podium."""

    code = 422


# --- what an archive holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """One course-owned table: the columns written (besides "id"), which of them are foreign keys to which table,
    and which name a file or a folder."""

    name: str
    model: type
    columns: tuple[str, ...]
    refs: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    # A table added after archives were first written: an archive without it (written before) restores no rows of it.
    optional: bool = False

    @property
    def table(self) -> Table:
        return self.model.__table__


# In the order rows are written back: every table after the ones it refers to. The column lists are explicit, so an
# archive's layout changes only when this list does (and FORMAT_VERSION with it when old archives would misread).
TABLES: tuple[TableSpec, ...] = (
    TableSpec("users", User, ("email", "name", "password_hash", "api_key_hash",
                              "api_key_created_at", "created_at")),
    TableSpec("courses", Course, ("slug", "title", "timezone", "policy", "source_dir", "created_at", "updated_at")),
    TableSpec("enrolments", Enrolment, ("user_id", "course_id", "role", "leaderboard_name", "leaderboard_key",
                                          "created_at", "canvas_user_id", "canvas_sis_user_id",
                                          "canvas_sis_login_id", "canvas_section"),
              refs={"user_id": "users", "course_id": "courses"}),
    # Links are restored working: only their tokens' hashes are kept, so an archive hands out no link.
    TableSpec("course_invitations", CourseInvitation, (
        "course_id", "token_hash", "label", "allowed_domains", "expires_at", "created_by", "created_at", "revoked_at",
        "revoked_by", "joined",
    ), refs={"course_id": "courses"}, optional=True),
    TableSpec("competitions", Competition, (
        "course_id", "slug", "title", "weight", "slack_eligible", "allow_practice", "auto_release",
        "data_visible_before_open", "opens", "early", "ontime", "late", "metric", "higher_is_better", "id_column",
        "expected_header", "cutoffs", "resolved_cutoffs", "display_precision", "daily_limit", "canvas_assignment_id",
        "description", "solution_sha256", "compiled_dir", "source_dir",
        "finalised_at", "released_at", "created_at", "updated_at", "code_deadline", "code_settings",
    ), refs={"course_id": "courses"}, folders=("compiled_dir", "source_dir")),
    TableSpec("data_files", DataFile, ("competition_id", "name", "path", "size_bytes", "sha256", "created_at"),
              refs={"competition_id": "competitions"}, files=("path",)),
    TableSpec("submissions", Submission, (
        "competition_id", "user_id", "submitted_at", "file_path", "file_name", "sha256", "size_bytes", "rows",
        "description", "status", "error", "public_score", "private_score", "scoring_seconds", "scored_at",
        "practice", "selected", "recorded_by", "client_key", "file_removed_at", "attempts", "benchmark_name",
    ), refs={"competition_id": "competitions", "user_id": "users"}, files=("file_path",)),
    TableSpec("extensions", Extension, (
        "competition_id", "user_id", "delta_seconds", "early", "ontime", "late", "reason", "granted_by", "granted_at",
        "revoked_at", "revoked_by",
    ), refs={"competition_id": "competitions", "user_id": "users"}),
    TableSpec("code_submissions", CodeSubmission, (
        "competition_id", "user_id", "submitted_at", "file_path", "file_name", "sha256", "size_bytes", "kind",
        "members", "late",
    ), refs={"competition_id": "competitions", "user_id": "users"}, files=("file_path",), optional=True),
    TableSpec("slack_entries", SlackEntry, ("course_id", "user_id", "days", "note", "recorded_by", "recorded_at"),
              refs={"course_id": "courses", "user_id": "users"}),
    TableSpec("audit_events", AuditEvent, ("at", "actor", "course_id", "action", "target", "details"),
              refs={"course_id": "courses"}),
    TableSpec("grade_changes", GradeChange, ("course_id", "competition_id", "user_id", "old_final", "new_final",
                                             "reason", "actor", "audit_event_id", "at"),
              refs={"course_id": "courses", "competition_id": "competitions", "user_id": "users",
                    "audit_event_id": "audit_events"}),
)
SPECS = {spec.name: spec for spec in TABLES}

# Tables that hang off a course but are left out on purpose, and why. A test fails when a table referring to a
# course-owned one is neither in TABLES nor here, so a new table is never dropped from backups unnoticed.
EXCLUDED_TABLES = {
    "upload_tickets": "a Kaggle upload ticket lives 30 minutes and its token exists only in the client's URL; a "
                      "restored ticket would be expired and its staged file is not the course's",
    "outbox": "a mail belongs to the deployment that sends it: restored, a waiting one would go out twice, and a "
              "waiting reset link is a credential that must not travel in an archive",
    # An LMS link belongs to the deployment registered with that LMS (its keys, its client id): restored elsewhere,
    # the course is linked again by its instructor's first launch, and grades already sent are not sent twice.
    **dict.fromkeys(("lti_contexts", "lti_resource_links", "lti_line_items", "lti_grades"),
                    "an LMS link belongs to the deployment registered with that LMS; the restored course is linked "
                    "again by its instructor's first launch, and no grade is sent to a gradebook twice"),
}
# Columns of exported tables left out on purpose, and why (the same test checks every other column is written).
EXCLUDED_COLUMNS = {
    "users": {
        "session_epoch": "an account's session generation only ends the sessions of the deployment that wrote the "
                         "archive; an account created on import starts with none",
        **dict.fromkeys(("notify_submission_results", "notify_deadline_reminders", "notify_grade_changes"),
                        "a person's choice of mails is theirs across every course, not the course's: an existing "
                        "account keeps its own, and one created on import starts with none until its owner opts in"),
    },
    "submissions": {
        "claimed_by": "a scoring claim belongs to a worker process of the deployment that wrote the archive; without "
                      "it, a submission caught mid-scoring is taken up again by the importing deployment",
        "lease_until": "the claim's lease, left out with the claim",
    },
}

def uncovered_tables(metadata) -> list[str]:
    """Tables that refer to a course-owned table but are neither backed up nor excluded on purpose."""
    owned = {spec.name for spec in TABLES} - {"users"}  # people belong to no one course
    return sorted(table.name for table in metadata.sorted_tables
                  if table.name not in SPECS and table.name not in EXCLUDED_TABLES
                  and any(fk.column.table.name in owned for fk in table.foreign_keys))


def uncovered_columns() -> dict[str, list[str]]:
    """Per backed-up table: columns neither written nor excluded on purpose, and listed columns that do not exist."""
    problems = {}
    for spec in TABLES:
        present = set(spec.table.c.keys()) - {"id"}
        listed = set(spec.columns) | set(EXCLUDED_COLUMNS.get(spec.name, {}))
        if present != listed:
            problems[spec.name] = sorted(present ^ listed)
    return problems


# Audit events name some rows by id in `target` or in a `details` key; the ids are remapped with the rows, so that the
# restored log still points at the same submission, extension, entry or person.
AUDIT_ID_FIELDS = {
    "submission.record": {"target": "submissions"},
    "submission.select": {"target": "submissions"},
    "submission.unselect": {"target": "submissions"},
    "submission.benchmark": {"target": "submissions"},
    "submission.unbenchmark": {"target": "submissions"},
    "submission.describe": {"target": "submissions"},
    "extension.grant": {"extension": "extensions"},
    "extension.revoke": {"extension": "extensions"},
    "slack.record": {"target": "users", "entry": "slack_entries"},
    "slack.edit": {"target": "users", "entry": "slack_entries"},
    "slack.remove": {"target": "users"},  # the entry is gone; its days and note are in the details
    "invitation.create": {"invitation": "course_invitations"},
    "invitation.revoke": {"invitation": "course_invitations"},
    "invitation.join": {"invitation": "course_invitations"},
}


# --- export -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSummary:
    course: str
    path: Path
    counts: dict[str, int]
    files: int
    bytes: int

    def line(self) -> str:
        return (f"{self.course}: {_counted(self.counts)}, {self.files} files ({_megabytes(self.bytes)}) "
                f"written to {self.path}")


def export_course(db: Database, settings: Settings, slug: str, output: Path) -> ExportSummary:
    """Write the course `slug` with all its rows and files to the zip file `output` (replaced when it exists)."""
    rows = read_course_rows(db, slug)
    packing = Packing()
    tables = {name: [_row_to_json(row) for row in table_rows] for name, table_rows in rows.items()}
    pack_course_files(settings, packing, slug, tables)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "podium_version": podium_version(),
        "alembic_revision": alembic_revision(db),
        "created_at": _iso(utcnow()),
        "course": slug,
        "counts": {name: len(table_rows) for name, table_rows in tables.items()},
        "files": {},
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the output and renamed at the end, so a failed export leaves no partial archive; mkstemp makes
    # it readable by its owner only, which suits a file holding password and API key hashes.
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name, table_rows in tables.items():
                manifest["files"][f"tables/{name}.jsonl"] = _write_member(zf, f"tables/{name}.jsonl",
                                                                          _jsonl(table_rows))
            for member, (path, expected_sha) in packing.members.items():
                entry = _write_member(zf, member, _chunks_of(path))
                if expected_sha is not None and entry["sha256"] != expected_sha:
                    raise PodiumError(f"{path} does not match the sha256 the database records for it: the stored "
                                      "file changed or is damaged; nothing was exported")
                manifest["files"][member] = entry
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    files = [e for m, e in manifest["files"].items() if m.startswith("files/")]
    return ExportSummary(slug, output, manifest["counts"], len(files), sum(e["bytes"] for e in files))


def read_course_rows(db: Database, slug: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the course, table by table, read in one transaction so that they agree with each other."""
    # On SQLite the transaction holds the write lock while the rows are read, a moment; the files are copied after it
    # ends, which is safe because a stored file never changes once written (their recorded sha256 is checked).
    with db.session() as session:
        if db.engine.dialect.name == "postgresql":
            # One snapshot for every table: a submission arriving mid-export is in all of them or in none.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        course_id = get_course(session, slug).id
        return {spec.name: _select_rows(session, spec, course_id) for spec in TABLES}


def _select_rows(session: Session, spec: TableSpec, course_id: int) -> list[dict[str, Any]]:
    table = spec.table
    statement = select(table.c.id, *(table.c[name] for name in spec.columns))
    statement = statement.where(table.c.id.in_(_owned_ids(spec.name, course_id))).order_by(table.c.id)
    return [dict(row) for row in session.execute(statement).mappings()]


def _owned_ids(name: str, course_id: int):
    """The ids of the table's rows that belong to the course, as a subquery."""
    competitions = select(Competition.id).where(Competition.course_id == course_id)
    if name == "users":
        # Everyone enrolled, and anyone a submission, extension or ledger entry of the course names (even if
        # their enrolment was removed since).
        return union(
            select(Enrolment.user_id).where(Enrolment.course_id == course_id),
            select(Submission.user_id).where(Submission.competition_id.in_(competitions)),
            select(Extension.user_id).where(Extension.competition_id.in_(competitions)),
            select(SlackEntry.user_id).where(SlackEntry.course_id == course_id),
            select(CodeSubmission.user_id).where(CodeSubmission.competition_id.in_(competitions)),
        )
    table = SPECS[name].table
    if name == "courses":
        return select(table.c.id).where(table.c.id == course_id)
    if "course_id" in table.c:
        return select(table.c.id).where(table.c.course_id == course_id)
    return select(table.c.id).where(table.c.competition_id.in_(competitions))


class Packing:
    """The files an archive will hold: member name -> (path on disk, the sha256 the database expects or None)."""

    def __init__(self) -> None:
        self.members: dict[str, tuple[Path, str | None]] = {}
        self._by_path: dict[Path, str] = {}

    def add_file(self, member: str, path: Path, sha256: str | None = None) -> str:
        resolved = path.resolve()
        if resolved in self._by_path:
            return self._by_path[resolved]
        if not path.is_file():
            raise PodiumError(f"{path} is missing; nothing was exported")
        self.members[member] = (path, sha256)
        self._by_path[resolved] = member
        return member

    def add_tree(self, prefix: str, folder: Path) -> str:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.add_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path)
        return prefix

    def member_of(self, path: Path) -> str | None:
        return self._by_path.get(path.resolve())

    def folder_member(self, folder: Path) -> str | None:
        """The archive folder that holds `folder`, when a tree containing it was packed already."""
        for packed, member in self._by_path.items():
            try:
                relative = packed.relative_to(folder.resolve())
            except ValueError:
                continue
            return member[: len(member) - len(relative.as_posix()) - 1]
        return None


def pack_course_files(settings: Settings, packing: Packing, slug: str, tables: dict[str, list[dict]]) -> None:
    """Choose the files the archive holds and write their archive names into the rows that point at them."""
    course_folder = settings.courses_dir / slug
    if course_folder.is_dir():
        packing.add_tree(COURSE_FILES.rstrip("/"), course_folder)
    slugs = {row["id"]: row["slug"] for row in tables["competitions"]}
    for row in tables["competitions"]:
        source_dir = row["source_dir"] and str(settings.located(row["source_dir"]))
        row["source_dir"] = _pack_folder(packing, source_dir, f"{COURSE_FILES}{row['slug']}")
        compiled = row["compiled_dir"] and str(settings.located(row["compiled_dir"]))
        if compiled:
            # Only the compilation in use: older ones under the same folder are never read again.
            packing.add_tree(f"{COMPILED_FILES}{row['slug']}/{Path(compiled).name}", _existing_folder(
                compiled, f"the compiled solution of {slug}-{row['slug']}", "run `podium load` again"))
            row["compiled_dir"] = f"{COMPILED_FILES}{row['slug']}/{Path(compiled).name}"
    for row in tables["data_files"]:
        fallback = f"{COURSE_FILES}{slugs[row['competition_id']]}/files/{row['name']}"
        path = settings.located(row["path"])
        row["path"] = packing.member_of(path) or packing.add_file(fallback, path)
        packing.members[row["path"]] = (packing.members[row["path"]][0], row["sha256"])
    for row in tables["submissions"]:
        if row["file_removed_at"] is not None:
            row["file_path"] = ""  # a failed upload whose file was removed: the row alone, as here
            continue
        path = settings.located(row["file_path"])
        row["file_path"] = packing.add_file(f"{UPLOAD_FILES}{row['id']}/{path.name}", path, row["sha256"])
    for row in tables.get("code_submissions", []):
        path = settings.located(row["file_path"])
        row["file_path"] = packing.add_file(f"{CODE_FILES}{row['id']}/{path.name}", path, row["sha256"])


def _pack_folder(packing: Packing, folder: str, fallback: str) -> str:
    if not folder:
        return ""
    return packing.folder_member(Path(folder)) or (
        packing.add_tree(fallback, Path(folder)) if Path(folder).is_dir() else fallback)


def _existing_folder(folder: str, what: str, fix: str) -> Path:
    if not Path(folder).is_dir():
        raise PodiumError(f"{what} ({folder}) is missing: {fix}; nothing was exported")
    return Path(folder)


def _write_member(zf: zipfile.ZipFile, member: str, chunks: Iterable[bytes]) -> dict[str, Any]:
    """Write one member, hashing it on the way; returns its manifest entry."""
    digest, size = hashlib.sha256(), 0
    with zf.open(member, "w", force_zip64=True) as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _chunks_of(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _jsonl(rows: list[dict]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _to_json(value) for name, value in row.items()}


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, enum.Enum):  # Role, Status
        return value.value
    return value


def _iso(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat()


def podium_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("podium")
    except PackageNotFoundError:
        return "unknown"


def alembic_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# --- reading and checking an archive ----------------------------------------------------------------------


@dataclass
class Archive:
    """An archive whose members were all checked against the manifest and staged under `stage`."""

    path: Path
    manifest: dict[str, Any]
    stage: Path

    @property
    def course(self) -> str:
        return self.manifest["course"]

    def staged(self, member: str) -> Path:
        return self.stage / "members" / member

    def has_table(self, name: str) -> bool:
        return f"tables/{name}.jsonl" in self.manifest["files"]

    def rows(self, name: str) -> list[dict[str, Any]]:
        member = f"tables/{name}.jsonl"
        if member not in self.manifest["files"]:
            raise ArchiveError(f"{self.path.name}: {member} is missing from the manifest")
        rows = []
        with open(self.staged(member), encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    row = json.loads(line)
                except ValueError:
                    row = None
                if not isinstance(row, dict):
                    raise ArchiveError(f"{self.path.name}: {member} line {number} is not a JSON object")
                rows.append(row)
        if len(rows) != self.manifest["counts"].get(name):
            raise ArchiveError(f"{self.path.name}: {member} has {len(rows)} rows, the manifest says "
                               f"{self.manifest['counts'].get(name)}")
        return rows


def open_archive(path: Path, stage: Path, max_bytes: int) -> Archive:
    """Check every member of the archive against its manifest and stage it under `stage`; refuse the whole archive
    on the first problem, naming the member."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ArchiveError(f"{path.name} is not a complete zip archive: it is damaged, truncated or not a "
                           "Podium export") from None
    with zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        for name in names:
            check_member_name(path, name)
        if len(set(names)) != len(names):
            repeated = next(n for n in names if names.count(n) > 1)
            raise ArchiveError(f"{path.name}: {repeated} appears more than once in the archive")
        manifest = _read_manifest(path, zf)
        _check_members_listed(path, manifest, {info.filename: info for info in infos})
        _check_room(path, manifest, stage.parent, max_bytes)
        for member, entry in manifest["files"].items():
            _stage_member(path, zf, member, entry, stage / "members" / member)
    return Archive(path, manifest, stage)


def check_member_name(archive: Path, name: str) -> None:
    """Refuse names that could land outside the folder they are staged in, or that a Podium export never writes."""
    parts = PurePosixPath(name).parts
    if is_unsafe(name):
        raise ArchiveError(f"{archive.name}: the member name {name!r} is unsafe (an absolute path or one that "
                           "climbs out of its folder); the archive was refused")
    if name != MANIFEST and parts[0] not in ("tables", "files"):
        raise ArchiveError(f"{archive.name}: {name!r} is not a member a Podium export writes")


def is_unsafe(name: str) -> bool:
    """An absolute name, a Windows one, or one with a part that climbs out of (or hides in) its folder."""
    parts = name.split("/")
    return (not name or name.startswith("/") or "\\" in name or "\x00" in name or ":" in parts[0]
            or any(part in ("", ".", "..") for part in parts))


def _read_manifest(archive: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise ArchiveError(f"{archive.name} has no {MANIFEST}: it is not a Podium course export") from None
    if info.file_size > MANIFEST_MAX_BYTES:
        raise ArchiveError(f"{archive.name}: {MANIFEST} is larger than {_megabytes(MANIFEST_MAX_BYTES)}")
    try:
        with zf.open(info) as stream:
            manifest = json.loads(stream.read(MANIFEST_MAX_BYTES + 1))
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        raise ArchiveError(f"{archive.name}: {MANIFEST} is damaged") from None
    _check_manifest_shape(archive, manifest)
    return manifest


def _check_manifest_shape(archive: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{archive.name}: {MANIFEST} is not a Podium course export's")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ArchiveError(f"{archive.name}: {MANIFEST} has no valid format_version")
    if version > FORMAT_VERSION:
        raise ArchiveError(f"{archive.name} was written by a newer Podium ({manifest.get('podium_version')}, format "
                           f"{version}); this one reads format {FORMAT_VERSION}: upgrade Podium to import it")
    files, counts = manifest.get("files"), manifest.get("counts")
    good_entry = (lambda e: isinstance(e, dict) and isinstance(e.get("bytes"), int) and e["bytes"] >= 0
                  and isinstance(e.get("sha256"), str) and len(e["sha256"]) == 64)
    if (not isinstance(files, dict) or not isinstance(counts, dict) or not isinstance(manifest.get("course"), str)
            or not all(good_entry(entry) for entry in files.values())):
        raise ArchiveError(f"{archive.name}: {MANIFEST} is incomplete (course, counts and files are required)")
    if not is_slug(manifest["course"]):
        # The slug names the course's folders here: refused before it is joined to any path.
        raise ArchiveError(f"{archive.name}: the course {manifest['course']!r} in {MANIFEST} is not a slug")
    for member in files:
        check_member_name(archive, member)


def is_slug(text: str) -> bool:
    """The slugs `podium load` accepts: letters, digits, - and _, starting with a letter or digit."""
    return bool(text) and text[0].isalnum() and all(ch.isalnum() or ch in "-_" for ch in text)


def _check_members_listed(archive: Path, manifest: dict, infos: dict[str, zipfile.ZipInfo]) -> None:
    files = manifest["files"]
    for member, entry in files.items():
        if member not in infos:
            raise ArchiveError(f"{archive.name}: {member} is listed in the manifest but missing from the archive "
                               "(truncated or changed)")
        if infos[member].file_size != entry["bytes"]:
            raise ArchiveError(f"{archive.name}: {member} has {infos[member].file_size} bytes, the manifest says "
                               f"{entry['bytes']} (changed or damaged)")
    for member in infos:
        if member != MANIFEST and member not in files:
            raise ArchiveError(f"{archive.name}: {member} is not listed in the manifest (the archive was changed)")


def _check_room(archive: Path, manifest: dict, data_dir: Path, max_bytes: int) -> None:
    """The sizes are the manifest's, and each member is cut off at its size when read, so a zip bomb cannot write
    more than this."""
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    if total > max_bytes:
        raise ArchiveError(f"{archive.name} holds {_megabytes(total)}, more than the {_megabytes(max_bytes)} an "
                           "import accepts (see --max-size)")
    free = shutil.disk_usage(data_dir).free
    if total + FREE_SPACE_MARGIN > free:
        raise ArchiveError(f"{archive.name} holds {_megabytes(total)} and {data_dir} has {_megabytes(free)} free; "
                           "make room first")


def _stage_member(archive: Path, zf: zipfile.ZipFile, member: str, entry: dict, dest: Path) -> None:
    try:
        with zf.open(member) as stream:
            stored = store_stream(stream, dest, max_bytes=entry["bytes"])
    except TooLarge:
        raise ArchiveError(f"{archive.name}: {member} is larger than the manifest says (changed or damaged)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArchiveError(f"{archive.name}: {member} is damaged ({exc})") from None
    if stored.sha256 != entry["sha256"] or stored.size_bytes != entry["bytes"]:
        raise ArchiveError(f"{archive.name}: {member} does not match its sha256 in the manifest: the archive was "
                           "changed or damaged")


# --- import -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    course: str
    path: Path
    counts: dict[str, int]
    users_created: int
    users_matched: int
    files: int
    replaced: bool

    def line(self) -> str:
        kept = f" ({self.users_matched} existing accounts kept)" if self.users_matched else ""
        replaced = ", replacing the course that was there" if self.replaced else ""
        counts = {**self.counts, "users": self.users_created + self.users_matched}
        return f"{self.course} imported from {self.path}{replaced}: {_counted(counts)}{kept}, {self.files} files"


def import_course(db: Database, settings: Settings, archive_path: Path, *, replace: bool = False,
                  max_bytes: int = DEFAULT_MAX_BYTES, actor: str = "cli") -> ImportSummary:
    """Restore the course in the archive, all or nothing; `replace` first removes a course with the same slug."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".import-", dir=settings.data_dir))
    try:
        archive = open_archive(Path(archive_path), stage, max_bytes)
        return _restore(db, settings, archive, replace=replace, actor=actor)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _restore(db: Database, settings: Settings, archive: Archive, *, replace: bool, actor: str) -> ImportSummary:
    moves = Moves(archive.stage / "replaced")
    with db.sessions() as session:
        try:
            existing = session.scalar(select(Course).where(Course.slug == archive.course))
            if existing is not None and not replace:
                raise PodiumError(f"a course {archive.course!r} exists already; `podium import --replace` replaces "
                                  "it (its rows and files) with the archive's")
            if existing is not None:
                _delete_course(session, settings, existing, moves)
            _place_course_folders(settings, archive, moves)
            restored = _insert_rows(session, settings, archive)
            _place_uploads(settings, archive, restored, moves)
            audit.record(session, actor, "course.import", course_id=restored.course_id, target=archive.course,
                         archive=archive.path.name, written_at=archive.manifest.get("created_at"),
                         podium_version=archive.manifest.get("podium_version"), replaced=existing is not None)
            session.commit()
        except BaseException:
            session.rollback()
            moves.undo()
            raise
    return ImportSummary(archive.course, archive.path, restored.counts, restored.users_created,
                         restored.users_matched, restored.files, replaced=existing is not None)


@dataclass(frozen=True)
class Upload:
    """A submission's staged file and where it goes: uploads/<competition id>/<user id>/<name>, the layout uploads
    are received in, with this database's ids."""

    member: str
    competition_id: int
    user_id: int
    name: str
    root: str = "uploads"  # the folder of the data dir: "uploads", or "code" for a code upload


@dataclass
class Restored:
    """What the rows were written as: new ids by table and source id, and the uploads to place."""

    ids: dict[str, dict[int, int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    upload_members: set[str] = field(default_factory=set)
    users_created: int = 0
    users_matched: int = 0
    files: int = 0

    @property
    def course_id(self) -> int:
        return next(iter(self.ids["courses"].values()))


def _insert_rows(session: Session, settings: Settings, archive: Archive) -> Restored:
    restored = Restored()
    courses = archive.rows("courses")
    if len(courses) != 1 or courses[0].get("slug") != archive.course:
        raise ArchiveError(f"{archive.path.name}: tables/courses.jsonl must hold the one course {archive.course!r}")
    format_1_names: dict[int, str] = {}
    for spec in TABLES:
        if spec.optional and not archive.has_table(spec.name):
            restored.counts[spec.name] = 0
            continue
        rows = archive.rows(spec.name)
        if archive.manifest.get("format_version") == 1:
            rows = _format_1_rows(spec.name, rows, format_1_names)
        if spec.name == "users":
            restored.ids["users"] = _match_or_create_users(session, archive, rows, restored)
            continue
        objects = []
        for number, row in enumerate(rows, start=1):
            where = f"{archive.path.name}: tables/{spec.name}.jsonl line {number}"
            values = _values_from_json(where, spec, row, restored)
            if spec.name == "audit_events":
                values = _remap_audit_ids(values, restored)
            _translate_paths(where, archive, spec, values, settings, restored)
            objects.append((row["id"], spec.model(**values)))
        session.add_all(obj for _, obj in objects)
        _flush(session, archive)
        restored.ids[spec.name] = {source_id: obj.id for source_id, obj in objects}
        restored.counts[spec.name] = len(objects)
    return restored


def _format_1_rows(table: str, rows: list[dict], user_names: dict[int, str]) -> list[dict]:
    """Format 1 kept the leaderboard name on the user: it becomes the name of their enrolment in the course, unless
    the name check refuses its characters (the student then chooses again)."""
    if table == "users":
        user_names.update({row.get("id"): row.get("leaderboard_name") or "" for row in rows})
        return [{k: v for k, v in row.items() if k != "leaderboard_name"} for row in rows]
    if table != "enrolments":
        return rows
    out = []
    for row in rows:
        name = user_names.get(row.get("user_id"), "")
        allowed = isinstance(name, str) and name and not names.hidden_character(name)
        out.append({**row, "leaderboard_name": name if allowed else "",
                    "leaderboard_key": names.leaderboard_key(name) if allowed else None})
    return out


def _flush(session: Session, archive: Archive) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # Another import of the same course committed meanwhile, or the archive's rows contradict each other.
        first_line = str(exc.orig).splitlines()[0]
        raise ArchiveError(f"{archive.path.name}: its rows could not be stored: {first_line}") from None


def _match_or_create_users(session: Session, archive: Archive, rows: list[dict], restored: Restored) -> dict[int, int]:
    """Source user id -> id here. A person with an account here (same email) keeps it as it is: name, password,
    API key and leaderboard name stay the target's, since other courses rely on them; others are created with the
    archive's values, password hash and API key hash included, so they sign in as before."""
    spec = SPECS["users"]
    for number, row in enumerate(rows, start=1):
        row["email"] = _stored_email(f"{archive.path.name}: tables/users.jsonl line {number}", row.get("email"))
    emails = [row["email"] for row in rows]
    existing = dict(session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
    ids, created = {}, []
    for number, row in enumerate(rows, start=1):
        values = _values_from_json(f"{archive.path.name}: tables/users.jsonl line {number}", spec, row, restored)
        if values.get("email") in existing:
            ids[row["id"]] = existing[values["email"]]
            restored.users_matched += 1
        else:
            created.append((row["id"], User(**values)))
    session.add_all(user for _, user in created)
    _flush(session, archive)
    ids.update({source_id: user.id for source_id, user in created})
    restored.users_created = len(created)
    return ids


def _stored_email(where: str, email: object) -> str:
    """An archive's address in the one spelling Podium stores (users.normalise_email): accounts are looked up by it,
    so an address stored any other way would be an account nobody can find, or one a look-alike finds."""
    if not isinstance(email, str):
        raise ArchiveError(f"{where}: the account has no email")
    try:
        return users.normalise_email(email)
    except PodiumError as exc:
        raise ArchiveError(f"{where}: {exc}") from None


def _values_from_json(where: str, spec: TableSpec, row: dict, restored: Restored) -> dict:
    unknown = sorted(set(row) - {"id", *spec.columns})
    if unknown:
        raise ArchiveError(f"{where}: unknown column {unknown[0]!r}; the archive was written by another version "
                           "of Podium")
    if not isinstance(row.get("id"), int):
        raise ArchiveError(f"{where}: the row has no id")
    values = {}
    for name in spec.columns:
        if name not in row:
            continue  # written before the column existed: the model's default applies
        value = _from_json(where, spec.table.c[name], row[name])
        if name in spec.refs and value is not None:
            value = _new_id(where, name, spec.refs[name], value, restored)
        values[name] = value
    return values


def _from_json(where: str, column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        try:
            instant = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise ArchiveError(f"{where}: {column.name} is not an ISO 8601 time: {value!r}") from None
        if instant.tzinfo is None:
            raise ArchiveError(f"{where}: {column.name} has no UTC offset: {value!r}")
        return instant.astimezone(timezone.utc)
    if isinstance(column.type, SqlEnum) and column.type.enum_class is not None:
        try:
            return column.type.enum_class(value)
        except ValueError:
            raise ArchiveError(f"{where}: {column.name} {value!r} is not one of "
                               f"{', '.join(e.value for e in column.type.enum_class)}") from None
    return value


def _new_id(where: str, column: str, table: str, source_id: Any, restored: Restored) -> int:
    try:
        return restored.ids[table][source_id]
    except (KeyError, TypeError):
        raise ArchiveError(f"{where}: {column} {source_id!r} is not among the archive's {table}") from None


def _remap_audit_ids(values: dict, restored: Restored) -> dict:
    fields = AUDIT_ID_FIELDS.get(values.get("action"), {})
    details = dict(values.get("details") or {})
    for key, table in fields.items():
        known = restored.ids.get(table, {})
        if key == "target":
            source = values.get("target") or ""
            if source.isdigit() and int(source) in known:
                values["target"] = str(known[int(source)])
        elif isinstance(details.get(key), int) and details[key] in known:
            details[key] = known[details[key]]
    if "details" in values:
        values["details"] = details
    return values


def _translate_paths(where: str, archive: Archive, spec: TableSpec, values: dict, settings: Settings,
                     restored: Restored) -> None:
    """Turn the archive's names of files and folders into paths under this data directory."""
    for name in (*spec.files, *spec.folders):
        member = values.get(name)
        if not member:
            continue
        if not isinstance(member, str):
            raise ArchiveError(f"{where}: {name} {member!r} is not a place in the archive")
        if is_unsafe(member):  # folders are named by the rows alone, not by zip members
            raise ArchiveError(f"{where}: {name} {member!r} is unsafe (it climbs out of its folder)")
        if name in spec.files and member not in archive.manifest["files"]:
            raise ArchiveError(f"{where}: {name} names {member}, which the archive does not hold")
        if spec.name in UPLOAD_ROOTS:
            values[name] = settings.stored_path(_upload_place(where, member, values, settings, restored,
                                                              *UPLOAD_ROOTS[spec.name]))
        elif member.startswith(COURSE_FILES):
            values[name] = settings.stored_path(settings.courses_dir / archive.course / member[len(COURSE_FILES):])
        elif member.startswith(COMPILED_FILES):
            values[name] = settings.stored_path(settings.compiled_dir / archive.course / member[len(COMPILED_FILES):])
        else:
            raise ArchiveError(f"{where}: {name} {member!r} is not a place in the archive")


def _upload_place(where: str, member: str, values: dict, settings: Settings, restored: Restored,
                  prefix: str = UPLOAD_FILES, root: str = "uploads") -> Path:
    parts = PurePosixPath(member).parts
    if not member.startswith(prefix) or len(parts) != 4:
        raise ArchiveError(f"{where}: file_path {member!r} is not an upload's place in the archive")
    if member in restored.upload_members:
        raise ArchiveError(f"{where}: file_path {member!r} is another submission's file too")
    restored.upload_members.add(member)
    upload = Upload(member, values["competition_id"], values["user_id"], parts[-1], root)
    restored.uploads.append(upload)
    return settings.data_dir / root / str(upload.competition_id) / str(upload.user_id) / upload.name


def _place_course_folders(settings: Settings, archive: Archive, moves: "Moves") -> None:
    """Move the course folder copy and the compiled solutions into the places the course owns here."""
    members = archive.stage / "members"
    for staged, dest in ((members / COURSE_FILES, settings.courses_dir / archive.course),
                         (members / COMPILED_FILES, settings.compiled_dir / archive.course)):
        if staged.is_dir():
            moves.place(staged, dest)


def _place_uploads(settings: Settings, archive: Archive, restored: Restored, moves: "Moves") -> None:
    """Gather the uploads by their new competition and user ids, then move one folder per competition into place."""
    assembled = archive.stage / "uploads"
    for upload in restored.uploads:
        dest = assembled / upload.root / str(upload.competition_id) / str(upload.user_id) / upload.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(archive.staged(upload.member), dest)
    for _, root in UPLOAD_ROOTS.values():
        for folder in sorted((assembled / root).iterdir()) if (assembled / root).is_dir() else ():
            moves.place(folder, settings.data_dir / root / folder.name)
    restored.files = sum(1 for member in archive.manifest["files"] if member.startswith("files/"))


def _delete_course(session: Session, settings: Settings, course: Course, moves: "Moves") -> None:
    """Remove the course's rows (the database cascades to everything that hangs off it) and move its folders aside,
    to be deleted once the import commits or put back if it fails."""
    competition_ids = list(session.scalars(select(Competition.id).where(Competition.course_id == course.id)))
    session.execute(delete(Course).where(Course.id == course.id))
    session.expunge_all()
    for folder in (settings.courses_dir / course.slug, settings.compiled_dir / course.slug,
                   settings.data_dir / "archives" / course.slug,
                   *(settings.data_dir / root / str(cid) for cid in competition_ids
                     for _, root in UPLOAD_ROOTS.values())):
        moves.set_aside(folder)


class Moves:
    """Folders moved into place or set aside, in order, so that a failed import can put everything back."""

    def __init__(self, aside: Path):
        self.aside = aside
        self.done: list[tuple[Path, Path]] = []  # (from, to)

    def set_aside(self, folder: Path) -> None:
        if folder.exists():
            self.aside.mkdir(parents=True, exist_ok=True)
            self._move(folder, self.aside / uuid.uuid4().hex)

    def place(self, staged: Path, dest: Path) -> None:
        # What is there already belongs to no course of this database (the slug was free, or it was set aside):
        # leftovers of a course deleted by hand, or a competition id SQLite handed out again.
        self.set_aside(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._move(staged, dest)
        fsync_dir(dest.parent)

    def _move(self, source: Path, dest: Path) -> None:
        os.replace(source, dest)
        self.done.append((source, dest))

    def undo(self) -> None:
        for source, dest in reversed(self.done):
            try:
                os.replace(dest, source)
            except OSError:
                pass  # best effort: the staged copy is removed with the stage anyway
        self.done.clear()


# --- small helpers ----------------------------------------------------------------------------------------


def _counted(counts: dict[str, int]) -> str:
    names = {"competitions": "competition", "users": "user", "submissions": "submission", "extensions": "extension",
             "slack_entries": "slack entry", "audit_events": "audit event"}
    parts = []
    for table, singular in names.items():
        n = counts.get(table, 0)
        plural = singular.replace("entry", "entries") if singular.endswith("entry") else singular + "s"
        parts.append(f"{n} {singular if n == 1 else plural}")
    return ", ".join(parts)


def _megabytes(n: int) -> str:
    if n >= 10**9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.1f} MB" if n >= 10**6 else f"{n:,} bytes"
