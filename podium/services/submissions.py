"""Submissions: receive an upload, score it, rescore a competition.

Receiving and scoring are separate steps. An upload is stored durably and its row committed as `queued` with
the instant it was received; scoring claims the row (queued -> scoring with a conditional update, so two
workers never score the same submission) and stores the scores or the message that explains the failure.
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Protocol

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from podium import rules
from podium.config import JobSettings, Settings
from podium.db import Database
from podium.domain import LARGEST_ID
from podium.errors import FieldError, Forbidden, NotFound, PodiumError, Refused
from podium.models import CLIENT_KEY_LENGTH, Competition, Enrolment, Status, Submission, User, utcnow
from podium.services import audit, benchmarks, leases, notifications, regrades
from podium.services.rule_values import extended_lates, policy_of, schedule_for, schedule_of
from podium.services.users import role_in
from podium.services.files import StoredFile, TooLarge, store_incoming
from podium.rules.queue import Waiting, fair_order

# podium.attempts (child processes: multiprocessing) is imported where a submission is scored: the commands that
# only read submissions (`grades explain`, `slack balance`) never score one.
if TYPE_CHECKING:
    from podium import attempts

log = logging.getLogger(__name__)
# How long a scoring claim holds when the caller gives no lease (podium.config.JobSettings explains it).
LEASE_SECONDS = JobSettings.lease_seconds
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
FILE_NAME_MAX = 255  # Submission.file_name
DESCRIPTION_MAX = 1000  # characters of a submission's description


class UploadTooLarge(PodiumError):
    code = 413


class AlreadyReceived(Refused):
    """A retried upload: the client's key names a submission already received, which is the answer."""

    def __init__(self, submission_id: int):
        super().__init__(f"This upload was already received as submission {submission_id}.")
        self.submission_id = submission_id


class KeyReused(Refused):
    """The client's key names an earlier submission of a different file."""


class DailyLimitReached(Refused):
    """The daily limit refuses an upload; `resets_at` (UTC) is when the count starts again."""

    code = 429

    def __init__(self, message: str, resets_at: datetime):
        super().__init__(message)
        self.resets_at = resets_at


class FailedUploadsCapReached(Refused):
    """The student has as many uploads that could not be scored today as the server keeps: the upload is refused, keeping nothing, until `resets_at` (UTC). Refused rather than scored in
    the request: scoring belongs to the bounded, fair scoring queue, never to the web process."""

    code = 429

    def __init__(self, message: str, resets_at: datetime):
        super().__init__(message)
        self.resets_at = resets_at


class FileRemoved(PodiumError):
    """The file of a failed upload was removed after its keeping time; the submission stays."""

    code = 410


@dataclass(frozen=True)
class _Upload:
    """An upload stored on disk and about to be recorded, with what its row will say."""

    stored: StoredFile
    file_name: str
    description: str
    received_at: datetime
    recorded_by: str | None
    client_key: str | None
    benchmark: str | None = None


# --- receiving -------------------------------------------------------------------------------------------


class ScoringQueue(Protocol):
    """Where a received submission goes to be scored (`podium.jobs.ScoringPool`)."""

    def submit(self, submission_id: int, student: int | None = None) -> object: ...


def upload(db: Database, settings: Settings, queue: ScoringQueue, comp_id: int, user_id: int, stream: BinaryIO,
           file_name: str, description: str = "", *, client_key: str | None = None) -> Submission:
    """A student's upload, the one use case behind the page form and the REST API (the Kaggle client's hand-in is
    `upload_tickets.hand_in`): stored durably and recorded in its own transaction (`receive`), then handed to the
    scoring queue. The caller holds no transaction: on SQLite there is one writer at a time.
    A retry of an upload already received raises `AlreadyReceived` and queues nothing. The queue is told whose
    upload it is, so handing it over needs no database: once recorded, the upload is answered as taken."""
    sub = receive(db, settings, comp_id, user_id, stream, file_name, description, client_key=client_key)
    queue.submit(sub.id, user_id)
    return sub


