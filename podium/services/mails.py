"""The mails Podium writes about accounts, and what staff and the server's operator see and do of the outbox.

Account mails: a password reset link (asked for on the forgot page, or sent by staff from the People page), the
welcome mail a roster import may send to each account it made (a link to set the password), and the notice an
existing account gets when an import adds it to a course (no link: its owner already has a way in). Each is
written to the outbox (podium.services.outbox) in the transaction of what caused it and sent by the background
work; a link is a credential, so those mails hold it only until they are sent or given up on, and expire with it.

Mails with links are written only when both a mail server (PODIUM_SMTP_HOST) and the site's address
(PODIUM_BASE_URL) are configured. Without the address a link would point at whatever Host a request named; without
a mail server a link would wait in the database, a credential nobody receives, while the pages tell people to ask
their staff for a link (which staff hand over themselves). So these mails are not written then, and the forms
that would write them say why, rather than queue mails that may go out days later, or never.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from podium.config import Settings, smtp_settings
from podium.domain import Role
from podium.errors import FieldError, NotFound, Refused
from podium.models import Course, MailState, OutboxMail, User, utcnow
from podium.services import accounts, audit, outbox, ratelimit, users

RESET, WELCOME, ADDED, INVITATION = "reset", "welcome", "added", "invitation"
KIND_WORDS = {RESET: "password link", WELCOME: "welcome, with a link", ADDED: "added notice",
              INVITATION: "invitation link"}
ROLE_WORDS = {Role.student: "a student", Role.staff: "a TA", Role.instructor: "an instructor"}
LISTED = 300  # sent and expired mails listed for staff (every failed and waiting one is listed)


# --- can links be mailed ---------------------------------------------------------------------------------


def missing_for_links(settings: Settings) -> list[str]:
    """What the server lacks to mail a link, in the operator's words; empty when links can be mailed."""
    missing = []
    if smtp_settings() is None:
        missing.append("a mail server (PODIUM_SMTP_HOST)")
    if settings.base_url is None:
        missing.append("the site's address (PODIUM_BASE_URL)")
    return missing


def links_can_be_mailed(settings: Settings) -> bool:
    return not missing_for_links(settings)


def require_welcome_mail(settings: Settings) -> None:
    """Refuse the opt-in of a roster import's welcome mail, saying what the server lacks."""
    if missing := missing_for_links(settings):
        raise FieldError("welcome_mail", "{welcome_mail} needs " + " and ".join(missing) + " configured on the "
                         "server, and this server has not; import without it and hand each new person a reset link "
                         "from the People page, or ask the server's operator to configure mail")


def address(settings: Settings, path: str) -> str:
    """An absolute address on this site, under PODIUM_BASE_URL (never the Host of a request)."""
    return f"{settings.base_url}{path}"


def reset_address(settings: Settings, token: str) -> str:
    """The reset page of a token (podium.web.accounts.reset), under PODIUM_BASE_URL."""
    return address(settings, f"/reset/{token}")


# --- writing account mails -------------------------------------------------------------------------------


def queue_reset_if_known(session: Session, limiter: ratelimit.Limiter, settings: Settings, email: str) -> bool:
    """What the forgot form does once its answer has gone: queue a reset link when the email has an account and
    the account's reset mails are under their limit. Whether it queued; the answer never depends on it."""
    if not accounts.may_mail_reset_link(session, limiter, email):
        return False
    user = users.account_of(session, email)
    if user is None:
        return False
    queue_reset(session, settings, user, actor=user.email)
    session.commit()
    return True


def queue_reset(session: Session, settings: Settings, user: User, *, actor: str,
                course: Course | None = None) -> OutboxMail:
    """A mail with a new reset link for `user` (issuing it is audited); `course` when staff of that course sent it,
    so that it is listed among the course's mails."""
    link, expires = _new_link(session, settings, user, actor, course)
    return _enqueue(session, RESET, user, course, "Set your Podium password", _reset_body(user, link), expires)


