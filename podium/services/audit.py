"""The audit log: one row for every action that changes what counts."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from podium.models import AuditEvent

SYSTEM = "system"


def record(session: Session, actor: str, action: str, *, course_id: int | None = None, target: str = "",
           **details: Any) -> AuditEvent:
    event = AuditEvent(actor=actor or SYSTEM, action=action, course_id=course_id, target=target, details=details)
    session.add(event)
    return event
