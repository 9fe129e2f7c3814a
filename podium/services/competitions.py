"""Staff actions on one competition."""
from __future__ import annotations

from sqlalchemy.orm import Session

from podium.models import Competition, utcnow
from podium.services import audit


def release(session: Session, comp: Competition, actor: str) -> bool:
    """Reveal the private leaderboard to students; returns False when it was already released."""
    if comp.released_at is not None:
        return False
    comp.released_at = utcnow()
    audit.record(session, actor, "competition.release", course_id=comp.course_id, target=comp.public_id)
    return True
