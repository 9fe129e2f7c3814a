"""The Kaggle CLI's three-step submission: announce the file, PUT its bytes, submit it (kaggle-api.md).

1. `issue`: a student announces a file and its size; they get a ticket, an unguessable token bound to them, the
   competition and the size, valid for `LIFETIME`.
2. `store_upload`: the client PUTs the bytes to a URL carrying the token and no credentials. The bytes are stored
   durably under the data directory.
3. `submit`: the student, authenticated again, hands the token back with a description, and the staged file is
   received as a submission exactly as an upload from the site would be (windows, daily limit, queued). The
   instant of the hand-in is the submission's time (POLICY.md section 2): a file sent before a deadline and
   handed in after it is judged at the hand-in, and one handed in after the student's late deadline or after
   the competition was finalised is refused, so a released board never changes.

Only the token's hash is stored. Each step takes effect through a conditional update, so each happens once even
with several server processes sharing the database. A step that fails because the storage or the database is
unavailable (`podium.errors.Unavailable`, answered 503) changes nothing of the ticket: the client sends the same
step again with the same token.

A file sent and never handed in (an interrupted command, or a script) waits in the staging folder until its ticket
expires, `LIFETIME` after it arrived; then it is deleted (`expire_waiting`: by the scheduler's clean-up, and when
the same student asks for a new ticket). Meanwhile the bytes one student may have waiting, announced or sent, are
capped (`settings.storage.staged_bytes`), at the ticket and again at the upload.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium import rules
from podium.errors import PodiumError, Refused, StorageUnavailable, Unavailable
from podium.models import Competition, Submission, UploadTicket, User, utcnow
from podium.services import submissions
from podium.services.rule_values import schedule_for
from podium.services.files import TooLarge, check_writable, store_incoming

log = logging.getLogger(__name__)

LIFETIME = timedelta(minutes=30)
TOKEN_BYTES = 32
STALE_AFTER = timedelta(days=1)


class TicketProblem(PodiumError):
    code = 404


class StagedBytesCapReached(Refused):
    """Too many bytes of the student's Kaggle CLI uploads wait to be handed in. `resets_at` (UTC), when known, is
    when the first of them expires and frees its space."""

    code = 429

    def __init__(self, message: str, resets_at: datetime | None, *, code: int | None = None):
        super().__init__(message, code=code)
        self.resets_at = resets_at


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def staging_dir(settings: Settings) -> Path:
    return settings.data_dir / "staging"


def issue(session: Session, settings: Settings, comp: Competition, user: User, file_name: str, size_bytes: int,
          now: datetime | None = None) -> Issued:
    """A ticket for one upload. Refuses at once what `submit` would refuse (too large, window, daily limit), so
    the student does not upload a file bound to fail."""
    now = now or utcnow()
    if size_bytes < 0:
        raise PodiumError("The announced file size is negative.", code=400)
    if size_bytes > settings.max_upload_bytes:
        raise submissions.UploadTooLarge(
            f"The file is larger than the {settings.max_upload_bytes / 1e6:.0f} MB limit; compress it (.csv.gz or "
            ".zip) and upload again.")
    submissions.check_can_submit(session, settings, comp, user, now)
    expire_waiting(session, settings, now, user_id=user.id)  # the student's own abandoned files go first
    verdict = _staged_bytes_verdict(session, settings, user.id, comp.course.timezone, size_bytes, now)
    if not verdict.allowed:
        raise StagedBytesCapReached(verdict.message, verdict.resets_at)
    # The file goes to the staging folder, then to the uploads folder: a ticket whose file could not be stored
    # would only send the student's bytes in vain.
    check_writable(staging_dir(settings))
    check_writable(settings.uploads_dir)
    purge_stale(session, settings, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + LIFETIME
    session.add(UploadTicket(id=_key(token), user_id=user.id, competition_id=comp.id,
                             file_name=Path(file_name or "submission.csv").name[:255], size_bytes=size_bytes,
                             created_at=now, expires_at=expires_at))
    session.flush()
    return Issued(token, expires_at)


def store_upload(db: Database, settings: Settings, token: str, stream: BinaryIO, content_length: int | None,
                 now: datetime | None = None) -> int:
    """Store the bytes PUT for a ticket, once; returns the number of bytes. The size must be the announced one.

    The ticket takes the file only once it is stored, in one conditional update. A PUT refused for what the client
    sent (a wrong size, the student's cap on waiting uploads) ends the ticket, so its bytes no longer count; one that
    failed on Podium's side (storage or database unavailable) leaves the ticket as it was, and the client may PUT
    again. Each attempt stores under a name of its own, so two racing PUTs never mix their bytes."""
    started = now or utcnow()
    key = _key(token)
    try:
        with db.session() as session:
            expected = _room_for_upload(session, settings, key, started)
    except StagedBytesCapReached as refused:
        _ended_by(refused, db, key, started)  # once that transaction has ended: on SQLite it held the write lock
        raise
    try:
        if content_length is not None and content_length != expected:
            raise PodiumError(f"The upload has {content_length} bytes but {expected} were announced; run the submit "
                              "command again.", code=400)
        dest = staging_dir(settings) / f"{key}-{uuid.uuid4().hex}"
        return _store_for_ticket(db, settings, key, stream, dest, expected, started, now)
    except BaseException as failure:
        _ended_by(failure, db, key, started)
        raise


def _store_for_ticket(db: Database, settings: Settings, key: str, stream: BinaryIO, dest: Path, expected: int,
                      started: datetime, now: datetime | None) -> int:
    try:
        stored = store_incoming(stream, dest, max_bytes=expected)
    except TooLarge:
        raise PodiumError(f"The upload is longer than the {expected} bytes announced; run the submit command again.",
                          code=400) from None
    try:
        if stored.size_bytes != expected:
            raise PodiumError(f"The upload stopped after {stored.size_bytes} of the {expected} bytes announced; run "
                              "the submit command again.", code=400)
        with db.session() as session:
            _room_for_upload(session, settings, key, started)  # again, now that two uploads may have arrived together
            taken = session.execute(
                update(UploadTicket).where(*_awaits_its_file(key, started))
                .values(upload_started_at=started, received_at=now or utcnow(), staged_path=settings.stored_path(dest))
            ).rowcount == 1
        if not taken:  # another PUT of the same ticket finished first
            raise TicketProblem("This upload URL was already used; run the submit command again.")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return stored.size_bytes


def _ended_by(failure: BaseException, db: Database, key: str, at: datetime) -> None:
    """A PUT the client got wrong (a wrong size) ends its ticket: the Kaggle client then asks for a new one, and
    the bytes announced no longer count against the student's cap. A PUT that failed on Podium's side
    (`Unavailable`) leaves the ticket as it was, for the client to send the same file again."""
    if isinstance(failure, Unavailable) or not isinstance(failure, PodiumError):
        return
    try:
        with db.session() as session:
            session.execute(update(UploadTicket).where(*_awaits_its_file(key, at)).values(expires_at=at))
    except Exception:  # the student hears why the upload failed; the ticket then just expires on its own
        log.exception("could not end the ticket of a refused upload")


def _awaits_its_file(key: str, at: datetime) -> tuple:
    return UploadTicket.id == key, UploadTicket.received_at.is_(None), UploadTicket.expires_at >= at


def _room_for_upload(session: Session, settings: Settings, key: str, at: datetime) -> int:
    """The announced size of a ticket that awaits its file, if the student's files already sent leave room for it
    under their cap on waiting uploads. The student's row is locked, so that two uploads arriving together cannot
    both take the last room."""
    ticket = session.scalar(select(UploadTicket).where(*_awaits_its_file(key, at)))
    if ticket is None:
        raise TicketProblem("This upload URL is unknown, expired or already used; run the submit command again.")
    session.get(User, ticket.user_id, with_for_update=True)
    tz = session.get(Competition, ticket.competition_id).course.timezone
    verdict = _staged_bytes_verdict(session, settings, ticket.user_id, tz, ticket.size_bytes, at, uploading=key)
    if not verdict.allowed:
        # 409, not 429: the Kaggle client would wait for a Retry-After and send the same upload again, in vain.
        raise StagedBytesCapReached(verdict.message, None, code=409)
    return ticket.size_bytes


def hand_in(db: Database, settings: Settings, queue: submissions.ScoringQueue, token: str, comp_id: int,
            user_id: int, description: str = "") -> Submission:
    """The Kaggle client's hand-in, the use case behind its submit call: the ticket's file received as the
    student's submission (`submit`), then handed to the scoring queue. The caller holds no transaction."""
    sub = submit(db, settings, token, comp_id, user_id, description)
    queue.submit(sub.id, user_id)
    return sub


def submit(db: Database, settings: Settings, token: str, comp_id: int, user_id: int,
           description: str = "", now: datetime | None = None) -> Submission:
    """Receive the staged file of a ticket as the student's submission, at the instant of this hand-in.

    Handing a ticket in again answers with the submission it already made (a retry after a lost answer makes no
    second one: the ticket is the upload's client key, as an Idempotency-Key is for the REST API). A hand-in the
    rules refuse uses the ticket up; one that fails because the storage or the database is unavailable leaves the
    ticket and its staged file as they were, for the client to hand in again. Takes ids, not rows: it works in its
    own transactions, like `submissions.receive`."""
    now = now or utcnow()
    key = _key(token or "")
    with db.session() as session:
        ticket = session.get(UploadTicket, key)
        if _made_submission_for(ticket, comp_id, user_id):
            return session.get(Submission, ticket.submission_id)
        if not _can_hand_in(ticket, comp_id, user_id, now):
            raise TicketProblem(_why_unusable(ticket, comp_id, user_id))
        path, file_name, received_at = settings.located(ticket.staged_path), ticket.file_name, ticket.received_at
    try:
        with db.session() as session:
            _check_hand_in(session, session.get(Competition, comp_id), session.get(User, user_id), received_at, now)
        submission_id = _receive_staged(db, settings, key, path, comp_id, user_id, file_name, description, now)
    except Unavailable:
        raise  # nothing recorded, nothing used up: the same hand-in can be sent again
    except PodiumError:
        _use_up(db, key, now)
        path.unlink(missing_ok=True)
        raise
    with db.session() as session:
        session.execute(update(UploadTicket).where(UploadTicket.id == key, UploadTicket.submission_id.is_(None))
                        .values(used_at=now, submission_id=submission_id))
        sub = session.get(Submission, submission_id)
    path.unlink(missing_ok=True)  # only once the ticket names its submission: a hand-in alongside may still read it
    return sub


def _receive_staged(db: Database, settings: Settings, key: str, path: Path, comp_id: int, user_id: int,
                    file_name: str, description: str, now: datetime) -> int:
    """The id of the submission the staged file makes, or made already for this ticket."""
    try:
        stream = open(path, "rb")
    except FileNotFoundError:
        return _submission_made_meanwhile(db, key)
    except OSError as exc:
        raise StorageUnavailable(f"the staged file {path} cannot be read: {exc.strerror or exc}") from exc
    with stream:
        try:
            sub = submissions.receive(db, settings, comp_id, user_id, stream, file_name, description, at=now,
                                      client_key=_client_key(key))
        except submissions.AlreadyReceived as repeat:
            return repeat.submission_id
    return sub.id


def _submission_made_meanwhile(db: Database, key: str) -> int:
    """A staged file is removed once its ticket names the submission it made: a hand-in of the same ticket that
    ran alongside, and finished first."""
    with db.session() as session:
        ticket = session.get(UploadTicket, key)
    if ticket is None or ticket.submission_id is None:
        raise TicketProblem("The file for this upload token is no longer stored; run the submit command again.")
    return ticket.submission_id


def _client_key(key: str) -> str:
    """The submission's client key for a ticket: hand-ins of one ticket make one submission between them."""
    return f"kaggle-ticket:{key[:40]}"


def _can_hand_in(ticket: UploadTicket | None, comp_id: int, user_id: int, now: datetime) -> bool:
    return (ticket is not None and ticket.used_at is None and ticket.received_at is not None
            and ticket.staged_path is not None  # not deleted as expired meanwhile
            and ticket.received_at >= now - LIFETIME and ticket.user_id == user_id
            and ticket.competition_id == comp_id)


def _use_up(db: Database, key: str, now: datetime) -> None:
    """A ticket the rules refused made no submission, and handing it in again would be refused alike."""
    with db.session() as session:
        session.execute(update(UploadTicket).where(UploadTicket.id == key, UploadTicket.used_at.is_(None))
                        .values(used_at=now))


def _check_hand_in(session: Session, comp: Competition, user: User, received_at: datetime, t: datetime) -> None:
    """Refuse, saying why, a hand-in at `t` of a file that arrived in time but is handed in too late.

    POLICY.md section 2: the hand-in is the submission's instant, so a file sent before the late deadline counts
    only when handed in by then, and never after finalisation. `receive` refuses such uploads too (the window,
    finalisation); this says what happened to the file sent in time. A file sent after the close is left to
    `receive`: a practice submission where the competition allows them, refused otherwise."""
    late = schedule_for(session, comp, user).late
    if received_at > late:
        return
    tz = comp.course.timezone
    sent = (f"Your file arrived at {rules.format_local(received_at, tz)} but was handed in at "
            f"{rules.format_local(t, tz)}; a Kaggle CLI submission counts when it is handed in (the `submit` step), "
            "not when its file arrived")
    ask = ("If a problem on Podium's side kept you from handing it in before your deadline, write to the course "
           "staff.")
    if comp.finalised_at is not None:
        raise Refused(f"{sent}, and {comp.public_id} was finalised at {rules.format_local(comp.finalised_at, tz)}: "
                      f"its leaderboards and grades are final, so this submission was not recorded. {ask}")
    if t > late:
        practice = (" Submitting again makes a practice submission, scored and shown only to you."
                    if comp.allow_practice else "")
        raise Refused(f"{sent}, and your late deadline was {rules.format_local(late, tz)}: this submission was not "
                      f"recorded. {ask}{practice}")


def _made_submission_for(ticket: UploadTicket | None, comp_id: int, user_id: int) -> bool:
    return (ticket is not None and ticket.submission_id is not None and ticket.user_id == user_id
            and ticket.competition_id == comp_id)


def _why_unusable(ticket: UploadTicket | None, comp_id: int, user_id: int) -> str:
    again = "run the submit command again."
    if ticket is None or ticket.user_id != user_id or ticket.competition_id != comp_id:
        return f"This upload token is not one of yours for this competition; {again}"
    if ticket.used_at is not None:  # handed in before and refused by the rules, which would refuse it again
        return f"This upload was already handed in and made no submission; {again}"
    if ticket.received_at is None:
        return f"The file for this upload token never arrived completely; {again}"
    return f"This upload token expired; {again}"


def _staged_bytes_verdict(session: Session, settings: Settings, user_id: int, tz: str, size_bytes: int,
                          now: datetime, *, uploading: str | None = None) -> rules.LimitResult:
    """Whether `size_bytes` more may wait for the student (rules.check_staged_bytes).

    For a new ticket, every upload of theirs still waiting counts, announced or sent, so that a student is told
    before sending a file that would not fit. For the upload of ticket `uploading`, only the files sent or being
    sent count: the bytes on disk never pass the cap, even when tickets taken together did, and a ticket
    announced and never used holds nobody's upload back."""
    waiting = _waiting(session, user_id, now, sent_only=uploading is not None, besides=uploading)
    return rules.check_staged_bytes(waiting, size_bytes, settings.storage.staged_bytes or None, tz)


def _waiting(session: Session, user_id: int, now: datetime, *, sent_only: bool = False,
             besides: str | None = None) -> list[rules.WaitingUpload]:
    """The student's uploads not handed in that may still be: announced and still open for their upload (or being
    sent), or sent and still open for their hand-in. Each with the instant it stops waiting."""
    query = (select(UploadTicket.size_bytes, UploadTicket.expires_at, UploadTicket.received_at)
             .where(UploadTicket.user_id == user_id, UploadTicket.used_at.is_(None),
                    or_(and_(UploadTicket.received_at.is_(None), UploadTicket.expires_at >= now),
                        and_(UploadTicket.staged_path.is_not(None), UploadTicket.received_at >= now - LIFETIME))))
    if sent_only:
        query = query.where(UploadTicket.upload_started_at.is_not(None))
    if besides is not None:
        query = query.where(UploadTicket.id != besides)
    return [rules.WaitingUpload(row.size_bytes, row.received_at + LIFETIME if row.received_at else row.expires_at)
            for row in session.execute(query)]


def expire_waiting(session: Session, settings: Settings, now: datetime, *, user_id: int | None = None) -> int:
    """Delete the files sent and never handed in whose time for the hand-in has passed (of one student, or of
    everyone); returns how many. The rows stay until `purge_stale`, so that a late hand-in hears "expired".

    The files go at once, before the caller commits: whether or not the transaction stands, such a ticket can
    never be handed in any more (`submit` wants `received_at` within `LIFETIME`)."""
    query = select(UploadTicket.id, UploadTicket.staged_path).where(
        UploadTicket.used_at.is_(None), UploadTicket.staged_path.is_not(None), UploadTicket.received_at < now - LIFETIME)
    if user_id is not None:
        query = query.where(UploadTicket.user_id == user_id)
    expired = session.execute(query).all()
    if expired:
        session.execute(update(UploadTicket).where(UploadTicket.id.in_([key for key, _ in expired]))
                        .values(staged_path=None).execution_options(synchronize_session=False))
    for _key_hash, staged_path in expired:
        settings.located(staged_path).unlink(missing_ok=True)
    return len(expired)


def clean_up(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """The scheduler's pass over the staging folder: expired files deleted, day-old tickets forgotten, and the
    partial files of uploads cut off by a killed process removed. Returns how many files went."""
    now = now or utcnow()
    with db.session() as session:
        expired = expire_waiting(session, settings, now)
        purge_stale(session, settings, now)
    return expired + _remove_cut_off_uploads(settings, now)


def _remove_cut_off_uploads(settings: Settings, now: datetime) -> int:
    """Temporary files of uploads that never finished (store_stream's `.incoming-*`, left by a process killed
    mid-upload), once they are older than any upload could take."""
    folder = staging_dir(settings)
    if not folder.is_dir():
        return 0
    oldest = now.timestamp() - STALE_AFTER.total_seconds()
    removed = 0
    for path in folder.glob(".incoming-*"):
        try:
            if path.stat().st_mtime < oldest:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # finished or removed meanwhile
            continue
    return removed


def purge_stale(session: Session, settings: Settings, now: datetime) -> int:
    """Forget tickets older than a day, with any staged file left behind by a submit that never came."""
    stale = session.scalars(select(UploadTicket).where(UploadTicket.created_at < now - STALE_AFTER)).all()
    for ticket in stale:
        # Wherever store_upload put the ticket's files (`<ticket>-<attempt>`), whatever the row says: a kill between
        # writing a file and recording it leaves a file the row does not name.
        for path in staging_dir(settings).glob(f"{ticket.id}-*"):
            path.unlink(missing_ok=True)
    if stale:
        session.execute(delete(UploadTicket).where(UploadTicket.id.in_([t.id for t in stale])))
    return len(stale)
