"""The outbox: every mail Podium sends (reset and welcome links, invitations, notifications).

A use case that mails someone calls `enqueue` inside its own transaction, so the mail exists exactly when what
caused it was committed, and no request ever waits on a mail server. The background work (podium.jobs, in the
process that holds the scheduler's lease) calls `send_due`: it claims the due mails in short transactions, talks to
the mail server with no transaction open, and records each outcome. A mail the server could not take is tried
again after a wait that doubles from a minute up to an hour; one the server refused for good (the address does
not exist), one tried `mail_attempts` times, and one past its expiry are given up on and stay listed for staff.

Without PODIUM_SMTP_HOST nothing is sent and mails wait: a mail server configured later sends what has not
expired, since the settings are read on every pass.
"""
from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Callable, Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from podium.config import SmtpSettings, smtp_settings
from podium.models import MailState, OutboxMail, utcnow

FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
CLAIM = timedelta(minutes=5)  # how long a sender owns a claimed mail; a crashed sender's mails are taken after it
BATCH = 50  # mails claimed per transaction
REDACTED = "(not kept: this mail held a sign-in link)"
SUBJECT_LENGTH = 255  # OutboxMail.subject


def enqueue(session: Session, *, kind: str, to: str, subject: str, body: str, user_id: int | None = None,
            course_id: int | None = None, dedupe_key: str | None = None, expires_at: datetime | None = None,
            holds_link: bool = False, now: datetime | None = None) -> OutboxMail | None:
    """Write a mail to the outbox in the caller's transaction; it is sent after the caller commits. With a
    `dedupe_key`, a mail already written under that key (in any state) means this one is not: None then."""
    if dedupe_key is not None and already_queued(session, dedupe_key):
        return None
    now = now or utcnow()
    # A subject built from a long course title must not fail the use case that writes it (PostgreSQL enforces the
    # column's length): the mail goes with its subject cut short.
    # A header is one line: a title written over several lines in a course file would make the mail unwritable.
    subject = " ".join(subject.split())
    subject = subject if len(subject) <= SUBJECT_LENGTH else subject[:SUBJECT_LENGTH - 1] + "…"
    mail = OutboxMail(kind=kind, recipient=to, subject=subject, body=body, user_id=user_id, course_id=course_id,
                      dedupe_key=dedupe_key, expires_at=expires_at, holds_link=holds_link, created_at=now,
                      send_after=now, state=MailState.PENDING, attempts=0, last_error="")
    session.add(mail)
    session.flush()
    return mail


def already_queued(session: Session, dedupe_key: str) -> bool:
    return session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == dedupe_key)) is not None


def wait_after(attempts: int) -> timedelta:
    """How long a mail waits after its `attempts`-th failed attempt: a minute, doubling, at most an hour."""
    return min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


# --- sending ---------------------------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one pass of `send_due` did, mail ids per outcome."""

    configured: bool = True
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.expired)


class Undeliverable(Exception):
    """The mail server refused the mail for good (no such recipient, a malformed address): trying again is useless."""


@dataclass(frozen=True)
class Outgoing:
    """A claimed mail, detached from any session, as the sender needs it."""

    id: int
    recipient: str
    subject: str
    body: str


Transport = Callable[[SmtpSettings, Iterable[Outgoing]], Iterable[tuple[int, Exception | None]]]


def send_due(db, *, attempts: int, worker: str, now: datetime | None = None,
             smtp: SmtpSettings | None = None, transport: Transport | None = None) -> SendReport:
    """One pass: expire what is past its time, then claim and send the due mails in batches, each batch over one
    connection to the mail server. `db` is a podium.db.Database; no transaction is open while the server talks."""
    smtp = smtp or smtp_settings()
    report = SendReport(configured=smtp is not None)
    now = now or utcnow()
    with db.session() as session:
        report.expired.extend(_expire(session, now))
    if smtp is None:
        return report
    transport = transport or deliver
    while True:
        with db.session() as session:
            batch = _claim(session, worker, now)
        if not batch:
            return report
        outcomes = _outcomes(transport, smtp, batch)
        with db.session() as session:
            for mail in batch:
                _record(session, mail.id, worker, outcomes.get(mail.id, RuntimeError("not attempted")), attempts,
                        now, report)


def _outcomes(transport: Transport, smtp: SmtpSettings, batch: list[Outgoing]) -> dict[int, Exception | None]:
    """Each mail's outcome as the transport reports it. Should the transport itself fail midway, the mails it had
    sent are still recorded as sent (not sent twice once their claim lapses) and the others are tried again."""
    outcomes: dict[int, Exception | None] = {}
    try:
        for mail_id, error in transport(smtp, batch):
            outcomes[mail_id] = error
    except Exception as exc:  # noqa: BLE001 - recorded on each mail not yet sent, and retried
        broken = ConnectionError(f"sending broke off ({type(exc).__name__}: {exc})")
        outcomes.update({mail.id: broken for mail in batch if mail.id not in outcomes})
    return outcomes


