"""Code submissions (POLICY.md section 12): each student's code behind their predictions, for a competition whose
competition.toml has a [code] table.

Every upload is kept; the latest one received by the student's code deadline counts (`counted_code`), the deadline
moved by the student's extension like the other deadlines. An upload is checked by podium.code_archives (links,
paths leaving the archive, bombs) and stored durably before it is answered, like a prediction file. Code is never
shown to other students.
"""
from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium import code_archives, rules
from podium.config import Settings
from podium.db import Database
from podium.errors import FieldError, Forbidden, NotFound, PodiumError
from podium.models import CodeSubmission, Competition, Enrolment, Role, User, utcnow
from podium.rules.code import DEFAULT_CODE_UPLOADS, CodeUpload
from podium.services.files import TooLarge, store_incoming
from podium.services import audit, rule_values
from podium.services.rule_values import active_extension, active_extensions, extension_of, schedule_of

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
FILE_NAME_MAX = 255  # CodeSubmission.file_name


class CodeTooLarge(PodiumError):
    code = 413


@dataclass(frozen=True)
class CodeSettings:
    """A competition's [code] table as stored on its row (podium.models.Competition.code_settings)."""

    required: bool
    deadline: datetime
    max_mb: float
    kinds: tuple[str, ...]
    starter: tuple[dict, ...]
    max_uploads: int = DEFAULT_CODE_UPLOADS  # per student: every upload is kept (podium.spec.CodeSpec)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)


def code_settings(comp: Competition) -> CodeSettings | None:
    """The competition's [code] settings, or None when it collects no code."""
    if comp.code_deadline is None or comp.code_settings is None:
        return None
    given = comp.code_settings
    return CodeSettings(required=bool(given.get("required", False)), deadline=comp.code_deadline,
                        max_mb=float(given.get("max_mb", 20.0)), kinds=tuple(given.get("kinds", code_archives.KINDS)),
                        starter=tuple(given.get("starter", ())),
                        max_uploads=int(given.get("max_uploads", DEFAULT_CODE_UPLOADS)))


def requires_code(comp: Competition) -> bool:
    found = code_settings(comp)
    return found is not None and found.required


def starter_files(settings: Settings, comp: Competition) -> list[Path]:
    """The starter files every student received (the [code] table's `starter`), as stored under the data dir."""
    found = code_settings(comp)
    return [] if found is None else [settings.located(entry["path"]) for entry in found.starter]


def limits_for(found: CodeSettings) -> code_archives.Limits:
    """What one upload may hold once decompressed: the defaults, never less than the upload itself may be."""
    defaults = code_archives.DEFAULT_LIMITS
    return code_archives.Limits(total_bytes=max(defaults.total_bytes, 10 * found.max_bytes),
                                member_bytes=max(defaults.member_bytes, found.max_bytes),
                                entries=defaults.entries, ratio=defaults.ratio, ratio_floor=defaults.ratio_floor)


# --- deadlines and what counts --------------------------------------------------------------------------------


def code_deadlines(session: Session, comp: Competition) -> dict[int, datetime]:
    """The code deadline of each student whose active extension moves it, by user id."""
    found = code_settings(comp)
    if found is None:
        return {}
    schedule = schedule_of(comp)
    return {user_id: rules.code_deadline(found.deadline, schedule, extension)
            for (_, user_id), extension in active_extensions(session, [comp]).items()}


def code_deadline_for(session: Session, comp: Competition, user: User) -> datetime | None:
    """The user's code deadline: the competition's, moved by their extension; None without [code]."""
    found = code_settings(comp)
    if found is None:
        return None
    extension = active_extension(session, comp, user)
    return rules.code_deadline(found.deadline, schedule_of(comp),
                               None if extension is None else extension_of(extension))


def last_code_deadline(session: Session, comp: Competition) -> datetime | None:
    """The latest code deadline of anyone in the competition (None without [code]): grades that depend on code
    are final only after it (POLICY.md section 12)."""
    return rule_values.last_code_deadline(session, comp)


def counted_code(session: Session, comp: Competition) -> dict[int, CodeSubmission]:
    """Each enrolled student's counted code: their latest upload received by their effective code deadline."""
    found = code_settings(comp)
    if found is None:
        return {}
    rows = session.scalars(
        select(CodeSubmission)
        .join(Enrolment, (Enrolment.user_id == CodeSubmission.user_id) & (Enrolment.course_id == comp.course_id))
        .where(CodeSubmission.competition_id == comp.id, Enrolment.role == Role.student)
    ).all()
    by_id = {row.id: row for row in rows}
    counted = rules.counted_code((CodeUpload(row.id, row.user_id, row.submitted_at) for row in rows),
                                 code_deadlines(session, comp), found.deadline)
    return {user_id: by_id[upload.id] for user_id, upload in counted.items()}


def code_file(settings: Settings, code_submission: CodeSubmission) -> Path:
    """Where an uploaded code file is on disk."""
    return settings.located(code_submission.file_path)


