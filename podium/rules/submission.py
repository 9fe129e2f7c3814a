"""The submission value type every rule reads; services build it from a database row."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Hashable

from podium.rules.time import as_utc


@dataclass(frozen=True)
class Submission:
    """One upload by one student to one competition.

    `submitted_at` is the instant the server finished receiving the upload (POLICY.md section 2). A submission is
    *scored* when it has a private score; grades read only private scores, while the public one orders the Kaggle
    selection and the public leaderboard. `selected` is the student's "mark as final".
    """

    id: int
    student: Hashable
    submitted_at: datetime
    public_score: float | None = None
    private_score: float | None = None
    selected: bool = False
    practice: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "submitted_at", as_utc(self.submitted_at))
        # A NaN score cannot be compared with anything; treat it as no score rather than let it poison a max().
        for name in ("public_score", "private_score"):
            value = getattr(self, name)
            if value is not None and math.isnan(value):
                object.__setattr__(self, name, None)

    @property
    def scored(self) -> bool:
        return self.private_score is not None

    @property
    def gradable(self) -> bool:
        """Scored and not practice: the only submissions grades and leaderboards ever look at."""
        return self.scored and not self.practice


def private_score_shown(submitted_at: datetime, released_at: datetime | None, author_late: datetime,
                        now: datetime) -> bool:
    """Whether students may read a submission's private score now (POLICY.md section 11): once the private board is
    released, except for a submission received after the release (an early one, before every window closed),
    whose private score stays hidden until its author's own late deadline has passed (deadlines are inclusive).
    Otherwise a student whose window is still open could upload, read the private score and probe the private
    test set."""
    if released_at is None:
        return False
    return as_utc(submitted_at) <= as_utc(released_at) or as_utc(now) > as_utc(author_late)


def public_in_place_of_private(sub: Submission) -> Submission:
    """The submission as a student's provisional grade reads it before release, or while `private_score_shown` says
    no (POLICY.md section 11): its public score stands in for the private one, so nothing computed from it (which
    submission counts, the window, the slack days, the bonus, the grade) depends on a private score."""
    return replace(sub, private_score=sub.public_score)