def receive(db: Database, settings: Settings, comp_id: int, user_id: int, stream: BinaryIO, file_name: str,
            description: str = "", *, at: datetime | None = None, recorded_by: str | None = None,
            client_key: str | None = None, benchmark: str | None = None) -> Submission:
    """Store an upload durably and record it as queued; refuse it, keeping nothing, when the rules say no.

    `at` is the submission's instant when it is not now: a Kaggle CLI hand-in's (`upload_tickets.submit`), or a
    backdated one recorded by staff for a student (outage recovery), which is audited.
    `client_key` makes a retry safe: when the student already has a submission with that key, nothing new is
    recorded and `AlreadyReceived` names it (the same file) or `KeyReused` refuses (another file).
    A student at the cap on failed uploads (`settings.storage.failed_uploads_per_day`) is refused with
    `FailedUploadsCapReached` until the count resets.
    An upload the storage or the database cannot take now raises `Unavailable` (podium.errors), keeping nothing.
    `benchmark` names a baseline recorded by staff (`podium submit --benchmark`) as a benchmark of the boards: the
    submitter must be staff of the course, and the competition's windows do not apply, since a benchmark ranks no
    student and counts for no grade (podium.services.benchmarks).
    """
    client_key = _checked_client_key(client_key)
    if benchmark is not None:
        benchmark = benchmarks.checked_name(benchmark)
    file_name = _shortened(Path(file_name or "submission.csv").name)
    # A name on disk has at most 255 bytes: the uuid makes it unique, the tail of the sanitised name keeps it legible.
    disk_name = f"{uuid.uuid4().hex}-{SAFE_NAME.sub('_', file_name)[-100:]}"
    dest = settings.uploads_dir / str(comp_id) / str(user_id) / disk_name
    try:
        stored = store_incoming(stream, dest, max_bytes=settings.max_upload_bytes)
    except TooLarge as exc:
        raise UploadTooLarge(
            f"The file is larger than the {exc.limit / 1e6:.0f} MB limit; compress it (.csv.gz or .zip) and upload again."
        ) from None
    upload = _Upload(stored, file_name, (description or "").strip()[:DESCRIPTION_MAX], at or utcnow(), recorded_by,
                     client_key, benchmark)
    try:
        with db.session() as session:
            return _record(session, settings, comp_id, user_id, upload)
    except BaseException:
        stored.path.unlink(missing_ok=True)
        raise


def _record(session: Session, settings: Settings, comp_id: int, user_id: int, upload: _Upload) -> Submission:
    """Check the rules for a stored upload and record it, queued."""
    # Shared with every other upload, exclusive with `competitions.finalise`: a submission is either in the
    # final board that finalisation reads, or sees the competition finalised and is refused.
    comp = session.get(Competition, comp_id, with_for_update={"read": True})
    user = session.get(User, user_id)
    enrolment = _lock_enrolment(session, comp, user)
    t = upload.received_at
    if upload.recorded_by is not None:
        _refuse_future(comp, t)
    # Before the window and the daily limit: a retry of an accepted upload is answered as the first
    # attempt was, even once the deadline or the limit has been reached since.
    _refuse_repeat(session, comp, user, upload.client_key, upload.stored.sha256)
    if upload.benchmark is not None:
        benchmarks.refuse_unless_staff_author(comp, user)
        benchmarks.refuse_taken(session, comp, upload.benchmark)
        practice = False
    else:
        practice = _check_window(session, comp, user, t)
        if not practice:
            _refuse_once_finalised(comp, staff_record=upload.recorded_by is not None)
    if upload.recorded_by is None and not enrolment.role.is_staff:
        _check_daily_limit(session, comp, user, t)
        _check_failed_uploads(session, settings, comp, user, t)
    submission = Submission(
        competition_id=comp.id, user_id=user.id, submitted_at=t, file_path=settings.stored_path(upload.stored.path),
        file_name=upload.file_name, sha256=upload.stored.sha256, size_bytes=upload.stored.size_bytes,
        description=upload.description, status=Status.queued, practice=practice, recorded_by=upload.recorded_by,
        client_key=upload.client_key, benchmark_name=upload.benchmark,
    )
    session.add(submission)
    session.flush()
    if upload.recorded_by is not None:
        audit.record(session, upload.recorded_by, "submission.record", course_id=comp.course_id,
                     target=str(submission.id), student=user.email, at=t.isoformat(), file=upload.file_name,
                     sha256=upload.stored.sha256, **({"benchmark": upload.benchmark} if upload.benchmark else {}))
    return submission


def _refuse_future(comp: Competition, t: datetime) -> None:
    """A submission's instant is when it was made (POLICY.md section 2): staff recording one for a student after an
    outage (`podium submit --as --at`) give a past instant, never one to come, which would also count it on time
    once the deadline has passed for everyone else. (A Kaggle hand-in passes its own instant, the server's.)"""
    now = utcnow()
    if rules.as_utc(t) > now:
        tz = comp.course.timezone
        raise Refused(f"The submission time {rules.format_local(t, tz)} is in the future (it is now "
                      f"{rules.format_local(now, tz)}): a recorded submission keeps the instant the student made it, "
                      "which cannot be later than now. Nothing was recorded.", code=422)


def _shortened(file_name: str, limit: int = FILE_NAME_MAX) -> str:
    """The client's file name within its column (PostgreSQL refuses longer text), keeping the end: the extension
    says what the file is."""
    return file_name if len(file_name) <= limit else "…" + file_name[-(limit - 1):]


def _lock_enrolment(session: Session, comp: Competition | None, user: User | None) -> Enrolment:
    """The submitter's enrolment, locked so that concurrent uploads by one student are counted one at a time."""
    if comp is None:
        raise NotFound("no such competition")
    if user is None:
        raise NotFound("no such user")
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == comp.course_id).with_for_update()
    )
    if enrolment is None:
        raise Forbidden(f"{user.email} is not enrolled in {comp.course.slug}")
    return enrolment


