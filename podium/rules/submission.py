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


def public_in_place_of_private(sub: Submission) -> Submission:
    """The submission as a student's provisional grade reads it before release (POLICY.md section 11): its public
    score stands in for the private one, so nothing computed from it (which submission counts, the window, the slack
    days, the bonus, the grade) depends on a private score."""
    return replace(sub, private_score=sub.public_score)