def queue_welcome(session: Session, settings: Settings, course: Course, user: User, role: Role, *,
                  actor: str) -> OutboxMail:
    """The mail to an account a roster import made: what course it is for and a link to set its password, or, where
    the instance takes no passwords, how to sign in (no link: the account needs none)."""
    if accounts.passwords_refused(settings) is not None:
        return _enqueue(session, WELCOME, user, course, f"Your Podium account for {course.title}",
                        _sign_on_welcome_body(settings, course, user, role), None)
    link, expires = _new_link(session, settings, user, actor, course)
    return _enqueue(session, WELCOME, user, course, f"Your Podium account for {course.title}",
                    _welcome_body(settings, course, user, role, link), expires)


def queue_added_notice(session: Session, settings: Settings, course: Course, user: User, role: Role) -> OutboxMail:
    """The notice to an existing account that an import added to a course. No link: the account has a way in
    already, and a link sent to it would let whoever reads the mail take it over."""
    return _enqueue(session, ADDED, user, course, f"You were added to {course.title} on Podium",
                    _added_body(settings, course, user, role), None)


def _new_link(session: Session, settings: Settings, user: User, actor: str,
              course: Course | None) -> tuple[str, datetime]:
    expires = utcnow() + timedelta(seconds=accounts.RESET_MAX_AGE)  # never after the link's own expiry
    token = accounts.issue_reset_token(session, settings, user, actor=actor,
                                       course_id=course.id if course else None)
    return reset_address(settings, token), expires


def _enqueue(session: Session, kind: str, user: User, course: Course | None, subject: str, body: str,
             link_expires: datetime | None) -> OutboxMail:
    session.flush()  # a new account has its id
    return outbox.enqueue(session, kind=kind, to=user.email, subject=subject, body=body, user_id=user.id,
                          course_id=course.id if course else None, expires_at=link_expires,
                          holds_link=link_expires is not None)


def queue_invitation(session: Session, settings: Settings, course: Course, to: str, token: str,
                     expires_at: datetime | None) -> OutboxMail:
    """An invitation link of `course` mailed to `to`, who may have no account yet. The link enrols whoever holds it,
    so the mail holds a link: kept only until sent, and not sent after the link expires."""
    link = address(settings, f"/join/{token}")
    until = (f"It works until {expires_at.astimezone(ZoneInfo(course.timezone)):%Y-%m-%d %H:%M} "
             f"({course.timezone}).\n" if expires_at else "")
    way = (accounts.sign_on_words(settings) if accounts.passwords_refused(settings) is not None or settings.oidc
           else "sign in with this address and your Podium password")
    body = (f"Hello,\n\nYou are invited to join {course.title} ({course.slug}) on Podium as a student. Open this "
            f"link, {way}, and confirm:\n\n{link}\n\n{until}Anyone who has this link can join with it: please do not pass it on.\n")
    return outbox.enqueue(session, kind=INVITATION, to=to, subject=f"Join {course.title} on Podium", body=body,
                          course_id=course.id, expires_at=expires_at, holds_link=True)


def _greeting(user: User) -> str:
    return f"Hello {user.name or user.email},\n\n"


def _link_days() -> int:
    return accounts.RESET_MAX_AGE // 86400


def _reset_body(user: User, link: str) -> str:
    return (f"{_greeting(user)}Open this link to set a new Podium password:\n\n{link}\n\n"
            f"It works once and for {_link_days()} days. If you did not ask for it, ignore this mail.\n")


def _welcome_body(settings: Settings, course: Course, user: User, role: Role, link: str) -> str:
    return (f"{_greeting(user)}You have a Podium account for {course.title} ({course.slug}), as "
            f"{ROLE_WORDS[role]}, under this address. Open this link to choose your password:\n\n{link}\n\n"
            f"It works once and for {_link_days()} days; after that, ask for a new one at "
            f"{address(settings, '/forgot')}. Then sign in at {address(settings, '/sign-in')} with this address "
            "and your password.\n")