def _checked_client_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if len(key) > CLIENT_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise PodiumError(f"The Idempotency-Key must be printable ASCII of at most {CLIENT_KEY_LENGTH} characters, "
                          "e.g. a UUID.", code=400)
    return key


def _refuse_repeat(session: Session, comp: Competition, user: User, client_key: str | None, sha256: str) -> None:
    """Called under the enrolment lock, so two retries racing each other cannot both record a submission."""
    if client_key is None:
        return
    earlier = session.scalar(select(Submission).where(
        Submission.user_id == user.id, Submission.competition_id == comp.id, Submission.client_key == client_key))
    if earlier is None:
        return
    if earlier.sha256 != sha256:
        raise KeyReused(f"The Idempotency-Key {client_key!r} was already used for submission {earlier.id}, a different "
                        "file; send a new key with each new upload.")
    raise AlreadyReceived(earlier.id)


def upload_window(comp: Competition, schedule: rules.Schedule, t: datetime) -> rules.WindowResult:
    """What an upload at `t` would be under `schedule` (the student's: rule_values.schedule_for), or why it is
    refused: the one rule of when a competition accepts submissions, for uploads and for what pages and APIs say."""
    return rules.classify(t, schedule, tz=comp.course.timezone, allow_practice=comp.allow_practice)


def _check_window(session: Session, comp: Competition, user: User, t: datetime) -> bool:
    """Refuse uploads outside the windows; return whether the upload is a practice one (after the close)."""
    result = upload_window(comp, schedule_for(session, comp, user), t)
    if result.refused:
        raise Refused(result.message)
    return result.window == "practice"


def _refuse_once_finalised(comp: Competition, *, staff_record: bool) -> None:
    message = _finalised_refusal(comp, staff_record=staff_record)
    if message is not None:
        raise Refused(message)


def _finalised_refusal(comp: Competition, *, staff_record: bool) -> str | None:
    """Nothing that could count is recorded for a finalised competition; practice submissions never count.

    This holds for staff recording a submission too (`podium submit --as --at`, outage recovery), whether or not
    the board is released yet: POLICY.md section 11 says that changing what grades depend on for a competition
    that is finalised or released needs an explicit regrade, audited with every grade it changed. A recorded
    submission changes the boards, the position cutoffs' basis and grades (the bonus's class best included),
    and its audit entry lists none of the grades it changed, so it is not such a regrade.
    """
    if comp.finalised_at is None:
        return None
    finalised = rules.format_local(comp.finalised_at, comp.course.timezone)
    if staff_record:
        return (f"{comp.public_id} was finalised at {finalised}: a submission recorded now would change its final "
                "boards and grades, which needs an explicit regrade (POLICY.md section 11); nothing was recorded.")
    return (f"{comp.title} ({comp.public_id}) was finalised at {finalised}: its leaderboards and grades are final "
            "and no submission can count any more, so this one was not recorded. If a problem on Podium's side kept "
            "you from submitting before your deadline, write to the course staff.")


def _check_daily_limit(session: Session, comp: Competition, user: User, t: datetime) -> None:
    allowance = daily_allowance(session, comp, user, t)
    if allowance.reached:
        raise DailyLimitReached(allowance.refusal(comp.course.timezone), allowance.resets_at)


def daily_allowance(session: Session, comp: Competition, user: User, now: datetime | None = None) -> rules.Allowance:
    """The student's daily allowance at `now` (POLICY.md section 1): the one count behind the daily limit's refusal
    of an upload and behind what the pages, the REST API and the Kaggle CLI say is left. Uploads still waiting to be
    scored count: they may well succeed, and not counting them would let a burst of parallel uploads pass the
    limit. Failed ones are given back. Staff of the course have no limit (`limit` None)."""
    now = now or utcnow()
    role = role_in(user, comp.course)
    limit = None if role is not None and role.is_staff else daily_limit_of(comp)
    times = session.scalars(
        select(Submission.submitted_at).where(
            Submission.competition_id == comp.id, Submission.user_id == user.id,
            Submission.status != Status.failed,
            Submission.submitted_at > now - timedelta(days=2),  # a local day is at most 25 hours long
        )
    ).all()
    return rules.daily_allowance(now, times, comp.course.timezone, limit)


def _check_failed_uploads(session: Session, settings: Settings, comp: Competition, user: User, t: datetime) -> None:
    """Refuse an upload once the student has as many failed uploads today as the server keeps
    (rules.check_failed_uploads). Uploads waiting to be scored do not count: they count against the daily limit,
    so at most that many more can fail before the cap refuses."""
    verdict = _failed_uploads_verdict(session, settings, comp, user, t)
    if not verdict.allowed:
        raise FailedUploadsCapReached(verdict.message, verdict.resets_at)


