"""What one submission tells its author beyond its scores: its place in the scoring queue while it waits, the public
rank before and after it once it is scored, and how many uploads are left today. The submission's page (and the
JSON it follows), the REST API's answer about one submission and the Kaggle CLI's answer to a hand-in read it here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium import rules
from podium.db import Database
from podium.errors import NotFound
from podium.models import Status, Submission, utcnow
from podium.services import leaderboards, submissions


@dataclass(frozen=True)
class Feedback:
    timezone: str  # the course's, for messages
    allowance: rules.Allowance  # the author's, now
    queue: submissions.QueuePlace | None  # while it waits or is being scored
    rank: leaderboards.RankChange | None  # once scored, for a student of the course

    def as_dict(self) -> dict:
        """The fields the JSON answers about one submission add (documented in podium/web/openapi.py)."""
        queue = self.queue
        return {
            "submissions_used_today": self.allowance.used,
            "submissions_left_today": self.allowance.left,
            "count_resets_at": rules.format_utc(self.allowance.resets_at),
            "queue": None if queue is None else {"place": queue.place, "waiting": queue.waiting,
                                                 "being_scored": queue.being_scored, "text": queue.text},
            "public_rank": None if self.rank is None else self.rank.as_dict(),
        }


def of_submission(session: Session, sub: Submission, now: datetime | None = None) -> Feedback:
    now = now or utcnow()
    comp = sub.competition
    waiting = sub.status in (Status.queued, Status.scoring)
    return Feedback(comp.course.timezone, submissions.daily_allowance(session, comp, sub.user, now),
                    submissions.queue_place(session, sub.id, now) if waiting else None,
                    leaderboards.public_rank_change(session, comp, sub))


def read(db: Database, submission_id: int, now: datetime | None = None) -> Feedback:
    """`of_submission` in a read transaction of its own, as things stand now (after a wait for the scoring)."""
    with db.read_sessions() as session:
        sub = session.get(Submission, submission_id)
        if sub is None:
            raise NotFound(f"no submission {submission_id}")
        return of_submission(session, sub, now)