def history(session: Session, comp: Competition, user: User) -> list[CodeSubmission]:
    """One person's code uploads for the competition, newest first."""
    return list(session.scalars(
        select(CodeSubmission).where(CodeSubmission.competition_id == comp.id, CodeSubmission.user_id == user.id)
        .order_by(CodeSubmission.submitted_at.desc(), CodeSubmission.id.desc())))


# --- receiving an upload --------------------------------------------------------------------------------------


def receive_code(db: Database, settings: Settings, comp_id: int, user_id: int, stream: BinaryIO, file_name: str,
                 *, at: datetime | None = None) -> CodeSubmission:
    """Store a code upload durably, check it, and record it; refuse it, keeping nothing, when it may not be taken.

    Members of the course only (staff too, to try the form); a competition without [code] refuses. The upload is
    streamed to disk within the competition's size limit, checked by podium.code_archives without extracting
    anything, fsynced, and committed before the answer. An upload after the student's code deadline is kept and
    marked late: it never counts, but staff see it.
    """
    file_name = _shortened(Path((file_name or "").replace("\\", "/")).name or "code")
    with db.session() as session:
        comp, _ = _member_competition(session, comp_id, user_id)
        found = code_settings(comp)
        if found is None:
            raise NotFound(f"{comp.public_id} does not collect code")
        kind = code_archives.kind_of(file_name)
        if kind is None or kind not in found.kinds:
            raise FieldError("file", "{name} is not a kind of file this competition accepts; upload one of {kinds}.",
                             name=file_name, kinds=", ".join(found.kinds))
        limits = limits_for(found)
        _check_upload_count(session, comp, user_id)
    disk_name = f"{uuid.uuid4().hex}-{SAFE_NAME.sub('_', file_name)[-100:]}"
    dest = settings.data_dir / "code" / str(comp_id) / str(user_id) / disk_name
    try:
        stored = store_incoming(stream, dest, max_bytes=found.max_bytes)
    except TooLarge:
        raise CodeTooLarge(f"The file is larger than the {found.max_mb:g} MB limit for code; upload only your code, "
                           "without data, model weights or outputs.") from None
    try:
        try:
            members = code_archives.check(stored.path, kind, limits)
        except code_archives.CodeArchiveError as exc:
            raise FieldError("file", "{problem} Nothing was stored.", problem=str(exc)) from None
        t = at or utcnow()
        with db.session() as session:
            comp, user = _member_competition(session, comp_id, user_id)
            _check_upload_count(session, comp, user.id)  # again: uploads sent at once were all stored meanwhile
            deadline = code_deadline_for(session, comp, user)
            row = CodeSubmission(competition_id=comp.id, user_id=user.id, submitted_at=t,
                                 file_path=settings.stored_path(stored.path), file_name=file_name,
                                 sha256=stored.sha256, size_bytes=stored.size_bytes, kind=kind, members=len(members),
                                 late=not rules.code_in_time(t, deadline))
            session.add(row)
            session.flush()
            session.expunge(row)
            return row
    except BaseException:
        stored.path.unlink(missing_ok=True)
        raise


def _check_upload_count(session: Session, comp: Competition, user_id: int) -> None:
    count = session.scalar(select(func.count(CodeSubmission.id)).where(CodeSubmission.competition_id == comp.id,
                                                                        CodeSubmission.user_id == user_id))
    most = code_settings(comp).max_uploads
    if count >= most:
        raise FieldError("file", "Code may be uploaded at most {most} times for {comp}, and all are used: the latest "
                                 "upload by your code deadline is the one that counts. Nothing was stored; write to "
                                 "the course staff if you must change it.", most=most, comp=comp.public_id)


def _member_competition(session: Session, comp_id: int, user_id: int) -> tuple[Competition, User]:
    comp, user = session.get(Competition, comp_id), session.get(User, user_id)
    if comp is None:
        raise NotFound("no such competition")
    if user is None:
        raise NotFound("no such user")
    enrolled = session.scalar(select(Enrolment.id).where(Enrolment.user_id == user.id,
                                                         Enrolment.course_id == comp.course_id))
    if enrolled is None:
        raise Forbidden(f"{user.email} is not enrolled in {comp.course.slug}")
    return comp, user


def _shortened(file_name: str, limit: int = FILE_NAME_MAX) -> str:
    return file_name if len(file_name) <= limit else "…" + file_name[-(limit - 1):]


# --- what the pages show ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodePanel:
    """The Code panel of the competition page, for one member of the course."""

    settings: CodeSettings
    deadline: datetime  # the viewer's own code deadline (an extension moves it)
    uploads: list[CodeSubmission]  # newest first
    counted_id: int | None
    now: datetime

    @property
    def moved(self) -> bool:
        return self.deadline != self.settings.deadline

    @property
    def open(self) -> bool:
        """An upload now would count (later ones are kept, marked late)."""
        return rules.code_in_time(self.now, self.deadline)