def _expire(session: Session, now: datetime) -> list[int]:
    expired = list(session.scalars(select(OutboxMail).where(
        OutboxMail.state == MailState.PENDING, OutboxMail.expires_at.is_not(None), OutboxMail.expires_at <= now,
        or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now))))
    for mail in expired:
        _end(mail, MailState.EXPIRED, now, "expired before it could be sent")
    return [mail.id for mail in expired]


def _claim(session: Session, worker: str, now: datetime) -> list[Outgoing]:
    """Claim up to BATCH due mails for `worker`, each by a conditional update, so that two senders never send one
    mail twice."""
    due = session.scalars(select(OutboxMail.id).where(
        OutboxMail.state == MailState.PENDING, OutboxMail.send_after <= now,
        or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
    ).order_by(OutboxMail.send_after, OutboxMail.id).limit(BATCH)).all()
    claimed = []
    for mail_id in due:
        taken = session.execute(update(OutboxMail).where(
            OutboxMail.id == mail_id, OutboxMail.state == MailState.PENDING,
            or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
        ).values(claimed_by=worker, claimed_until=now + CLAIM)).rowcount
        if taken:
            claimed.append(mail_id)
    mails = session.scalars(select(OutboxMail).where(OutboxMail.id.in_(claimed)).order_by(OutboxMail.id)).all()
    return [Outgoing(mail.id, mail.recipient, mail.subject, mail.body) for mail in mails]


def _record(session: Session, mail_id: int, worker: str, error: Exception | None, attempts: int, now: datetime,
            report: SendReport) -> None:
    mail = session.get(OutboxMail, mail_id)
    if mail is None or mail.claimed_by != worker or mail.state != MailState.PENDING:
        return  # deleted with its course, or the claim lapsed and another sender owns it now
    mail.attempts += 1
    mail.claimed_by, mail.claimed_until = None, None
    if error is None:
        mail.state, mail.sent_at, mail.last_error = MailState.SENT, now, ""
        _forget_link(mail)
        report.sent.append(mail.id)
    elif isinstance(error, Undeliverable) or mail.attempts >= attempts:
        _end(mail, MailState.FAILED, now, str(error))
        report.failed.append(mail.id)
    else:
        mail.last_error = str(error)
        mail.send_after = now + wait_after(mail.attempts)
        report.retrying.append(mail.id)


def _end(mail: OutboxMail, state: str, now: datetime, error: str) -> None:
    mail.state, mail.ended_at, mail.last_error = state, now, error
    mail.claimed_by, mail.claimed_until = None, None
    _forget_link(mail)


def _forget_link(mail: OutboxMail) -> None:
    """A link that was sent, or will never be, is kept nowhere but in the recipient's mailbox."""
    if mail.holds_link:
        mail.body = REDACTED


def deliver(smtp: SmtpSettings, mails: Iterable[Outgoing]) -> Iterable[tuple[int, Exception | None]]:
    """Send `mails` over one SMTP connection; each mail's outcome, None when the server took it. A connection that
    cannot be opened, or breaks, fails the mails not yet taken (they are retried)."""
    pending = list(mails)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=20) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            while pending:
                mail = pending[0]
                yield mail.id, _send_one(client, smtp.sender, mail)
                pending.pop(0)
    except (smtplib.SMTPException, OSError) as exc:
        for mail in pending:
            yield mail.id, ConnectionError(f"the mail server {smtp.host}:{smtp.port} could not be reached or broke "
                                           f"off ({exc})")


def _send_one(client: smtplib.SMTP, sender: str, mail: Outgoing) -> Exception | None:
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, mail.recipient, mail.subject
        message.set_content(mail.body)
        client.send_message(message)
    except smtplib.SMTPSenderRefused as exc:
        # The instance's own sender address (PODIUM_SMTP_FROM) is at fault, not this mail: it waits for a fix.
        return ConnectionError(f"the mail server refused the sender address {sender} ({exc.smtp_code} "
                               f"{_text(exc.smtp_error)}): check PODIUM_SMTP_FROM")
    except smtplib.SMTPRecipientsRefused as exc:
        return Undeliverable(f"the mail server refused the address {mail.recipient} "
                             f"({_smtp_words(exc.recipients.get(mail.recipient))})")
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            return Undeliverable(f"the mail server refused the mail ({exc.smtp_code} {_text(exc.smtp_error)})")
        return ConnectionError(f"the mail server deferred the mail ({exc.smtp_code} {_text(exc.smtp_error)})")
    except (smtplib.SMTPNotSupportedError, UnicodeError, ValueError) as exc:
        # This mail cannot be written to this server (an address with letters beyond ASCII, which needs SMTPUTF8,
        # or a header that cannot be encoded). It fails alone: raised, it would break off the connection and fail
        # the mails after it in the batch, on every pass, until their attempts ran out.
        return Undeliverable(f"the mail could not be written for the mail server ({exc})")
    return None


def _smtp_words(answer) -> str:
    if not answer:
        return "no reason given"
    code, text = answer
    return f"{code} {_text(text)}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