def _sign_on_welcome_body(settings: Settings, course: Course, user: User, role: Role) -> str:
    return (f"{_greeting(user)}You have a Podium account for {course.title} ({course.slug}), as "
            f"{ROLE_WORDS[role]}, under this address. Open {address(settings, '/sign-in')} and "
            f"{accounts.sign_on_words(settings)}, with this address.\n")


def _added_body(settings: Settings, course: Course, user: User, role: Role) -> str:
    body = (f"{_greeting(user)}You were added to {course.title} ({course.slug}) as {ROLE_WORDS[role]}. "
            f"Sign in at {settings.base_url} as you usually do; the course is on your first page.\n")
    if accounts.passwords_refused(settings) is None:
        body += f"\nIf you have no password yet, or forgot it, ask for a link at {address(settings, '/forgot')}.\n"
    return body


# --- what staff and the operator see ----------------------------------------------------------------------


@dataclass(frozen=True)
class MailRow:
    """A mail as lists show it: never its body, which may hold a link."""

    id: int
    kind: str
    recipient: str
    subject: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt: datetime | None  # while it waits
    sent_at: datetime | None
    ended_at: datetime | None
    course: str | None

    @property
    def kind_words(self) -> str:
        return KIND_WORDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class MailList:
    rows: list[MailRow]
    counts: dict[str, int]  # per state, over all of the course's mails
    left_out: int  # sent and expired mails beyond LISTED


ORDER = case((OutboxMail.state == MailState.FAILED, 0), (OutboxMail.state == MailState.PENDING, 1), else_=2)


def course_mails(session: Session, course: Course) -> MailList:
    """The course's own mails: failed ones first, then those waiting, then the latest sent or expired."""
    counts = dict(session.execute(select(OutboxMail.state, func.count()).where(OutboxMail.course_id == course.id)
                                  .group_by(OutboxMail.state)).all())
    rows = _rows(session, OutboxMail.course_id == course.id, limit=LISTED + counts.get(MailState.FAILED, 0)
                 + counts.get(MailState.PENDING, 0))
    shown_ended = sum(row.state not in (MailState.FAILED, MailState.PENDING) for row in rows)
    ended = counts.get(MailState.SENT, 0) + counts.get(MailState.EXPIRED, 0)
    return MailList(rows, counts, max(ended - shown_ended, 0))


def failed_in(session: Session, course: Course) -> int:
    """How many of the course's mails were given up on (the overview says so)."""
    return session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.course_id == course.id, OutboxMail.state == MailState.FAILED)) or 0


STATES = (MailState.PENDING, MailState.SENT, MailState.FAILED, MailState.EXPIRED)


def all_mails(session: Session, course_slug: str | None = None, state: str | None = None) -> list[MailRow]:
    """Every mail of the server (the operator's list), or of one course, or in one state; failed first."""
    conditions = []
    if course_slug:
        course = session.scalar(select(Course).where(Course.slug == course_slug))
        if course is None:
            raise NotFound(f"no course {course_slug}")
        conditions.append(OutboxMail.course_id == course.id)
    if state:
        if state not in STATES:
            raise FieldError("state", "{state} must be one of " + ", ".join(STATES) + "; {given} is not one",
                             given=state)
        conditions.append(OutboxMail.state == state)
    return _rows(session, *conditions)