def _failed_uploads_verdict(session: Session, settings: Settings, comp: Competition, user: User,
                            t: datetime) -> rules.LimitResult:
    times = session.scalars(
        select(Submission.submitted_at).where(
            Submission.competition_id == comp.id, Submission.user_id == user.id, Submission.status == Status.failed,
            Submission.submitted_at > t - timedelta(days=2),  # a local day is at most 25 hours long
        )
    ).all()
    return rules.check_failed_uploads(t, times, comp.course.timezone, settings.storage.failed_uploads_per_day or None)


def daily_limit_of(comp: Competition) -> int:
    """The competition's own limit, else the course's (POLICY.md section 1)."""
    return comp.daily_limit or policy_of(comp.course).daily_limit


def check_can_submit(session: Session, settings: Settings, comp: Competition, user: User, t: datetime) -> None:
    """Raise the refusal `receive` would give at `t`, storing nothing: a client can skip an upload bound to fail.
    `receive` checks again, for real, when the upload has arrived."""
    enrolment = _lock_enrolment(session, comp, user)
    if not _check_window(session, comp, user, t):
        _refuse_once_finalised(comp, staff_record=False)
    if not enrolment.role.is_staff:
        _check_daily_limit(session, comp, user, t)
        _check_failed_uploads(session, settings, comp, user, t)


# What refuses an upload now (UploadOutlook.refused_by), besides the windows' NOT_OPEN and CLOSED.
FINALISED, DAILY_LIMIT, FAILED_UPLOADS = "finalised", "daily_limit", "failed_uploads"


@dataclass(frozen=True)
class UploadOutlook:
    """What an upload by this person would meet now: its window (a practice one after the close, where the
    competition takes them), the daily allowance, and, when it would be refused, which rule refuses it and the
    refusal's own words. The Submit page shows its form, and the competition page its Submit button, exactly when
    `accepted`; the upload itself is checked again when it arrives (`receive`)."""

    window: rules.WindowResult
    schedule: rules.Schedule  # the person's own, extension included
    allowance: rules.Allowance
    refused_by: str | None = None  # rules.NOT_OPEN, rules.CLOSED, FINALISED, DAILY_LIMIT or FAILED_UPLOADS
    refusal: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refused_by is None

    @property
    def practice(self) -> bool:
        """Taken, but as a practice submission: scored for its author, never graded, never on a leaderboard."""
        return self.window.window == rules.PRACTICE


def upload_outlook(session: Session, settings: Settings, comp: Competition, user: User,
                   now: datetime | None = None) -> UploadOutlook:
    """The rules `receive` applies, in its order, read without locking anything: for pages and answers that say
    beforehand whether an upload would be taken, and why not."""
    now = now or utcnow()
    schedule = schedule_for(session, comp, user)
    window = upload_window(comp, schedule, now)
    allowance = daily_allowance(session, comp, user, now)
    outlook = UploadOutlook(window, schedule, allowance)
    if window.refused:
        return replace(outlook, refused_by=window.window, refusal=window.message)
    finalised = None if outlook.practice else _finalised_refusal(comp, staff_record=False)
    if finalised is not None:
        return replace(outlook, refused_by=FINALISED, refusal=finalised)
    if allowance.reached:
        return replace(outlook, refused_by=DAILY_LIMIT, refusal=allowance.refusal(comp.course.timezone))
    if allowance.limit is not None:  # staff: neither cap applies
        failed = _failed_uploads_verdict(session, settings, comp, user, now)
        if not failed.allowed:
            return replace(outlook, refused_by=FAILED_UPLOADS, refusal=failed.message)
    return outlook


# --- scoring ---------------------------------------------------------------------------------------------


