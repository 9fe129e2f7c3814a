"""Course invitation links: staff make a link, and whoever opens it signed in (by password, single sign-on or an
authenticating proxy alike) joins the course as a student.

- Who makes, lists and revokes links: whoever may enrol students in the course (podium.services.authority: its TAs
  and instructors, and the instance operator), since a link enrols students on their behalf.
- A link is a random token shown once, when it is made; only its SHA-256 is stored, as for API keys, so neither the
  database nor a backup nor the audit log can hand it out again. A lost link is revoked and replaced.
- Joining enrols through podium.services.users.add_user, as staff enrolling a student would (audited, regrade rules
  and leaderboard names in their one place), and never changes an existing role in the course: a TA, an instructor
  or a student who opens the link stays what they are, and is told so.
- A link may expire (refused from its expiry on), be revoked, and accept only some email domains: `example.edu`
  accepts addresses at exactly that domain, never at a subdomain (`cs.example.edu`) nor at a look-alike
  (`badexample.edu`); `*.example.edu` accepts every subdomain of it at any depth, but not `example.edu` itself
  (list both for both). Domains are compared in the normalised form of emails (lower case, IDNA).
- Unknown tokens are counted per client address against PODIUM_SIGN_IN_ADDRESS_LIMIT (scope "invitation:address"),
  as failed sign-ins are, so that tokens cannot be guessed at speed; a known token takes its count back.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.domain import LARGEST_ID, Role, utcnow
from podium.errors import FieldError, Forbidden, NotFound, PodiumError, Refused, RegradeNeeded
from podium.models import Course, CourseInvitation, User
from podium.config import Settings
from podium.services import audit, authority, mails, ratelimit, users

TOKEN_BYTES = 32
MOST_MAILED = 2000  # addresses one link may be mailed to at its making: a large course, not a mailing list
LABEL_LENGTH = 200
INVITATION_ADDRESS = "invitation:address"  # the rate limiter's scope for unknown tokens, per client address

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"

UNKNOWN = ("This invitation link is not valid: check that you opened the whole link as it was given to you, or ask "
           "the course staff for a new one.")


# --- the token --------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    # A token is 32 random bytes, so one fast hash suffices (as for API keys); only the hash is kept.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- email domains ----------------------------------------------------------------------------------------


def parse_domains(given: str | Iterable[str]) -> list[str]:
    """The allowed domains as typed (separated by commas, spaces or lines; a leading "@" is dropped), normalised as
    emails are, without repeats. `example.edu` is that domain only; `*.example.edu` its subdomains only."""
    parts = re.split(r"[\s,;]+", given) if isinstance(given, str) else [p for text in given
                                                                         for p in re.split(r"[\s,;]+", text)]
    domains: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        domain = _normalised_domain(part)
        if domain not in domains:
            domains.append(domain)
    return domains


def _normalised_domain(typed: str) -> str:
    text = typed.removeprefix("@")
    wildcard = text.startswith("*.")
    bare = text[2:] if wildcard else text
    problem = FieldError("domains", "{domains}: {given!r} is not an email domain; write example.edu (that domain "
                                    "only) or *.example.edu (its subdomains)", given=typed)
    if not bare or "@" in bare or "*" in bare or "." not in bare.strip("."):
        raise problem
    try:
        domain = users.normalise_email(f"x@{bare}").partition("@")[2]
    except PodiumError:
        raise problem from None
    return f"*.{domain}" if wildcard else domain


def domain_allows(domains: list[str], email: str) -> bool:
    """Whether a normalised email is at one of the domains (no domains: any address)."""
    if not domains:
        return True
    at = email.rpartition("@")[2]
    return any(at.endswith(d[1:]) if d.startswith("*.") else at == d for d in domains)


def describe_domains(domains: list[str]) -> str:
    return ", ".join(f"@{d}" for d in domains) if domains else "any address"


# --- staff: make, list, revoke ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    invitation: CourseInvitation
    token: str  # shown once, never stored


@dataclass(frozen=True)
class Listed:
    invitation: CourseInvitation
    state: str  # ACTIVE, EXPIRED or REVOKED


def require_inviter(by: authority.Actor, course: Course) -> None:
    """Links enrol students on the course's behalf: whoever may enrol a student there may make and revoke them."""
    if isinstance(by, authority.Operator):
        return
    refusal = authority.enrolment_refusal(authority.role_of(by, course), None, Role.student, is_self=False,
                                          instructors=authority.instructors_of(course))
    if refusal is not None:
        raise Forbidden("Only the course's staff can make, see or revoke its invitation links.")


