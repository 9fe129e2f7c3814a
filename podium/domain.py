"""The vocabulary every layer shares: a person's role in a course, where a submission is in its scoring, the clock,
and the largest id. The models store these values and the web, the services and the CLI compare with them, so they
live here, importing only the standard library; the web may use them without reaching for the models.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone

# The largest id an id column holds on every database: they are INTEGER, 32 bits on PostgreSQL (64 on SQLite). A
# larger number asked for names nothing, and must be answered as such before it reaches a query.
LARGEST_ID = 2**31 - 1


def utcnow() -> datetime:
    """Now, as every instant is stored and compared: an aware datetime in UTC (POLICY.md section 2)."""
    return datetime.now(timezone.utc)


class Role(str, enum.Enum):
    student = "student"
    staff = "staff"
    instructor = "instructor"

    @property
    def is_staff(self) -> bool:
        return self in (Role.staff, Role.instructor)


class Status(str, enum.Enum):
    """A submission's way through scoring: queued, being scored, then scored or failed."""

    queued = "queued"
    scoring = "scoring"
    scored = "scored"
    failed = "failed"