def claim(session: Session, submission_id: int, from_status: Iterable[Status] = (Status.queued,), *,
          worker: str | None = None, lease_seconds: float | None = None, now: datetime | None = None) -> bool:
    """Move a submission to `scoring`, held by `worker` (this process by default) for `lease_seconds`, only if it
    is in one of `from_status` or its current claim has lapsed: exactly one caller wins.

    A claim lapses when its lease has run out or when its holder is a process of this host that has died.
    Every claim counts as an attempt (`attempts`) until it ends with a result or is given back by a clean
    shutdown; rescoring a scored or failed submission starts the count afresh.
    """
    now = now or utcnow()
    takeable = [
        Submission.status.in_(list(from_status)),
        and_(Submission.status == Status.scoring, or_(Submission.lease_until.is_(None), Submission.lease_until < now)),
    ]
    holder = session.scalar(select(Submission.claimed_by).where(Submission.id == submission_id,
                                                                Submission.status == Status.scoring))
    if holder is not None and leases.holder_is_dead(holder):
        takeable.append(and_(Submission.status == Status.scoring, Submission.claimed_by == holder))
    result = session.execute(
        update(Submission)
        # A submission whose file was removed has nothing left to score: a rescore leaves it as it failed.
        .where(Submission.id == submission_id, Submission.file_removed_at.is_(None), or_(*takeable))
        .values(status=Status.scoring, claimed_by=worker or leases.this_process(),
                lease_until=now + timedelta(seconds=lease_seconds or LEASE_SECONDS),
                attempts=case((Submission.status.in_([Status.scored, Status.failed]), 1),
                              else_=Submission.attempts + 1))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def renew(session: Session, submission_ids: Iterable[int], worker: str, lease_seconds: float | None = None) -> int:
    """Extend `worker`'s claims on the submissions it is still scoring; returns how many it still holds."""
    ids = list(submission_ids)
    if not ids:
        return 0
    result = session.execute(
        update(Submission)
        .where(Submission.id.in_(ids), Submission.status == Status.scoring, Submission.claimed_by == worker)
        .values(lease_until=leases.expiry(lease_seconds or LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def give_back(session: Session, submission_id: int, worker: str, *, counted: bool = True) -> bool:
    """Return a claim that could not be finished: queued again, the next claim retries it instead of waiting for
    the lease to run out. The attempt stays counted (the scoring process died, the database failed at the write),
    unless a clean shutdown stopped it (`counted=False`)."""
    attempts_left = Submission.attempts if counted else case((Submission.attempts > 0, Submission.attempts - 1),
                                                             else_=0)
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.scoring, Submission.claimed_by == worker)
        .values(status=Status.queued, claimed_by=None, lease_until=None, attempts=attempts_left)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def score(db: Database, settings: Settings, submission_id: int, *, rescore: bool = False, worker: str | None = None,
          lease_seconds: float | None = None, attempt: attempts.Attempt | None = None) -> Submission | None:
    """Score one submission if this caller wins the claim; returns it, or None when someone else has it (or took
    it over because this caller's claim lapsed while it scored: then the other's result stands, not ours).

    `attempt` runs the scoring (a pool's child process, within its budget); by default it runs here. A submission
    whose earlier claims all ended without a result, as many times as `PODIUM_SCORING_ATTEMPTS` allows, fails
    with a message instead of being scored again: a file that kills its scorer must not hold the queue forever.
    A returned submission is `queued` again when the attempt ended without a result and may be retried.
    """
    from podium import attempts

    allowed = (Status.queued, Status.scored, Status.failed) if rescore else (Status.queued,)
    worker = worker or leases.this_process()
    with db.session() as session:
        if not claim(session, submission_id, allowed, worker=worker,
                     lease_seconds=lease_seconds or settings.jobs.lease_seconds):
            return None
        sub = session.get(Submission, submission_id)
        number, job = sub.attempts, job_for(settings, sub)
    stopped_before = number - 1
    if stopped_before >= settings.jobs.scoring_attempts:
        outcome = attempts.Refused(attempts.gave_up_message(stopped_before))
    else:
        outcome = (attempt or attempts.score_job)(job)
    with db.session() as session:
        if not _store_outcome(session, submission_id, worker, outcome, number, settings.jobs.scoring_attempts,
                              notify=not rescore):
            log.warning("submission %s: the claim of %s lapsed and was taken over; its result is dropped",
                        submission_id, worker)
            return None
        sub = session.get(Submission, submission_id)
    return sub


def job_for(settings: Settings, sub: Submission) -> attempts.ScoringJob:
    """What scoring `sub` reads, with the folders and the file as the rows record them (`Settings.stored_path`)."""
    from podium import attempts

    comp = sub.competition
    return attempts.ScoringJob(
        compiled_dir=settings.located(comp.compiled_dir), metric=comp.metric,
        source_dir=settings.located(comp.source_dir), higher_is_better=comp.higher_is_better,
        file_path=settings.located(sub.file_path), file_name=sub.file_name, max_bytes=settings.max_upload_bytes)


def dry_run(settings: Settings, comp: Competition, path: Path) -> attempts.Scored:
    """Score a file against a competition without recording anything (an instructor's check)."""
    from podium import attempts, scoring

    job = attempts.ScoringJob(
        compiled_dir=settings.located(comp.compiled_dir), metric=comp.metric,
        source_dir=settings.located(comp.source_dir), higher_is_better=comp.higher_is_better,
        file_path=Path(path), file_name=Path(path).name, max_bytes=settings.max_upload_bytes)
    try:
        return attempts.score_file(job)
    except scoring.SubmissionError as exc:
        raise PodiumError(str(exc), code=422) from None


def _store_outcome(session: Session, submission_id: int, worker: str, outcome: attempts.Outcome, number: int,
                   allowed_attempts: int, *, notify: bool = True) -> bool:
    """Write the outcome of attempt `number` only while `worker` still holds the claim: a worker whose claim
    lapsed (and was taken over) cannot overwrite the new holder's result. Returns whether it was written.
    With `notify`, the author's mail about it (when they asked for one) is written in the same transaction; a
    rescore mails nobody: its outcomes are the staff's correction, and a regrade it causes is mailed as such.

    An attempt that ended without a result hands the submission back, counted, or fails it once that was its
    last allowed attempt; one stopped by a clean shutdown hands it back uncounted."""
    from podium import attempts

    if isinstance(outcome, attempts.Stopped):
        return give_back(session, submission_id, worker, counted=False)
    if isinstance(outcome, attempts.Crashed):
        log.warning("submission %s: attempt %d ended without a result: %s", submission_id, number, outcome.detail)
        if number < allowed_attempts:
            return give_back(session, submission_id, worker)
        outcome = attempts.Refused(attempts.gave_up_message(number))
    if isinstance(outcome, attempts.Refused):
        values = dict(status=Status.failed, error=outcome.message, public_score=None, private_score=None)
    else:
        values = dict(status=Status.scored, error=None, public_score=outcome.public, private_score=outcome.private,
                      rows=outcome.rows, scoring_seconds=outcome.seconds)
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.scoring, Submission.claimed_by == worker)
        .values(scored_at=utcnow(), lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    if notify:
        notifications.submission_outcome(session, submission_id)
    return True


@dataclass(frozen=True)
class RescoreStep:
    """How far a rescore is: `done` of `total` submissions, and what became of the last one (its id and its status:
    scored, failed, queued when the attempt ended without a result, skipped when another worker holds it).
    The first step, before any scoring, has done 0 and no submission, so that a caller can show the total at once."""

    done: int
    total: int
    submission_id: int | None = None
    outcome: str | None = None


def rescore_competition(db: Database, settings: Settings, comp_id: int, actor: str = "cli",
                        progress: Callable[[RescoreStep], None] | None = None,
                        attempt: attempts.Attempt | None = None, *, regrade: bool = False) -> dict[str, int]:
    """Score every submission of a competition again (after a solution fix); failed ones get a second chance.
    `attempt` runs each scoring, as in `score`; one that ends without a result leaves its submission queued, for
    the scoring pools. `progress` is told the total first, then each submission's outcome as it comes. Rescoring a
    finalised or released competition is a regrade: refused unless `regrade`, and every final grade it changed is
    recorded (counted under "regraded")."""
    from podium import attempts

    attempts.forget_loaded()
    with db.session() as session:
        comp = session.get(Competition, comp_id)
        check_rescore(comp, regrade)
        before = regrades.final_grades(session, comp.course) if regrades.guarded(comp) else None
        ids = session.scalars(
            select(Submission.id).where(Submission.competition_id == comp_id).order_by(Submission.id)
        ).all()
        audit.record(session, actor, "competition.rescore", course_id=comp.course_id, target=comp.public_id,
                     submissions=len(ids))
    counts = {"scored": 0, "failed": 0, "skipped": 0}
    if progress:
        progress(RescoreStep(0, len(ids)))
    for done, sub_id in enumerate(ids, start=1):
        sub = score(db, settings, sub_id, rescore=True, attempt=attempt)
        outcome = "skipped" if sub is None else sub.status.value  # or queued: it ended without a result
        counts[outcome] = counts.get(outcome, 0) + 1
        if progress:
            progress(RescoreStep(done, len(ids), sub_id, outcome))
    if before is not None:
        counts["regraded"] = _record_rescore_regrade(db, comp_id, before, actor)
    return counts


def check_rescore(comp: Competition, regrade: bool) -> None:
    """Refuses a rescore of a finalised or released competition that was not asked for as a regrade."""
    regrades.refuse_unless_asked(comp, what=f"rescoring {comp.public_id}", regrade=regrade,
                                 because="it is finalised or released, so a rescore can change its grades")


def _record_rescore_regrade(db: Database, comp_id: int, before: dict, actor: str) -> int:
    with db.session() as session:
        comp = session.get(Competition, comp_id)
        changes = regrades.differences(session, comp.course, before, regrades.final_grades(session, comp.course))
        if changes:
            regrades.record(session, comp.course, changes, reason=f"regrade: rescoring {comp.public_id}",
                            actor=actor, action="grades.regrade")
    return len(changes)


def pending(session: Session, now: datetime | None = None) -> list[Waiting]:
    """Submissions received but not scored that a worker may claim now, in the order of the queue's turn rule
    (podium.rules.queue): queued ones, and those being scored under a claim that lapsed (expired lease, or a dead
    process of this host). Live claims are left alone, and count as their students' uploads being scored."""
    waiting, being_scored = _queue_now(session, now or utcnow())
    return fair_order(waiting, _per_student(being_scored))


def _queue_now(session: Session, now: datetime) -> tuple[list[Waiting], list[Waiting]]:
    """The server's scoring queue as the database has it: the uploads a worker may claim, and those being scored
    under a live claim (each as a `Waiting`, the submission id and its student)."""
    rows = session.execute(
        select(Submission.id, Submission.user_id, Submission.status, Submission.claimed_by, Submission.lease_until)
        .where(Submission.status.in_([Status.queued, Status.scoring])).order_by(Submission.id)
    ).all()
    waiting, being_scored = [], []
    for row in rows:
        if (row.status == Status.queued or row.lease_until is None or row.lease_until < now
                or leases.holder_is_dead(row.claimed_by)):
            waiting.append(Waiting(row.id, row.user_id))
        else:
            being_scored.append(Waiting(row.id, row.user_id))
    return waiting, being_scored


def _per_student(items: list[Waiting]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for item in items:
        counts[item.student] = counts.get(item.student, 0) + 1
    return counts


ORDINAL_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th."""
    suffix = "th" if 10 <= n % 100 <= 20 else ORDINAL_SUFFIXES.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class QueuePlace:
    """Where a submission waiting to be scored stands in the server's scoring queue: `place` (1 is next) among the
    `waiting` uploads of everyone on this server, in the order the turn rule takes them (`pending`), while
    `being_scored` others are being scored; `place` None when it is being scored itself."""

    place: int | None
    waiting: int
    being_scored: int

    @property
    def text(self) -> str:
        if self.place is None:
            return "Being scored now."
        ahead, busy = self.place - 1, self.being_scored
        waits = "no upload waits" if ahead == 0 else f"{ahead} upload{' waits' if ahead == 1 else 's wait'}"
        scored = "none is" if busy == 0 else f"{busy} {'is' if busy == 1 else 'are'}"
        return (f"{ordinal(self.place)} in line to be scored: {waits} before it, {scored} being scored now (counting "
                "every course's uploads on this server, in the order the scoring queue takes them: oldest first, "
                "students taking turns).")


def queue_place(session: Session, submission_id: int, now: datetime | None = None) -> QueuePlace | None:
    """The submission's place in the scoring queue now; None once it is scored or failed."""
    waiting, being_scored = _queue_now(session, now or utcnow())
    if any(item.order == submission_id for item in being_scored):
        return QueuePlace(None, len(waiting), len(being_scored))
    ordered = fair_order(waiting, _per_student(being_scored))
    place = next((n for n, item in enumerate(ordered, start=1) if item.order == submission_id), None)
    return None if place is None else QueuePlace(place, len(ordered), len(being_scored))


def pending_ids(session: Session, now: datetime | None = None) -> list[int]:
    return [item.order for item in pending(session, now)]


def student_of(session: Session, submission_id: int) -> int | None:
    """Who uploaded the submission (for the queue's turn rule); None when there is no such submission."""
    return session.scalar(select(Submission.user_id).where(Submission.id == submission_id))


# --- files of failed uploads ------------------------------------------------------------------------------


def remove_failed_files(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Delete the files of uploads that failed more than `settings.storage.failed_file_days` ago; their rows stay,
    marked with the instant. Returns how many files were removed.

    The rows are marked in one committed statement before any file goes, and only rows still failed (a rescore
    that claimed one in the meantime keeps it): a file is never missing under a row that says it is there."""
    keep = settings.storage.failed_file_seconds
    if keep is None:
        return 0
    now = now or utcnow()
    with db.session() as session:
        removed = session.execute(
            update(Submission)
            .where(Submission.status == Status.failed, Submission.file_removed_at.is_(None),
                   Submission.scored_at < now - timedelta(seconds=keep))
            .values(file_removed_at=now)
            .returning(Submission.file_path)
            .execution_options(synchronize_session=False)
        ).scalars().all()
    for path in removed:
        settings.located(path).unlink(missing_ok=True)
    return len(removed)


def stored_file(settings: Settings, sub: Submission) -> Path:
    """Where a submission's file is, for its download; `FileRemoved` says when and why it is gone."""
    if sub.file_removed_at is None:
        return settings.located(sub.file_path)
    removed = rules.format_local(sub.file_removed_at, sub.competition.course.timezone)
    raise FileRemoved(
        f"The file of submission {sub.id} ({sub.file_name}) was removed on {removed}: it could not be scored, and "
        f"files that cannot be scored are kept {settings.storage.failed_file_days:g} days for diagnosis. The "
        f"submission stays, with the reason it could not be scored: {sub.error}")


# --- how a stored submission reads -----------------------------------------------------------------------


def window_of(session: Session, sub: Submission) -> rules.WindowResult:
    """The window of a stored submission under the student's current effective schedule (extensions included)."""
    return window_under(sub, None if sub.practice else schedule_for(session, sub.competition, sub.user))


def window_under(sub: Submission, schedule: rules.Schedule | None) -> rules.WindowResult:
    """`window_of` under the student's effective schedule read already (a list of their submissions reads it once)."""
    if sub.practice:
        return rules.WindowResult(rules.PRACTICE)
    return rules.classify(sub.submitted_at, schedule, tz="UTC", allow_practice=True)


def private_visible(comp: Competition, staff: bool) -> bool:
    """Private scores are for staff at any time, for students once staff released the private board (and then
    not yet those `private_hidden` names)."""
    return staff or comp.released_at is not None


def private_hidden(session: Session, comp: Competition, now: datetime | None = None, *, user: User | None = None
                   ) -> frozenset[int]:
    """The submissions of a released competition whose private scores students may not read yet
    (`rules.private_score_shown`): received after an early release while their authors' windows are still open.
    With `user`, only that student's. Every student surface reads private scores through this set (or
    `private_visible`, before release): submission pages and lists, the APIs, leaderboards, charts and grades."""
    if comp.released_at is None:
        return frozenset()
    query = select(Submission.id, Submission.user_id, Submission.submitted_at).where(
        Submission.competition_id == comp.id, Submission.submitted_at > comp.released_at)
    if user is not None:
        query = query.where(Submission.user_id == user.id)
    rows = session.execute(query).all()
    if not rows:
        return frozenset()
    now = now or utcnow()
    late = authors_late(session, comp)
    return frozenset(sub_id for sub_id, user_id, at in rows
                     if not rules.private_score_shown(at, comp.released_at, late(user_id), now))


def authors_late(session: Session, comp: Competition) -> Callable[[int], datetime]:
    """Each student's own late deadline in `comp` (extensions included), by user id."""
    own, extended = schedule_of(comp).late, extended_lates(session, comp)
    return lambda user_id: extended.get(user_id, own)


def as_dict(session: Session, sub: Submission, *, staff: bool, hidden: frozenset[int] | None = None) -> dict:
    """A submission as the REST API and the pages describe it (DESIGN.md, "HTTP API"). `hidden`: the
    competition's `private_hidden` when the caller has it already (a list)."""
    window = window_of(session, sub)
    comp = sub.competition
    if hidden is None and not staff:
        hidden = private_hidden(session, comp, user=sub.user)
    shown = private_visible(comp, staff) and (staff or sub.id not in hidden)
    hidden_until = None
    if private_visible(comp, staff) and not shown:
        hidden_until = rules.format_utc(schedule_for(session, comp, sub.user).late)
    return {
        "id": sub.id,
        "competition": comp.public_id,
        "status": sub.status.value,
        "error": sub.error,
        "public_score": sub.public_score,
        "private_score": sub.private_score if shown else None,
        "private_hidden_until": hidden_until,
        "submitted_at": rules.format_utc(sub.submitted_at),
        "window": window.window,
        "days_late": window.days_late,
        "description": sub.description,
        "file_name": sub.file_name,
        "file_removed_at": rules.format_utc(sub.file_removed_at) if sub.file_removed_at else None,
        "selected": sub.selected,
        "benchmark": sub.benchmark_name,
    }


# --- who may see which submissions -----------------------------------------------------------------------


def visible_to(session: Session, submission_id: int, user: User) -> tuple[Submission, bool]:
    """A submission its author or the course's staff may see, and whether the viewer is staff.

    Anyone else is told it does not exist, so submission ids confirm nothing about other students.
    """
    # Ids beyond what the database stores exist nowhere.
    sub = session.get(Submission, submission_id) if 0 < submission_id <= LARGEST_ID else None
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    role = role_in(user, sub.competition.course)
    staff = role is not None and role.is_staff
    if sub.user_id != user.id and not staff:
        raise NotFound(f"no submission {submission_id}")
    return sub, staff


def describe(session: Session, submission_id: int, text: str | None, *, by: User) -> Submission:
    """Change a submission's description: by its author at any time (it is their note and counts for nothing), or
    by staff of the course, who may have typed it when recording the upload for the student (`podium submit -m`)
    or must take something out of it; a change staff make to someone else's is audited. Anyone else is told the
    submission does not exist (`visible_to`)."""
    sub, _ = visible_to(session, submission_id, by)
    text = checked_description(text)
    if sub.description != text:
        if sub.user_id != by.id:
            audit.record(session, by.email, "submission.describe", course_id=sub.competition.course_id,
                         target=str(sub.id), student=sub.user.email, previous=sub.description, description=text)
        sub.description = text
    return sub


def checked_description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise FieldError("description", "The {description} is {length} characters long; shorten it to at most "
                                        "{limit} characters.", length=len(text), limit=DESCRIPTION_MAX)
    return text


def listed_for(session: Session, comp: Competition, user: User, *, staff: bool) -> list[Submission]:
    """Newest first: the viewer's own submissions, or everyone's in the competition for its staff."""
    query = select(Submission).where(Submission.competition_id == comp.id)
    if not staff:
        query = query.where(Submission.user_id == user.id)
    return list(session.scalars(query.order_by(Submission.submitted_at.desc(), Submission.id.desc())))


def read_afresh(db: Database, submission_id: int) -> Submission:
    """The submission as it stands now, read in a transaction of its own: a caller waiting for its scoring sees
    what any process committed since its last look. It only reads: on SQLite it takes no write lock."""
    with db.read_sessions() as session:
        sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    return sub