def create(session: Session, course: Course, *, by: authority.Actor, actor: str, label: str = "",
           expires_at: datetime | None = None, domains: str | Iterable[str] = "",
           mail_to: str | Iterable[str] = "", settings: Settings | None = None,
           now: datetime | None = None) -> NewInvitation:
    """A new link for the course; its token is in the result only. With `mail_to`, the link is also mailed to each
    of those addresses through the outbox (the only other place it ever is, until each mail is sent)."""
    require_inviter(by, course)
    now = now or utcnow()
    label = (label or "").strip()
    if len(label) > LABEL_LENGTH:
        raise FieldError("label", "{label} is longer than {n} characters", n=LABEL_LENGTH)
    if expires_at is not None and expires_at <= now:
        raise FieldError("expires", "{expires} is not in the future: give a time after now, or none for a link that "
                                    "works until it is revoked")
    allowed = parse_domains(domains)
    recipients = _recipients(mail_to, allowed, settings)
    token = new_token()
    invitation = CourseInvitation(course_id=course.id, token_hash=token_hash(token), label=label,
                                  allowed_domains=allowed, expires_at=expires_at, created_by=actor, created_at=now)
    session.add(invitation)
    session.flush()
    audit.record(session, actor, "invitation.create", course_id=course.id, target=label or f"link {invitation.id}",
                 invitation=invitation.id, expires_at=expires_at.isoformat() if expires_at else None,
                 domains=describe_domains(allowed), mailed=len(recipients))
    for address in recipients:
        mails.queue_invitation(session, settings, course, address, token, expires_at)
    return NewInvitation(invitation, token)


def _recipients(mail_to: str | Iterable[str], allowed: list[str], settings: Settings | None) -> list[str]:
    """The addresses a new link is to be mailed to, normalised, each once; refused as a whole, before anything is
    written, when one is not an address, is outside the link's domains, or mail cannot carry links here."""
    typed = re.split(r"[\s,;]+", mail_to) if isinstance(mail_to, str) else list(mail_to)
    typed = [address.strip() for address in typed if address and address.strip()]
    if not typed:
        return []
    if settings is None or (missing := mails.missing_for_links(settings)):
        lacking = " and ".join(missing) if settings is not None else "the server's mail settings"
        raise FieldError("mail_to", "{mail_to} needs " + lacking + " configured on the server; make the link "
                                    "without it and hand it over another way")
    if len(typed) > MOST_MAILED:
        raise FieldError("mail_to", "{mail_to} lists {n} addresses; at most {most} at once: make one link per "
                                    "section", n=len(typed), most=MOST_MAILED)
    wrong, outside, recipients = [], [], {}
    for address in typed:
        try:
            normal = users.normalise_email(address)
        except PodiumError:
            wrong.append(address)
            continue
        if not domain_allows(allowed, normal):
            outside.append(address)
        recipients.setdefault(normal, None)
    if wrong:
        raise FieldError("mail_to", "{mail_to}: not email addresses: {which}; correct or remove them",
                         which=_some(wrong))
    if outside:
        raise FieldError("mail_to", "{mail_to}: outside the link's allowed domains ({domains}), so the link would "
                                    "refuse them: {which}", domains=describe_domains(allowed), which=_some(outside))
    return list(recipients)


