"""Extensions: staff move one student's deadlines on one competition (POLICY.md section 7).

A student has at most one active extension per competition: a new grant replaces the previous one, which stays
on record as revoked. Every grant and revocation is audited with who did it and when.

Extensions are for students: staff and instructors are refused one, since it would only move the competition's
finalisation (`rule_values.last_late`), and rows left from before that rule move nothing.

After an outage, `grant_all_students` gives every student of the course the same extra time in one audited
action. A student who already has an extension keeps it and gets the extra time on top: the outage cost them
the same time as everyone else.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from podium import rules
from podium.errors import FieldError, NotFound, PodiumError, Refused
from podium.models import Competition, Course, Enrolment, Extension, Role, User, utcnow
from podium.services import audit, regrades
from podium.services.rule_values import active_extension, active_extensions, extension_of, schedule_of

ROLE_WORDS = {Role.staff: "staff (a TA)", Role.instructor: "an instructor"}


@dataclass(frozen=True)
class Granted:
    """One student's part of a grant to every student: their new extension and the one it replaced."""

    email: str
    extension: Extension
    replaced: Extension | None


def grant(session: Session, comp: Competition, user: User, *, days: float | None = None,
          hours: float | None = None, until: datetime | None = None, reason: str, actor: str,
          regrade: bool = False) -> Extension:
    """Extend by a duration (`days` or `hours`: early, on-time and late all move), or until a new on-time deadline
    `until`. One that changes final grades of a finalised or released competition needs `regrade`."""
    # Fields named as FieldError names them: the command words them by its options, the staff page by its labels.
    if sum(value is not None for value in (days, hours, until)) != 1:
        raise FieldError("days", "give one of {days}, {hours} or {until}")
    reason = _checked_reason(reason)
    delta = None if until is not None else duration(days=days, hours=hours)
    if until is not None:
        _check_until(comp, until)
    # Locked, so that two staff granting at once on PostgreSQL cannot both find no active extension and leave two.
    enrolment = session.scalar(select(Enrolment).where(Enrolment.user_id == user.id,
                                                       Enrolment.course_id == comp.course_id).with_for_update())
    if enrolment is None:
        raise NotFound(f"{user.email} is not enrolled in {comp.course.slug}")
    _refuse_staff(user, enrolment, comp)
    with regrades.decision(session, comp.course, what=f"an extension for {user.email} on {comp.public_id}",
                           actor=actor, regrade=regrade):
        previous = active_extension(session, comp, user)
        if previous is not None:
            _revoke(session, previous, actor, replaced=True)
        extension = Extension(
            competition_id=comp.id, user_id=user.id, reason=reason, granted_by=actor,
            delta_seconds=None if delta is None else int(delta.total_seconds()), ontime=until,
        )
        session.add(extension)
        session.flush()
        audit.record(session, actor, "extension.grant", course_id=comp.course_id,
                     target=f"{comp.public_id} {user.email}", extension=extension.id, days=days, hours=hours,
                     seconds=extension.delta_seconds, until=None if until is None else until.isoformat(),
                     reason=extension.reason)
    return extension


def grant_all_students(session: Session, comp: Competition, *, days: float | None = None,
                       hours: float | None = None, reason: str, actor: str, regrade: bool = False
                       ) -> list[Granted]:
    """Give every student enrolled in the course `days` or `hours` more on every deadline of `comp` (after an
    outage): one audited action whose audit entry lists each student with what they had and what they have now.

    A student's earlier extension is kept and the time added to it (revoked and replaced by one that gives both),
    so nobody loses an extension and everybody gains the same time."""
    if days is not None and hours is not None:
        raise PodiumError("Give either a number of days or a number of hours, not both.")
    if days is None and hours is None:
        raise PodiumError("Give the time every student gets: a number of days or of hours.")
    delta = duration(days=days, hours=hours)
    reason = _checked_reason(reason)
    # The enrolments locked, as a single grant locks its own: no grant to one student can slip in between.
    students = list(session.scalars(
        select(Enrolment).where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student)
        .options(selectinload(Enrolment.user)).order_by(Enrolment.user_id).with_for_update()))
    if not students:
        raise Refused(f"{comp.course.slug} has no students; nothing was granted.")
    current = {e.user_id: e for e in session.scalars(
        select(Extension).where(Extension.competition_id == comp.id, Extension.revoked_at.is_(None))
        .order_by(Extension.granted_at, Extension.id))}
    with regrades.decision(session, comp.course, what=f"extending every student on {comp.public_id}", actor=actor,
                           regrade=regrade):
        granted = _extend_all(session, comp, students, current, delta, reason, actor)
        tz = comp.course.timezone
        audit.record(session, actor, "extension.grant_all", course_id=comp.course_id, target=comp.public_id,
                     days=days, hours=hours, seconds=int(delta.total_seconds()), reason=reason,
                     students=len(granted),
                     granted=[{"email": g.email, "before": None if g.replaced is None else describe(g.replaced, tz),
                               "now": describe(g.extension, tz)} for g in granted])
    return granted