def _rows(session: Session, *conditions, limit: int | None = None) -> list[MailRow]:
    query = (select(OutboxMail, Course.slug).outerjoin(Course, Course.id == OutboxMail.course_id).where(*conditions)
             .order_by(ORDER, OutboxMail.created_at.desc(), OutboxMail.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [_row(mail, slug) for mail, slug in session.execute(query)]


def _row(mail: OutboxMail, course_slug: str | None) -> MailRow:
    return MailRow(id=mail.id, kind=mail.kind, recipient=mail.recipient, subject=mail.subject, state=mail.state,
                   attempts=mail.attempts, last_error=mail.last_error, created_at=mail.created_at,
                   next_attempt=mail.send_after if mail.state == MailState.PENDING else None, sent_at=mail.sent_at,
                   ended_at=mail.ended_at, course=course_slug)


# --- trying a failed mail again ----------------------------------------------------------------------------


def retry(session: Session, settings: Settings, mail_id: int, *, actor: str, course: Course | None = None,
          now: datetime | None = None) -> OutboxMail:
    """Put a failed mail back in the outbox with all its attempts (audited). `course` is the course whose staff ask:
    a mail of another course is not found. A mail that held a link no longer has it (it was removed when the mail
    was given up on): a reset or welcome mail gets a new link, issued as any link is (audited)."""
    now = now or utcnow()
    mail = session.get(OutboxMail, mail_id)
    if mail is None or (course is not None and mail.course_id != course.id):
        raise NotFound("There is no such mail" + (f" in {course.slug}." if course is not None else "."))
    if mail.state != MailState.FAILED:
        raise Refused(f"Mail {mail.id} to {mail.recipient} is {mail.state}: only a mail that failed is tried again.")
    previous_error = mail.last_error
    if mail.holds_link:
        _new_body(session, settings, mail, actor)
    elif mail.expires_at is not None and mail.expires_at <= now:
        raise Refused(f"Mail {mail.id} to {mail.recipient} was due by {mail.expires_at:%Y-%m-%d %H:%M} UTC; it is "
                      "too late to send it.")
    mail.state, mail.attempts, mail.send_after, mail.last_error = MailState.PENDING, 0, now, ""
    mail.ended_at, mail.claimed_by, mail.claimed_until = None, None, None
    audit.record(session, actor, "mail.retry", course_id=mail.course_id, target=mail.recipient, mail=mail.id,
                 kind=mail.kind, previous_error=previous_error)
    session.flush()
    return mail


def _new_body(session: Session, settings: Settings, mail: OutboxMail, actor: str) -> None:
    """A new link in a link mail's body, written as the mail was first (the old body is gone)."""
    user = session.get(User, mail.user_id) if mail.user_id is not None else None
    course = session.get(Course, mail.course_id) if mail.course_id is not None else None
    role = users.role_in(user, course) if user is not None and course is not None else None
    if mail.kind not in (RESET, WELCOME) or user is None or (mail.kind == WELCOME and role is None):
        raise Refused(f"Mail {mail.id} to {mail.recipient} held a link that was not kept; make a new one instead of "
                      "trying this one again.")
    if missing := missing_for_links(settings):
        raise Refused("A new link cannot be mailed: this server lacks " + " and ".join(missing) + ".")
    link, mail.expires_at = _new_link(session, settings, user, actor, course)
    mail.body = (_reset_body(user, link) if mail.kind == RESET
                 else _welcome_body(settings, course, user, role, link))


def describe(rows: Iterable[MailRow]) -> list[str]:
    """One line per mail, for the command line."""
    lines = []
    for row in rows:
        when = (f"next attempt {row.next_attempt:%Y-%m-%d %H:%M:%S} UTC" if row.next_attempt
                else f"sent {row.sent_at:%Y-%m-%d %H:%M:%S} UTC" if row.sent_at
                else f"ended {row.ended_at:%Y-%m-%d %H:%M:%S} UTC" if row.ended_at else "")
        error = f" — {row.last_error}" if row.last_error else ""
        lines.append(f"{row.id}\t{row.state}\t{row.kind}\t{row.course or '-'}\t{row.recipient}\t"
                     f"{row.attempts} attempt{'' if row.attempts == 1 else 's'}\t{when}\t{row.subject}{error}")
    return lines