def _some(items: list[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def state_of(invitation: CourseInvitation, now: datetime) -> str:
    if invitation.revoked_at is not None:
        return REVOKED
    if invitation.expires_at is not None and now >= invitation.expires_at:
        return EXPIRED
    return ACTIVE


def listing(session: Session, course: Course, *, by: authority.Actor, now: datetime | None = None) -> list[Listed]:
    """The course's links, newest first, each with its state."""
    require_inviter(by, course)
    now = now or utcnow()
    rows = session.scalars(select(CourseInvitation).where(CourseInvitation.course_id == course.id)
                           .order_by(CourseInvitation.id.desc()))
    return [Listed(invitation, state_of(invitation, now)) for invitation in rows]


def invitation_in(session: Session, course: Course | None, invitation_id: int) -> CourseInvitation:
    """The link with this id, of `course` when one is given; another course's link is "not found" alike."""
    invitation = session.get(CourseInvitation, invitation_id) if 0 < invitation_id <= LARGEST_ID else None
    if invitation is None or (course is not None and invitation.course_id != course.id):
        where = f" in {course.slug}" if course is not None else ""
        raise NotFound(f"There is no invitation link {invitation_id}{where}.")
    return invitation


def revoke(session: Session, course: Course | None, invitation_id: int, *, by: authority.Actor, actor: str,
           now: datetime | None = None) -> CourseInvitation:
    """The link stops working at once (people who joined through it stay enrolled). `course` None: any course's
    link, for the instance operator."""
    if course is None and not isinstance(by, authority.Operator):
        raise Forbidden("Name the course of the link.")
    if course is not None:
        require_inviter(by, course)
    invitation = invitation_in(session, course, invitation_id)
    require_inviter(by, invitation.course)
    if invitation.revoked_at is not None:
        raise Refused(f"Invitation link {invitation_id} was revoked already, by {invitation.revoked_by}.")
    invitation.revoked_at, invitation.revoked_by = now or utcnow(), actor
    audit.record(session, actor, "invitation.revoke", course_id=invitation.course_id,
                 target=invitation.label or f"link {invitation.id}", invitation=invitation.id,
                 joined=invitation.joined)
    return invitation


# --- whoever opens a link ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """What the link offers the person who opened it: to join the course, or nothing when they are in it already
    (`role` then says as what)."""

    invitation: CourseInvitation
    course: Course
    role: Role | None

    @property
    def already_in(self) -> bool:
        return self.role is not None


def open_link(session: Session, limiter: ratelimit.Limiter, token: str, user: User, address: str,
              now: datetime | None = None) -> Opened:
    """What the link at `token` offers `user`; refused (with what to do) when the link is unknown, revoked or
    expired, or when it does not accept the person's email. Changes nothing but the rate counter."""
    invitation = _counted_lookup(session, limiter, token, address)
    _refuse_unusable(invitation, now or utcnow())
    course = invitation.course
    role = authority.role_of(user, course)
    if role is None and not domain_allows(invitation.allowed_domains, user.email):
        raise Forbidden(f"This invitation link to {course.title} is only for addresses at "
                        f"{_domain_words(invitation.allowed_domains)}, and you are signed in as {user.email}. Sign "
                        "in with such an address, or ask the course staff to enrol you.")
    return Opened(invitation, course, role)


def join(session: Session, limiter: ratelimit.Limiter, token: str, user: User, address: str,
         now: datetime | None = None) -> Opened:
    """Enrol `user` as a student of the link's course, when they are not in it yet; someone in it already keeps
    their role (the result says which). Audited, counted on the link."""
    opened = open_link(session, limiter, token, user, address, now)
    if opened.already_in:
        return opened
    invitation, course = opened.invitation, opened.course
    # Read again in this transaction: the same person's other request (a second click) may have enrolled them since.
    session.refresh(user, ["enrolments"])
    if (role := authority.role_of(user, course)) is not None:
        return Opened(invitation, course, role)
    try:
        # The link is the staff's standing permission (require_inviter, when it was made) for exactly this: someone
        # not in the course, enrolled as a student. The person asks for themselves, so no course role of theirs
        # could pass authority's staff check, and none is needed.
        users.add_user(session, user.email, course, Role.student, actor=user.email, by=authority.OPERATOR)
    except IntegrityError:
        # That other request enrolled them between the two (PostgreSQL, both in flight): they are in, as a student.
        session.rollback()
        session.refresh(user, ["enrolments"])
        return Opened(invitation, course, authority.role_of(user, course))
    except RegradeNeeded:
        # Someone who left the course with submissions and comes back would change final grades already given:
        # that is a staff decision (a regrade), never a link's.
        raise Refused(f"You were in {course.title} before, and joining again would change final grades already "
                      "given. Ask the course staff to enrol you again.") from None
    # Counted in SQL, so that two people joining at once are both counted.
    session.execute(update(CourseInvitation).where(CourseInvitation.id == invitation.id)
                    .values(joined=CourseInvitation.joined + 1).execution_options(synchronize_session=False))
    session.expire(invitation, ["joined"])
    audit.record(session, user.email, "invitation.join", course_id=course.id, target=user.email,
                 invitation=invitation.id, label=invitation.label)
    return Opened(invitation, course, None)


def _counted_lookup(session: Session, limiter: ratelimit.Limiter, token: str, address: str) -> CourseInvitation:
    """The link of `token`. Every lookup is counted against the client address first, so that parallel guesses
    cannot all slip under the limit; a link that exists takes its count back, so only unknown tokens count."""
    session.commit()  # no transaction of this request open while the counter is written (SQLite's one writer)
    limit = limiter.limits.sign_in_address
    if wait := limiter.take(INVITATION_ADDRESS, address, limit):
        raise ratelimit.RateLimited(f"Too many invitation links that do not exist were opened from your address. Try "
                                    f"again in {ratelimit.wait_words(wait)}.", retry_after=wait)
    invitation = None
    if token and len(token) <= 200:
        invitation = session.scalar(select(CourseInvitation).where(CourseInvitation.token_hash == token_hash(token)))
    if invitation is None:
        raise NotFound(UNKNOWN)
    session.commit()  # the lookup's transaction too (on SQLite a writing session holds the lock from its start)
    limiter.give_back(INVITATION_ADDRESS, address)
    return invitation


def _refuse_unusable(invitation: CourseInvitation, now: datetime) -> None:
    state = state_of(invitation, now)
    title = invitation.course.title
    if state == REVOKED:
        raise PodiumError(f"This invitation link to {title} was revoked by the course staff. Ask them for a new one.",
                          code=410)
    if state == EXPIRED:
        raise PodiumError(f"This invitation link to {title} expired on {expiry_words(invitation)}. Ask the course "
                          "staff for a new one.", code=410)


def expiry_words(invitation: CourseInvitation) -> str:
    """The expiry in the course's time zone, e.g. "2026-12-31 23:59 (America/New_York)"."""
    tz = invitation.course.timezone
    return f"{invitation.expires_at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} ({tz})"


def _domain_words(domains: list[str]) -> str:
    words = [f"a subdomain of {d[2:]}" if d.startswith("*.") else d for d in domains]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
