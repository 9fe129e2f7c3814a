"""Staff actions on one competition: release of the private board and finalisation after the late deadline."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models import Competition, utcnow
from podium.services import audit
from podium.services.grading import cutoffs_of, has_position_cutoffs, private_board, scored_submissions, students_of
from podium.services.rule_values import active_extensions, policy_of


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
    cutoffs = fix_cutoffs(session, comp)
    comp.finalised_at = utcnow()
    audit.record(session, actor, "competition.finalise", course_id=comp.course_id, target=comp.public_id,
                 cutoffs=cutoffs)
    if comp.auto_release:
        release(session, comp, actor)
    return True


def fix_cutoffs(session: Session, comp: Competition) -> dict[str, float]:
    """Store the cutoffs as values read off the private board as it stands (the final one after `late`)."""
    policy = policy_of(comp.course)
    board = None
    if has_position_cutoffs(comp):
        students = students_of(session, comp.course)
        subs = scored_submissions(session, [comp.id], [u.id for u in students])[comp.id]
        board = private_board(comp, policy, subs, active_extensions(session, [comp]))
    comp.resolved_cutoffs = None
    comp.resolved_cutoffs = cutoffs_of(comp, policy, board).values()
    return comp.resolved_cutoffs