def code_panel(session: Session, comp: Competition, user: User, now: datetime) -> CodePanel | None:
    """What the viewer sees of the competition's code collection (None when it collects none): their own uploads
    only, never another student's (POLICY.md section 12)."""
    found = code_settings(comp)
    if found is None:
        return None
    uploads = history(session, comp, user)
    deadline = code_deadline_for(session, comp, user)
    counted = rules.counted_code((CodeUpload(u.id, u.user_id, u.submitted_at) for u in uploads), {}, deadline)
    return CodePanel(settings=found, deadline=deadline, uploads=uploads,
                     counted_id=counted[user.id].id if user.id in counted else None, now=now)


def own_upload(session: Session, comp: Competition, user: User, code_id: int) -> CodeSubmission:
    """One of the viewer's own code uploads; another's is not found (ids confirm nothing)."""
    row = session.get(CodeSubmission, code_id)
    if row is None or row.competition_id != comp.id or row.user_id != user.id:
        raise NotFound(f"You have no code upload {code_id} in {comp.public_id}.")
    return row


@dataclass(frozen=True)
class StudentCode:
    """A student of the course on the staff code page."""

    user: User
    counted: CodeSubmission | None
    uploads: int
    late_uploads: int
    deadline: datetime
    missing: str | None  # rules.CODE_DUE / CODE_FLAG / CODE_ZERO when code is required and none counts


@dataclass(frozen=True)
class CodeOverview:
    settings: CodeSettings
    students: list[StudentCode]  # by email

    @property
    def without(self) -> list[StudentCode]:
        return [s for s in self.students if s.counted is None]

    @property
    def emails_without(self) -> list[str]:
        return [s.user.email for s in self.without]


def overview(session: Session, comp: Competition, now: datetime) -> CodeOverview:
    """Who has and who has not submitted code, for the staff page (NotFound when the competition collects none)."""
    found = code_settings(comp)
    if found is None:
        raise NotFound(f"{comp.public_id} does not collect code: add a [code] table to its competition.toml.")
    students = list(session.scalars(
        select(User).join(Enrolment).where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student)
        .order_by(User.email)))
    rows = session.scalars(select(CodeSubmission).where(CodeSubmission.competition_id == comp.id)).all()
    counted, moved = counted_code(session, comp), code_deadlines(session, comp)
    policy = rule_values.policy_of(comp.course).missing_code
    out = []
    for user in students:
        mine = [r for r in rows if r.user_id == user.id]
        deadline = moved.get(user.id, found.deadline)
        missing = (rules.missing_code_state(policy, deadline, now) if found.required and user.id not in counted
                   else None)
        out.append(StudentCode(user=user, counted=counted.get(user.id), uploads=len(mine),
                               late_uploads=sum(r.late for r in mine), deadline=deadline, missing=missing))
    return CodeOverview(settings=found, students=out)


def staff_download(db: Database, settings: Settings, comp_id: int, code_id: int, actor: str) -> tuple[Path, str]:
    """A student's code upload for staff of the course (the caller checked the role): where it is and its name.
    Audited in its own transaction, so that a page read (which writes nothing) records it too."""
    with db.session() as session:
        row = session.get(CodeSubmission, code_id)
        if row is None or row.competition_id != comp_id:
            raise NotFound(f"This competition has no code upload {code_id}.")
        comp = row.competition
        audit.record(session, actor, "code.download", course_id=comp.course_id, target=comp.public_id,
                     code_submission=row.id, student=row.user.email, file=row.file_name, sha256=row.sha256)
        return code_file(settings, row), row.file_name


MANIFEST_COLUMNS = ("email", "name", "file", "sha256", "size_bytes", "submitted_at", "late")


def archive_all(db: Database, settings: Settings, comp_id: int, actor: str) -> Path:
    """Every student's counted code in one zip, one folder per student (their email), with `manifest.csv`
    (MANIFEST_COLUMNS, by email); written to a new file under the data dir, which the caller sends and removes.
    Audited in its own transaction."""
    from podium.services.export import csv_writer, safe_text  # one rule for every CSV a spreadsheet opens

    with db.session() as session:
        comp = session.get(Competition, comp_id)
        if comp is None:
            raise NotFound("no such competition")
        rows = sorted(counted_code(session, comp).values(), key=lambda r: r.user.email)
        folder = settings.data_dir / "code" / "archives"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{uuid.uuid4().hex}-{comp.public_id}-code.zip"
        manifest = io.StringIO()
        writer = csv_writer(manifest)
        writer.writerow(MANIFEST_COLUMNS)
        try:
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for row in rows:
                    member = f"{row.user.email}/{row.file_name}"
                    zf.write(code_file(settings, row), member)
                    writer.writerow((safe_text(row.user.email), safe_text(row.user.name), safe_text(member),
                                     row.sha256, row.size_bytes, rules.format_utc(row.submitted_at),
                                     "yes" if row.late else "no"))
                zf.writestr("manifest.csv", manifest.getvalue())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        audit.record(session, actor, "code.download_all", course_id=comp.course_id, target=comp.public_id,
                     students=len(rows), files=[row.id for row in rows])
        return target
