"""Staff actions on one competition: release of the private board and finalisation after the late deadline.

Release (POLICY.md section 11) is meant for after the competition's last effective late deadline (extensions
included), once every upload received by then is scored (`finalisations.release_readiness`). Before that it is
refused unless staff override it with a reason, which the audit entry keeps with what was still open or unscored;
after such an early release a submission received later shows its private score to its author only once that
author's window has closed (`rules.private_score_shown`). Releasing one competition can change grades of others
already released through the slack chain: the release's audit entry lists each of them, and the students see the
reason beside the grade (`regrades`).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import PodiumError, Refused
from podium.models import AuditEvent, Competition, Course, utcnow
from podium.services import audit, finalisations, notifications, regrades
from podium.services.grading import (cutoffs_of, has_position_cutoffs, private_board, scored_submissions,
                                     students_of)
from podium.services.rule_values import active_extensions, policy_of


# What staff can do about position cutoffs that give no values at finalisation (POLICY.md section 11).
WHAT_TO_DO = {
    rules.NOT_YET: " Give the cutoffs as values instead (course file or the competition's settings page): "
                   "finalising reads positions off the final private leaderboard, which has nobody on it.",
    rules.OUT_OF_ORDER: "",  # the reason says already what to change
}


class CutoffsGiveNoValues(Refused):
    """Finalising (or changing a finalised competition) would fix position cutoffs that give no values on the final
    private board: nothing is changed, and staff are told why and what to do."""

    def __init__(self, message: str, ungraded: rules.Ungraded):
        super().__init__(message)
        self.ungraded = ungraded


class ReleaseRefused(Refused):
    """The release needs an override now: the late window is open or uploads are unscored. Nothing was changed."""

    def __init__(self, message: str, readiness: finalisations.ReleaseReadiness):
        super().__init__(message)
        self.readiness = readiness


@dataclass(frozen=True)
class ReleasePlan:
    """What releasing a competition now would show students and change, computed without changing anything."""

    competition: Competition
    readiness: finalisations.ReleaseReadiness
    students: int  # enrolled students
    ranked: int  # students on the private board
    own_changes: list[regrades.Change]  # this competition's grades that differ from what students read now
    chain_changes: list[regrades.Change]  # grades of other released competitions the slack chain changes
    grades_unavailable: str | None = None  # why the grades cannot be computed now (then no change is listed)

    @property
    def released(self) -> bool:
        return self.competition.released_at is not None


@dataclass(frozen=True)
class Released:
    """The outcome of `release`: whether it released now, and the grades of other released competitions it
    changed (listed in its audit entry)."""

    done: bool
    changes: list[regrades.Change]
    early: bool = False  # released with an override before it was ready

    def __bool__(self) -> bool:
        return self.done


def plan_release(session: Session, comp: Competition, now: datetime | None = None) -> ReleasePlan:
    """What students will see once `comp` is released now (the confirmation page, the CLI's question). It only
    reads: the release is imagined in memory and forgotten, so a read-only session stays unwritten."""
    now = now or utcnow()
    readiness = finalisations.release_readiness(session, comp, now)
    course = comp.course
    students = len(students_of(session, course))
    ranked = _ranked(session, comp)
    if comp.released_at is not None:
        return ReleasePlan(comp, readiness, students, ranked, [], [])
    before, unavailable = _grades_students_read(session, course)
    with _as_if_released(session, comp, now):
        after, unavailable_after = _grades_students_read(session, course)
        own = _differences(session, course, before, after, only=lambda c: c.id == comp.id)
        chain = _differences(session, course, before, after, only=_other_released(comp))
    return ReleasePlan(comp, readiness, students, ranked, own, chain, unavailable or unavailable_after)


def release(session: Session, comp: Competition, actor: str, *, override: str | None = None,
            now: datetime | None = None) -> Released:
    """Reveal the private leaderboard to students. Refused (`ReleaseRefused`, nothing changed) before the last
    effective late deadline or while uploads received by then are unscored, unless `override` gives the reason
    for releasing early. One audit entry records the release, the override with what was still open or unscored,
    and every grade of another released competition that the release changed. Released only once: the returned
    `done` is False when it was released already."""
    reason = None if override is None else override.strip()
    if reason == "":
        raise PodiumError("Give the reason for releasing early: it goes into the audit log with what was still "
                          "open or unscored.", code=422)
    # Locked, so that two staff members releasing together release once and write one audit entry.
    released_at = session.scalar(select(Competition.released_at).where(Competition.id == comp.id)
                                 .with_for_update())
    if released_at is not None:
        return Released(False, [])
    now = now or utcnow()
    readiness = finalisations.release_readiness(session, comp, now)
    if not readiness.ready and reason is None:
        raise ReleaseRefused(refusal(comp, readiness), readiness)
    course = comp.course
    before, unavailable = _grades_students_read(session, course)
    comp.released_at = now
    session.flush()
    after, unavailable_after = _grades_students_read(session, course)
    changes = _differences(session, course, before, after, only=_other_released(comp))
    details = {} if readiness.ready else _override_details(comp, readiness, reason)
    if unavailable or unavailable_after:
        details["grades_unavailable"] = unavailable or unavailable_after
    regrades.record(session, course, changes, reason=f"release of {comp.title}", actor=actor,
                    action="competition.release", target=comp.public_id, **details)
    notifications.grades_released(session, comp, after, unavailable_after)
    return Released(True, changes, early=not readiness.ready)


def refusal(comp: Competition, readiness: finalisations.ReleaseReadiness) -> str:
    tz = comp.course.timezone
    return (f"{comp.public_id} is not released: {'; '.join(readiness.reasons(tz))}. Wait "
            f"{readiness.wait_for(tz)}, or release early with the reason why; an early release is audited, and a "
            "submission received after it shows its private score to its author only once that author's late "
            "deadline has passed.")


def plan_lines(plan: ReleasePlan) -> list[str]:
    """The plan as plain text (`podium release`)."""
    comp, tz = plan.competition, plan.competition.course.timezone
    out = [f"Releasing {comp.title} ({comp.public_id}) shows students:",
           f"  the private leaderboard ({plan.ranked} of {plan.students} students ranked);",
           "  each student the private score of every submission;",
           f"  the final grades of this competition, from private scores "
           f"({len(plan.own_changes)} differ from the provisional grades students read now)."]
    if plan.grades_unavailable:
        out.append(f"Grades cannot be computed now, so no change of a grade can be listed: {plan.grades_unavailable}")
    elif plan.chain_changes:
        out.append(f"Through the slack chain it changes {len(plan.chain_changes)} grade"
                   f"{'s' if len(plan.chain_changes) != 1 else ''} of other released competitions "
                   "(students see the reason beside the grade):")
        out += [f"  {change.line()}" for change in plan.chain_changes]
    else:
        out.append("It changes no grade of another released competition.")
    if not plan.readiness.ready:
        out.append(f"Not ready: {'; '.join(plan.readiness.reasons(tz))}.")
    return out


def finalise(session: Session, comp: Competition, actor: str, *, now: datetime | None = None) -> bool:
    """Close a competition for good, once: cutoffs written as leaderboard positions are fixed to the values of
    the final private board (POLICY.md section 6), and the private board is released when the competition says
    so and the release rule allows it (with uploads unscored it waits: `finalisations.waiting_releases`, and
    `release_waiting`). Selections need no action: marks lock at each student's late deadline by rule. Returns
    False when the competition was already finalised.
    """
    if comp.finalised_at is not None:
        return False
    # Waits for uploads being received (they hold the row shared, `submissions.receive`) so that the board read
    # below has them; uploads after this see the competition finalised and are refused.
    session.execute(select(Competition.id).where(Competition.id == comp.id).with_for_update())
    resolved = cutoffs_on_final_board(session, comp)
    if isinstance(resolved, rules.Ungraded):
        raise CutoffsGiveNoValues(f"{comp.public_id} cannot be finalised: {resolved.why}"
                                  f"{WHAT_TO_DO[resolved.kind]}", resolved)
    cutoffs = _store(comp, resolved)
    comp.finalised_at = utcnow()
    releasing = comp.auto_release and comp.released_at is None
    readiness = finalisations.release_readiness(session, comp, now) if releasing else None
    waiting = {}
    if releasing and not readiness.ready:
        waiting = {"release_waits_for": readiness.reasons(comp.course.timezone)}
    audit.record(session, actor, "competition.finalise", course_id=comp.course_id, target=comp.public_id,
                 cutoffs=cutoffs, **waiting)
    if releasing and readiness.ready:
        release(session, comp, actor, now=now)
    return True


def release_waiting(session: Session, comp: Competition, actor: str, *, now: datetime | None = None) -> bool:
    """Release a finalised competition set to release by itself, once the release rule allows it; never early."""
    if comp.finalised_at is None or not comp.auto_release or comp.released_at is not None:
        return False
    if not finalisations.release_readiness(session, comp, now).ready:
        return False
    return release(session, comp, actor, now=now).done


def fix_cutoffs(session: Session, comp: Competition) -> dict[str, float]:
    """Store the cutoffs as values read off the private board as it stands (the final one after `late`); refused
    (CutoffsGiveNoValues) when they give none there, e.g. cutoffs of a finalised competition changed to ones that
    are out of order there."""
    resolved = cutoffs_on_final_board(session, comp)
    if isinstance(resolved, rules.Ungraded):
        raise CutoffsGiveNoValues(f"{comp.public_id} is finalised, so its cutoffs are fixed from its final private "
                                  f"leaderboard, and these give no values there: {resolved.why}"
                                  f"{WHAT_TO_DO[resolved.kind]}", resolved)
    return _store(comp, resolved)


def cutoffs_on_final_board(session: Session, comp: Competition) -> rules.Cutoffs | rules.Ungraded:
    """The cutoffs read off the private board as it stands, whatever was fixed before; or why there are none."""
    policy = policy_of(comp.course)
    board = None
    if has_position_cutoffs(comp):
        students = students_of(session, comp.course)
        subs = scored_submissions(session, [comp.id], [u.id for u in students])[comp.id]
        board = private_board(comp, policy, subs, active_extensions(session, [comp]))
    return cutoffs_of(comp, policy, board, fixed=False)


def _store(comp: Competition, cutoffs: rules.Cutoffs) -> dict[str, float]:
    comp.resolved_cutoffs = None  # a new dict, so that the JSON column sees the change
    comp.resolved_cutoffs = cutoffs.values()
    return comp.resolved_cutoffs


def hold_finalisation(session: Session, comp: Competition, reason: str, actor: str) -> bool:
    """Record that the scheduler could not finalise `comp` (audited, shown on the Jobs page and by `podium jobs`);
    once per reason, so that a pass that finds the same trouble again adds nothing. True when recorded now."""
    if last_hold(session, comp) == reason:
        return False
    audit.record(session, actor, finalisations.FINALISE_HELD, course_id=comp.course_id, target=comp.public_id, reason=reason)
    return True


def last_hold(session: Session, comp: Competition) -> str | None:
    """Why the scheduler last could not finalise `comp`, or None."""
    details = session.scalar(select(AuditEvent.details).where(AuditEvent.action == finalisations.FINALISE_HELD,
                                                              AuditEvent.target == comp.public_id)
                             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))
    return (details or {}).get("reason")


def _ranked(session: Session, comp: Competition) -> int:
    students = students_of(session, comp.course)
    subs = scored_submissions(session, [comp.id], [u.id for u in students])[comp.id]
    return len(private_board(comp, policy_of(comp.course), subs, active_extensions(session, [comp])))


def _grades_students_read(session: Session, course: Course) -> tuple[dict | None, str | None]:
    """Every final grade as students read it, or None and the reason when grades cannot be computed now (a
    competition's position cutoffs cannot be resolved yet): students then read none either, so none can change,
    and the release must not be held back by another competition's trouble."""
    try:
        return regrades.final_grades(session, course, staff=False), None
    except PodiumError as exc:
        return None, exc.message


def _differences(session: Session, course: Course, before: dict | None, after: dict | None, *, only
                 ) -> list[regrades.Change]:
    if before is None or after is None:
        return []
    return regrades.differences(session, course, before, after, only=only)


def _other_released(comp: Competition):
    """The competitions whose grade changes a release of `comp` lists: the others already released."""
    return lambda c: c.released_at is not None and c.id != comp.id


def _override_details(comp: Competition, readiness: finalisations.ReleaseReadiness, reason: str) -> dict:
    """What an early release's audit entry keeps beside who did it: why, and what was still open or unscored."""
    details = {"override": reason, "still_open": "; ".join(readiness.reasons(comp.course.timezone)),
               "unscored": readiness.unscored}
    if readiness.window_open:
        details["late_window_open_until"] = rules.format_utc(readiness.last_late)
    if readiness.extended:
        details["extended"] = [f"{email} until {rules.format_utc(late)}" for email, late in readiness.extended]
    return details


@contextmanager
def _as_if_released(session: Session, comp: Competition, at: datetime) -> Iterator[None]:
    """The competition as released at `at`, in memory only: nothing is flushed meanwhile, and the object is
    expired afterwards, which drops the imagined value (and marks it unchanged) before anything could write it."""
    with session.no_autoflush:
        comp.released_at = at
        try:
            yield
        finally:
            session.expire(comp)
