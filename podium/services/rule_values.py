"""Stored rows as the rules' values: the one translation between the database and `podium.rules`.

Every service that hands rows to the rules builds the values here: a competition's Schedule, an Extension, a
Submission, the course's CoursePolicy (its defaults are the rules' own, never repeated here), the student's active
extension, and the course order of competitions.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Hashable, Iterable

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from podium import rules
from podium.models import Competition, Course, Enrolment, Extension, Role, Submission, User


def policy_of(course: Course) -> rules.CoursePolicy:
    """The course's [policy] table over the rules' defaults (POLICY.md section 1)."""
    return rules.CoursePolicy.from_mapping(course.timezone, course.policy)


def schedule_of(comp: Competition) -> rules.Schedule:
    """The competition's own deadlines, for the class as a whole."""
    return rules.Schedule(opens=comp.opens, early=comp.early, ontime=comp.ontime, late=comp.late)


def extension_of(extension: Extension) -> rules.Extension:
    delta = None if extension.delta_seconds is None else timedelta(seconds=extension.delta_seconds)
    return rules.Extension(delta=delta, early=extension.early, ontime=extension.ontime, late=extension.late)


def submission_value(sub_id: int, student: Hashable, submitted_at: datetime, public_score: float | None,
                     private_score: float | None, selected: bool, practice: bool) -> rules.Submission:
    """A submission from its stored columns; the leaderboards and grades read these as plain tuples, for speed."""
    return rules.Submission(id=sub_id, student=student, submitted_at=submitted_at, public_score=public_score,
                            private_score=private_score, selected=bool(selected), practice=bool(practice))


def submission_of(sub: Submission) -> rules.Submission:
    return submission_value(sub.id, sub.user_id, sub.submitted_at, sub.public_score, sub.private_score,
                            sub.selected, sub.practice)


# --- extensions ------------------------------------------------------------------------------------------


def _active_extensions(competition_ids: Iterable[int]):
    # Oldest grant first, the id settling equal instants the same on every database: the latest grant wins.
    # Extensions are for students: a row of someone who is staff of the course (granted before grants to staff
    # were refused, or to a student made a TA since) or no longer enrolled moves nobody's deadlines, and so
    # neither the competition's finalisation.
    return (select(Extension)
            .join(Competition, Competition.id == Extension.competition_id)
            .join(Enrolment, and_(Enrolment.user_id == Extension.user_id, Enrolment.course_id == Competition.course_id))
            .where(Extension.competition_id.in_(list(competition_ids)), Extension.revoked_at.is_(None),
                   Enrolment.role == Role.student)
            .order_by(Extension.granted_at, Extension.id))


def active_extension(session: Session, comp: Competition, user: User) -> Extension | None:
    """The student's extension on the competition: the latest grant not revoked (None for staff of the course)."""
    found = session.scalars(_active_extensions([comp.id]).where(Extension.user_id == user.id)).all()
    return found[-1] if found else None


def active_extensions(session: Session, competitions: list[Competition]) -> dict[tuple[str, int], rules.Extension]:
    """Every student's extension on these competitions, keyed by (competition slug, user id)."""
    slugs = {c.id: c.slug for c in competitions}
    return {(slugs[e.competition_id], e.user_id): extension_of(e)
            for e in session.scalars(_active_extensions(slugs))}


def schedule_for(session: Session, comp: Competition, user: User | None = None) -> rules.Schedule:
    """The competition's deadlines, moved by the student's extension when there is one (POLICY.md section 7)."""
    extension = active_extension(session, comp, user) if user is not None else None
    return rules.effective_schedule(schedule_of(comp), None if extension is None else extension_of(extension))


def extended_lates(session: Session, comp: Competition) -> dict[int, datetime]:
    """The late deadline of each student whose active extension moves it, by user id."""
    schedule = schedule_of(comp)
    return {user_id: rules.effective_schedule(schedule, e).late
            for (_, user_id), e in active_extensions(session, [comp]).items()}


def last_late(session: Session, comp: Competition) -> datetime:
    """The latest late deadline of anyone in the competition: its own, or one moved by an active extension."""
    return max([schedule_of(comp).late, *extended_lates(session, comp).values()])


def code_required(comp: Competition) -> bool:
    """The competition's [code] table requires code (POLICY.md section 12)."""
    return comp.code_deadline is not None and bool((comp.code_settings or {}).get("required"))


def last_code_deadline(session: Session, comp: Competition) -> datetime | None:
    """The latest code deadline of anyone in the competition (moved by extensions like the late deadline); None
    when it collects no code."""
    if comp.code_deadline is None:
        return None
    schedule = schedule_of(comp)
    return max([rules.as_utc(comp.code_deadline),
                *(rules.code_deadline(comp.code_deadline, schedule, e)
                  for (_, _), e in active_extensions(session, [comp]).items())])


def last_deadline(session: Session, comp: Competition) -> datetime:
    """The last instant the competition's grades may change by rule: its last late deadline, or, when it requires
    code, the last code deadline if later (a missing upload then flags or zeroes a grade, POLICY.md section 12).
    Finalisation, release and grades leaving Podium wait for it."""
    late = last_late(session, comp)
    code = last_code_deadline(session, comp) if code_required(comp) else None
    return late if code is None else max(late, code)


# --- the course order ------------------------------------------------------------------------------------


def course_order_key(comp: Competition) -> tuple:
    """`rules.course_order` for a stored competition (in SQL: `podium.models.course_order`, which orders
    `Course.competitions`)."""
    return rules.course_order(comp.ontime, comp.slug)


def in_course_order(competitions: Iterable[Competition]) -> list[Competition]:
    """Competitions in `ontime` order, ties by slug: the order slack days are spent in (POLICY.md section 5)."""
    return sorted(competitions, key=course_order_key)
