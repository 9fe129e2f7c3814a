"""Marking submissions as final (POLICY.md section 4, `selection = "kaggle"`)."""
from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import NotFound, Refused
from podium.models import Enrolment, Submission, User, utcnow
from podium.services import audit, regrades
from podium.services.rule_values import policy_of, schedule_for, submission_of


def set_mark(session: Session, submission_id: int, selected: bool, *, by: User | None, actor: str | None = None,
             now: datetime | None = None, regrade: bool = False) -> Submission:
    """Mark (or unmark) a submission as final: by its author, by staff of the course, or (by=None) by the
    operator at the `podium` command.

    Students can change marks until their late deadline. Staff correcting a mark (e.g. for a student who asked in
    time) act as of that deadline, so the per-group limit still holds but the lock does not stop them; every
    change made for a student is audited.
    """
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    comp = sub.competition
    for_student = by is None or by.id != sub.user_id
    if by is not None and for_student and not _is_staff(session, by, comp.course_id):
        raise NotFound(f"no submission {submission_id}")
    schedule = schedule_for(session, comp, sub.user)
    now = now or utcnow()
    as_of = min(now, schedule.late) if for_student else now
    policy = policy_of(comp.course)
    # The student's marks are counted and changed one mark at a time, under the lock of their enrolment (as uploads
    # are counted): SQLite serialises writers anyway, but on PostgreSQL two parallel marks would each see room for
    # one more. Read again after the lock (populate_existing), since `sub` was loaded before it.
    session.execute(select(Enrolment.id).where(Enrolment.user_id == sub.user_id, Enrolment.course_id == comp.course_id)
                    .with_for_update())
    own = session.scalars(select(Submission).where(Submission.competition_id == comp.id,
                                                   Submission.user_id == sub.user_id)
                          .execution_options(populate_existing=True)).all()
    verdict = rules.check_mark(submission_of(sub), [submission_of(s) for s in own], schedule, as_of,
                               selection=policy.selection, k=policy.max_selected,
                               mark=selected, tz=comp.course.timezone)
    if not verdict.allowed:
        raise Refused(verdict.message)
    if sub.selected != selected:
        who = actor or (by.email if by else "cli")
        # A mark chooses what counts: staff correcting one after finalisation change a grade, which is a regrade.
        # (A student's own marks lock at their late deadline, before any finalisation.)
        with (regrades.decision(session, comp.course, actor=who, regrade=regrade,
                                what=f"{'marking' if selected else 'unmarking'} submission {sub.id} of "
                                     f"{sub.user.email}") if for_student else nullcontext()):
            sub.selected = selected
            if for_student:
                audit.record(session, who, "submission.select" if selected else "submission.unselect",
                             course_id=comp.course_id, target=str(sub.id), student=sub.user.email)
    return sub


def _is_staff(session: Session, user: User, course_id: int) -> bool:
    role = session.scalar(select(Enrolment.role).where(Enrolment.user_id == user.id, Enrolment.course_id == course_id))
    return role is not None and role.is_staff
