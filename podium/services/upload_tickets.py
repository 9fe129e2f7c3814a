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

Only the token's hash is stored. Each step claims the ticket with a conditional update, so each happens once even
with several server processes sharing the database.

A file sent and never handed in (an interrupted command, or a script) waits in the staging folder until its ticket
expires, `LIFETIME` after it arrived; then it is deleted (`expire_waiting`: by the scheduler's clean-up, and when
the same student asks for a new ticket). Meanwhile the bytes one student may have waiting, announced or sent, are
capped (`settings.storage.staged_bytes`), at the ticket and again at the upload.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium import rules
from podium.errors import PodiumError, Refused
from podium.models import Competition, Submission, UploadTicket, User, utcnow
from podium.services import submissions
from podium.services.rule_values import schedule_for
from podium.services.files import TooLarge, store_stream

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
    submissions.check_can_submit(session, comp, user, now)
    expire_waiting(session, settings, now, user_id=user.id)  # the student's own abandoned files go first
    verdict = _staged_bytes_verdict(session, settings, user.id, comp.course.timezone, size_bytes, now)
    if not verdict.allowed:
        raise StagedBytesCapReached(verdict.message, verdict.resets_at)
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
    """Store the bytes PUT for a ticket, once; returns the number of bytes. The size must be the announced one."""
    started = now or utcnow()
    key = _key(token)
    with db.session() as session:
        expected = _claim_for_upload(session, settings, key, started)
    try:
        if content_length is not None and content_length != expected:
            raise PodiumError(f"The upload has {content_length} bytes but {expected} were announced; run the submit "
                              "command again.", code=400)
        dest = staging_dir(settings) / key
        try:
            stored = store_stream(stream, dest, max_bytes=expected)
        except TooLarge:
            raise PodiumError(f"The upload is longer than the {expected} bytes announced; run the submit command "
                              "again.", code=400) from None
        if stored.size_bytes != expected:
            dest.unlink(missing_ok=True)
            raise PodiumError(f"The upload stopped after {stored.size_bytes} of the {expected} bytes announced; run "
                              "the submit command again.", code=400)
    except BaseException:
        _give_up(db, key, started)
        raise
    with db.session() as session:
        session.execute(update(UploadTicket).where(UploadTicket.id == key)
                        .values(received_at=now or utcnow(), staged_path=settings.stored_path(dest)))
    return stored.size_bytes


def _claim_for_upload(session: Session, settings: Settings, key: str, started: datetime) -> int:
    """Take the ticket for its one upload, if it is known, unused, unexpired and its bytes still fit the student's
    cap on waiting uploads; returns the announced size."""
    ticket = session.get(UploadTicket, key)
    if ticket is None or ticket.upload_started_at is not None or ticket.expires_at < started:
        raise TicketProblem("This upload URL is unknown, expired or already used; run the submit command again.")
    # One student's uploads are checked one at a time, so that two arriving together cannot both take the last room.
    session.get(User, ticket.user_id, with_for_update=True)
    tz = session.get(Competition, ticket.competition_id).course.timezone
    verdict = _staged_bytes_verdict(session, settings, ticket.user_id, tz, ticket.size_bytes, started, uploading=key)
    if not verdict.allowed:
        # 409, not 429: the Kaggle client would wait for a Retry-After and send the same upload again, in vain.
        raise StagedBytesCapReached(verdict.message, None, code=409)
    claimed = session.execute(
        update(UploadTicket)
        .where(UploadTicket.id == key, UploadTicket.upload_started_at.is_(None), UploadTicket.expires_at >= started)
        .values(upload_started_at=started)
    ).rowcount == 1
    if not claimed:
        raise TicketProblem("This upload URL is unknown, expired or already used; run the submit command again.")
    return ticket.size_bytes


def _give_up(db: Database, key: str, started: datetime) -> None:
    """An upload that failed keeps nothing: its ticket ends now, so its bytes no longer count as waiting."""
    try:
        with db.session() as session:
            session.execute(update(UploadTicket).where(UploadTicket.id == key, UploadTicket.received_at.is_(None))
                            .values(expires_at=started))
    except Exception:  # the student hears why the upload failed; the ticket then just expires on its own
        log.exception("could not end the ticket of a failed upload")


def hand_in(db: Database, settings: Settings, queue: submissions.ScoringQueue, token: str, comp_id: int,
            user_id: int, description: str = "") -> Submission:
    """The Kaggle client's hand-in, the use case behind its submit call: the ticket's file received as the
    student's submission (`submit`), then handed to the scoring queue. The caller holds no transaction."""
    sub = submit(db, settings, token, comp_id, user_id, description)
    queue.submit(sub.id)
    return sub


def submit(db: Database, settings: Settings, token: str, comp_id: int, user_id: int,
           description: str = "", now: datetime | None = None) -> Submission:
    """Receive the staged file of a ticket as the student's submission, at the instant of this hand-in.

    Submitting a ticket again answers with the submission it already made (a retry after a lost answer makes no
    second one). Takes ids, not rows: it works in its own transactions, like `submissions.receive`."""
    now = now or utcnow()
    key = _key(token or "")
    with db.session() as session:
        used = session.execute(
            update(UploadTicket)
            .where(UploadTicket.id == key, UploadTicket.used_at.is_(None), UploadTicket.received_at.is_not(None),
                   UploadTicket.staged_path.is_not(None),  # not deleted as expired meanwhile
                   UploadTicket.received_at >= now - LIFETIME, UploadTicket.user_id == user_id,
                   UploadTicket.competition_id == comp_id)
            .values(used_at=now)
        ).rowcount == 1
        ticket = session.get(UploadTicket, key)
        if not used:
            if _made_submission_for(ticket, comp_id, user_id):
                return session.get(Submission, ticket.submission_id)
            raise TicketProblem(_why_unusable(ticket, comp_id, user_id))
        path, file_name, received_at = settings.located(ticket.staged_path), ticket.file_name, ticket.received_at
    try:
        with db.session() as session:
            _check_hand_in(session, session.get(Competition, comp_id), session.get(User, user_id), received_at, now)
        try:
            stream = open(path, "rb")
        except FileNotFoundError:  # deleted as expired by a clean-up whose clock ran a little ahead of ours
            raise TicketProblem("This upload token expired; run the submit command again.") from None
        with stream:
            sub = submissions.receive(db, settings, comp_id, user_id, stream, file_name, description, at=now)
    finally:
        path.unlink(missing_ok=True)
    with db.session() as session:
        session.execute(update(UploadTicket).where(UploadTicket.id == key).values(submission_id=sub.id))
    return sub


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
    if ticket.used_at is not None:
        # Submitted before, with no submission made: refused by the rules then, or still being received now.
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
    query = (update(UploadTicket)
             .where(UploadTicket.used_at.is_(None), UploadTicket.staged_path.is_not(None),
                    UploadTicket.received_at < now - LIFETIME)
             .values(staged_path=None)
             .returning(UploadTicket.id)
             .execution_options(synchronize_session=False))
    if user_id is not None:
        query = query.where(UploadTicket.user_id == user_id)
    expired = session.execute(query).scalars().all()
    for key in expired:
        (staging_dir(settings) / key).unlink(missing_ok=True)  # where store_upload puts a ticket's file
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
        # Where store_upload puts the ticket's file, whatever the row says: a kill between writing the file and
        # recording it leaves a file the row does not name.
        (staging_dir(settings) / ticket.id).unlink(missing_ok=True)
    if stale:
        session.execute(delete(UploadTicket).where(UploadTicket.id.in_([t.id for t in stale])))
    return len(stale)
