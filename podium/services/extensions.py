"""Extensions: staff move one student's deadlines on one competition (POLICY.md section 7).

A student has at most one active extension per competition: a new grant replaces the previous one, which stays
on record as revoked. Every grant and revocation is audited with who did it and when.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import FieldError, NotFound, PodiumError
from podium.models import Competition, Course, Enrolment, Extension, User, utcnow
from podium.services import audit
from podium.services.rule_values import active_extension


def grant(session: Session, comp: Competition, user: User, *, days: float | None = None,
          until: datetime | None = None, reason: str, actor: str) -> Extension:
    """Extend by `days` (early, on-time and late all move) or until a new on-time deadline `until`."""
    # Fields named as FieldError names them: the command words them by its options, the staff page by its labels.
    if (days is None) == (until is None):
        raise FieldError("days", "give either {days} or {until} (one of them, not both)")
    if not reason or not reason.strip():
        raise FieldError("reason", "an extension needs {reason}; it is kept in the audit log")
    if days is not None and days <= 0:
        raise FieldError("days", "{days} must be more than 0, not {given:g}", given=days)
    if until is not None and until <= comp.ontime:
        raise FieldError("until", "{until} must be after the competition's on-time deadline, {ontime}",
                         ontime=rules.format_local(comp.ontime, comp.course.timezone))
    # Locked, so that two staff granting at once on PostgreSQL cannot both find no active extension and leave two.
    enrolment = session.scalar(select(Enrolment).where(Enrolment.user_id == user.id,
                                                       Enrolment.course_id == comp.course_id).with_for_update())
    if enrolment is None:
        raise NotFound(f"{user.email} is not enrolled in {comp.course.slug}")
    previous = active_extension(session, comp, user)
    if previous is not None:
        _revoke(session, previous, actor, replaced=True)
    extension = Extension(
        competition_id=comp.id, user_id=user.id, reason=reason.strip(), granted_by=actor,
        delta_seconds=None if days is None else int(timedelta(days=days).total_seconds()),
        ontime=until,
    )
    session.add(extension)
    session.flush()
    audit.record(session, actor, "extension.grant", course_id=comp.course_id, target=f"{comp.public_id} {user.email}",
                 extension=extension.id, days=days, until=None if until is None else until.isoformat(),
                 reason=extension.reason)
    return extension


def revoke(session: Session, extension_id: int, actor: str, *, course: Course | None = None) -> Extension:
    """Revoke an active extension; with `course` (its staff pages), one of another course is not found."""
    extension = session.get(Extension, extension_id)
    if extension is None:
        raise NotFound(f"no extension {extension_id}")
    if course is not None and extension.competition.course_id != course.id:
        raise NotFound(f"no extension {extension_id} in this course")
    if extension.revoked_at is not None:
        raise PodiumError(f"extension {extension_id} was already revoked")
    _revoke(session, extension, actor)
    return extension


def _revoke(session: Session, extension: Extension, actor: str, replaced: bool = False) -> None:
    extension.revoked_at, extension.revoked_by = utcnow(), actor
    comp = extension.competition
    audit.record(session, actor, "extension.revoke", course_id=comp.course_id,
                 target=f"{comp.public_id} {extension.user.email}", extension=extension.id, replaced=replaced)


def listing(session: Session, course_id: int, *, competition_id: int | None = None,
            include_revoked: bool = False) -> list[Extension]:
    query = select(Extension).join(Competition).where(Competition.course_id == course_id)
    if competition_id is not None:
        query = query.where(Extension.competition_id == competition_id)
    if not include_revoked:
        query = query.where(Extension.revoked_at.is_(None))
    return list(session.scalars(query.order_by(Extension.granted_at, Extension.id)))


def describe(extension: Extension, timezone: str = "UTC") -> str:
    """What the extension does, in words."""
    if extension.delta_seconds is not None:
        days = extension.delta_seconds / 86400
        return f"+{days:g} day{'s' if days != 1 else ''} on every deadline"
    return f"on time until {rules.format_local(extension.ontime, timezone)}"