def _extend_all(session: Session, comp: Competition, students: list[Enrolment], current: dict[int, Extension],
                delta: timedelta, reason: str, actor: str) -> list[Granted]:
    effective = active_extensions(session, [comp])
    schedule, now = schedule_of(comp), utcnow()
    granted = []
    for enrolment in sorted(students, key=lambda e: e.user.email):
        previous = current.get(enrolment.user_id)
        rule = effective.get((comp.slug, enrolment.user_id))
        new_rule = rules.extended(schedule, rule, delta)
        if previous is not None:
            previous.revoked_at, previous.revoked_by = now, actor
        extension = Extension(
            competition_id=comp.id, user_id=enrolment.user_id, granted_by=actor, granted_at=now,
            reason=reason if previous is None else f"{reason}; added to the earlier extension ({previous.reason})",
            delta_seconds=None if new_rule.delta is None else int(new_rule.delta.total_seconds()),
            early=new_rule.early, ontime=new_rule.ontime, late=new_rule.late,
        )
        session.add(extension)
        granted.append(Granted(enrolment.user.email, extension, previous))
    session.flush()
    return granted


def duration(*, days: float | None = None, hours: float | None = None) -> timedelta:
    """The duration given as days or as hours, to the second (rules.extension_delta), or why it is refused."""
    amount, unit = (days, "days") if days is not None else (hours, "hours")
    try:
        return rules.extension_delta(amount, unit)
    except ValueError as exc:
        raise FieldError(unit, "{message}", message=str(exc)) from None


def describe_duration(*, days: float | None = None, hours: float | None = None) -> str:
    """The duration as it is kept, in words: "1 day 1 second" for 1.00001 days."""
    return rules.describe_duration(duration(days=days, hours=hours))


def _checked_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise FieldError("reason", "an extension needs {reason}; it is kept in the audit log")
    return reason.strip()


def _check_until(comp: Competition, until: datetime) -> None:
    if until <= comp.ontime:
        raise FieldError("until", "{until} must be after the competition's on-time deadline, {ontime}",
                         ontime=rules.format_local(comp.ontime, comp.course.timezone))


def _refuse_staff(user: User, enrolment: Enrolment, comp: Competition) -> None:
    if enrolment.role.is_staff:
        raise Refused(f"{user.email} is {ROLE_WORDS[enrolment.role]} of {comp.course.slug}: extensions are for "
                      "students, and one for staff would only hold back the competition's finalisation. Nothing "
                      "was granted.")


def revoke(session: Session, extension_id: int, actor: str, *, course: Course | None = None,
           regrade: bool = False) -> Extension:
    """Revoke an active extension; with `course` (its staff pages), one of another course is not found. One whose
    end changes final grades of a finalised or released competition needs `regrade`."""
    extension = session.get(Extension, extension_id)
    if extension is None:
        raise NotFound(f"no extension {extension_id}")
    if course is not None and extension.competition.course_id != course.id:
        raise NotFound(f"no extension {extension_id} in this course")
    if extension.revoked_at is not None:
        raise PodiumError(f"extension {extension_id} was already revoked")
    comp = extension.competition
    with regrades.decision(session, comp.course, actor=actor, regrade=regrade,
                           what=f"revoking extension {extension_id} ({extension.user.email} on {comp.public_id})"):
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


def without_effect(session: Session, course_id: int, rows: list[Extension]) -> set[int]:
    """The ids of active extensions among `rows` that move nothing because their person is not a student of the
    course (staff, or no longer enrolled): the staff page says so beside them."""
    students = set(session.scalars(select(Enrolment.user_id).where(Enrolment.course_id == course_id,
                                                                   Enrolment.role == Role.student)))
    return {e.id for e in rows if e.revoked_at is None and e.user_id not in students}


def describe(extension: Extension, timezone: str = "UTC") -> str:
    """What the extension does, in words, to the second."""
    if extension.delta_seconds is not None:
        return f"+{rules.describe_duration(timedelta(seconds=extension.delta_seconds))} on every deadline"
    rule = extension_of(extension)
    parts = [f"{label} until {rules.format_local(at, timezone)}"
             for label, at in (("early", rule.early), ("on time", rule.ontime), ("late", rule.late)) if at]
    return ", ".join(parts)
