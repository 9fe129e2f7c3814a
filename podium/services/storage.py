"""What uploads nobody needs any more would keep on disk: the scheduler's clean-up pass (podium/jobs.py).

- Files sent with the Kaggle CLI and never handed in are deleted once their ticket expired
  (`upload_tickets.clean_up`; a student's own also when they ask for a new ticket).
- Files of uploads that could not be scored are kept `settings.storage.failed_file_days` for diagnosis, then
  removed; their submissions stay, saying so (`submissions.remove_failed_files`).
- What LTI launches kept between their two requests (nonces, launches that could be continued) is dropped once
  expired (`expired_launch_values`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from podium.config import Settings
from podium.db import Database
from sqlalchemy import delete

from podium.domain import utcnow
from podium.models import LtiLaunchValue
from podium.services import submissions, upload_tickets


@dataclass(frozen=True)
class CleanedUp:
    staged_files: int  # Kaggle CLI uploads never handed in, and cut-off partial ones
    failed_files: int  # files of uploads that could not be scored, past their keeping time
    launch_values: int = 0  # expired values of LTI launches

    @property
    def anything(self) -> bool:
        return bool(self.staged_files or self.failed_files or self.launch_values)


def clean_up(db: Database, settings: Settings, now: datetime | None = None) -> CleanedUp:
    now = now or utcnow()
    return CleanedUp(staged_files=upload_tickets.clean_up(db, settings, now),
                     failed_files=submissions.remove_failed_files(db, settings, now),
                     launch_values=expired_launch_values(db, now))


def expired_launch_values(db: Database, now: datetime) -> int:
    with db.session() as session:
        return session.execute(delete(LtiLaunchValue).where(LtiLaunchValue.expires_at <= now)).rowcount
