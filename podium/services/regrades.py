"""Regrades are decisions (POLICY.md section 11): a grade of a finalised or released competition changes only when a
staff member asked for it, and every grade that changed is recorded, old and new.

Every change to what grades depend on (the course policy, a competition's settings, deadlines or cutoffs, an
extension, the slack ledger) runs inside `decision(...)`. The grades are computed before and after the change, in
the change's own transaction; when a final grade of a finalised or released competition differs and the staff
member did not ask for a regrade, the change is rolled back and `RegradeNeeded` lists what it would change, so that
the CLI can say to add `--regrade` and the web can show a confirmation page. With the regrade asked for, the change
stays, one audit event lists every changed grade, and each change is kept as a `GradeChange` row, which a student
sees beside the grade once the competition is released.

A change that moves no grade of a finalised or released competition needs no decision: grades of competitions still
running are provisional anyway.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.errors import RegradeNeeded
from podium.models import AuditEvent, Competition, Course, GradeChange, User
from podium.services import audit, notifications

# Grades are compared to this many decimals: the exports write four, and a difference below that is rounding.
COMPARED_DECIMALS = 6


@dataclass(frozen=True)
class Change:
    """One final grade that a decision changes (None: no grade)."""

    email: str
    competition: str  # public id
    old: float | None
    new: float | None

    def line(self) -> str:
        return f"{self.email} in {self.competition}: {_shown(self.old)} -> {_shown(self.new)}"

    def as_detail(self) -> dict:
        return {"email": self.email, "competition": self.competition, "old": self.old, "new": self.new}


def guarded(comp: Competition) -> bool:
    """Whose grades need a decision to change: a competition finalised (its cutoffs fixed) or released."""
    return comp.finalised_at is not None or comp.released_at is not None


def refuse_unless_asked(comp: Competition, *, what: str, because: str, regrade: bool) -> None:
    """For a change whose effect on grades shows only later (a new solution or metric, a rescore): a finalised or
    released competition needs the regrade asked for up front."""
    if guarded(comp) and not regrade:
        raise RegradeNeeded(what, [], because=because)


def final_grades(session: Session, course: Course, *, staff: bool = True) -> dict[tuple[int, int], float | None]:
    """Every student's final grade in every competition, by (user id, competition id), as staff (private scores)
    or as students read them (provisional where not released)."""
    from podium.services.grading import grade_course

    students, grades = grade_course(session, course, staff=staff)
    finals: dict[tuple[int, int], float | None] = {}
    for comp in course.competitions:
        for user in students:
            grade = grades[user.id].grade(comp.slug)
            finals[(user.id, comp.id)] = round(grade.final, COMPARED_DECIMALS) if grade.graded else None
    return finals


def differences(session: Session, course: Course, before: dict[tuple[int, int], float | None],
                after: dict[tuple[int, int], float | None], *, only=guarded) -> list[Change]:
    """The grades that differ between two `final_grades`, for the competitions `only` selects, by competition
    (course order) then email."""
    competitions = {c.id: c for c in course.competitions if only(c)}
    # Grades of students on both sides only: a student who joins or leaves the gradebook (enrolled, unenrolled)
    # has no grade to change there; what such a change does to everyone else's grades (the class's best score
    # the bonus is measured against) is what counts.
    keys = [k for k in before.keys() & after.keys() if k[1] in competitions and before[k] != after[k]]
    if not keys:
        return []
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_({k[0] for k in keys}))).all())
    order = {c.id: i for i, c in enumerate(course.competitions)}
    keys.sort(key=lambda k: (order[k[1]], emails[k[0]]))
    return [Change(emails[u], competitions[c].public_id, before.get((u, c)), after.get((u, c))) for u, c in keys]


@contextmanager
def decision(session: Session, course: Course, *, what: str, actor: str, regrade: bool) -> Iterator[list[Change]]:
    """Run a change to what grades depend on. Yields the list that, once the block ends, holds the grades it
    changed; refuses (rolled back, `RegradeNeeded`) when they include grades of finalised or released competitions
    and `regrade` is False."""
    changes: list[Change] = []
    if not any(guarded(c) for c in course.competitions):
        try:
            yield changes  # nothing finalised or released: every grade is still provisional
        except BaseException:
            session.rollback()
            raise
        return
    before = final_grades(session, course)
    try:
        yield changes
    except BaseException:
        # Nothing of a refused change stays, whoever would commit the session next (a web request commits after
        # an error page).
        session.rollback()
        raise
    session.flush()
    changes.extend(differences(session, course, before, final_grades(session, course)))
    if changes and not regrade:
        session.rollback()
        raise RegradeNeeded(what, changes)
    if changes:
        record(session, course, changes, reason=f"regrade: {what}", actor=actor, action="grades.regrade")


def record(session: Session, course: Course, changes: list[Change], *, reason: str, actor: str, action: str,
           target: str | None = None, **details) -> AuditEvent:
    """One audit event listing every change (the decision's own: `action` on `target`, with its `details`), and
    one `GradeChange` row per change for the student's page."""
    event = audit.record(session, actor, action, course_id=course.id, target=target or course.slug, reason=reason,
                         changes=[c.as_detail() for c in changes], **details)
    session.flush()
    users = dict(session.execute(select(User.email, User.id).where(User.email.in_({c.email for c in changes}))).all())
    comps = {c.public_id: c.id for c in course.competitions}
    session.add_all(GradeChange(course_id=course.id, competition_id=comps[c.competition], user_id=users[c.email],
                                old_final=c.old, new_final=c.new, reason=reason, actor=actor or audit.SYSTEM,
                                audit_event_id=event.id) for c in changes)
    notifications.grades_changed(session, course, changes, reason)  # released competitions' grades only
    return event


def latest_changes(session: Session, course: Course, user: User) -> dict[int, GradeChange]:
    """The last recorded change of each of the student's grades, by competition id."""
    rows = session.scalars(select(GradeChange).where(GradeChange.course_id == course.id,
                                                     GradeChange.user_id == user.id).order_by(GradeChange.id))
    return {row.competition_id: row for row in rows}


def _shown(final: float | None) -> str:
    return "no grade" if final is None else f"{final:.1f}"
