"""Staff actions on one competition: release of the private board and finalisation after the late deadline."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import Refused
from podium.models import AuditEvent, Competition, utcnow
from podium.services import audit
from podium.services.grading import cutoffs_of, has_position_cutoffs, private_board, scored_submissions, students_of
from podium.services.rule_values import active_extensions, policy_of

FINALISE_HELD = "competition.finalise_held"

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


def release(session: Session, comp: Competition, actor: str) -> bool:
    """Reveal the private leaderboard to students; returns False when it was already released."""
    if comp.released_at is not None:
        return False
    comp.released_at = utcnow()
    audit.record(session, actor, "competition.release", course_id=comp.course_id, target=comp.public_id)
    return True


def finalise(session: Session, comp: Competition, actor: str) -> bool:
    """Close a competition for good, once: cutoffs written as leaderboard positions are fixed to the values of
    the final private board (POLICY.md section 6), and the private board is released when the competition says
    so. Selections need no action: marks lock at each student's late deadline by rule. Returns False when the
    competition was already finalised.
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
    audit.record(session, actor, "competition.finalise", course_id=comp.course_id, target=comp.public_id,
                 cutoffs=cutoffs)
    if comp.auto_release:
        release(session, comp, actor)
    return True


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
    audit.record(session, actor, FINALISE_HELD, course_id=comp.course_id, target=comp.public_id, reason=reason)
    return True


def last_hold(session: Session, comp: Competition) -> str | None:
    """Why the scheduler last could not finalise `comp`, or None."""
    details = session.scalar(select(AuditEvent.details).where(AuditEvent.action == FINALISE_HELD,
                                                              AuditEvent.target == comp.public_id)
                             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))
    return (details or {}).get("reason")
