"""Course and competition settings as the rules see them (POLICY.md section 1); services build them from rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from podium.rules.grading import Ungraded
from podium.rules.interpolation import DEFAULT_POINTS, Cutoffs, Points
from podium.rules.selection import SELECTIONS
from podium.rules.time import zone
from podium.rules.windows import Schedule

CHRONOLOGICAL = "chronological"
OPTIMAL = "optimal"
SLACK_POLICIES = (CHRONOLOGICAL, OPTIMAL)
# What a counted submission without counted code does to the grade when the competition requires code
# (POLICY.md section 12): flagged to staff, or final grade 0.
FLAG = "flag"
ZERO_GRADE = "zero"
MISSING_CODE_POLICIES = (FLAG, ZERO_GRADE)


def course_order(ontime: datetime, slug: str) -> tuple[datetime, str]:
    """The sort key of a course's competitions, everywhere they are listed or graded: by `ontime`, ties by slug
    (compared by code point, as Python compares strings), the order slack days are spent in (POLICY.md section 5)."""
    return ontime, slug


@dataclass(frozen=True)
class CoursePolicy:
    timezone: str = "America/New_York"
    slack_days: int = 7
    slack_policy: str = CHRONOLOGICAL
    late_factor: float = 0.9
    early_miss_factor: float = 0.9
    bonus_points: float = 5.0
    points: Points = DEFAULT_POINTS
    selection: str = "kaggle"
    max_selected: int = 2
    daily_limit: int | None = 10
    missing_code: str = FLAG

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.missing_code not in MISSING_CODE_POLICIES:
            raise ValueError(f"missing_code must be one of {', '.join(MISSING_CODE_POLICIES)}, "
                             f"not {self.missing_code!r}")
        if self.slack_policy not in SLACK_POLICIES:
            raise ValueError(f"slack_policy must be one of {', '.join(SLACK_POLICIES)}, not {self.slack_policy!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {self.selection!r}")
        if self.slack_days < 0 or self.slack_days != int(self.slack_days):
            raise ValueError("slack_days must be a whole number of days, 0 or more")
        if self.max_selected < 1:
            raise ValueError("max_selected must be 1 or more")
        for name in ("late_factor", "early_miss_factor"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie between 0 and 1")
        if not (math.isfinite(self.bonus_points) and self.bonus_points >= 0):
            raise ValueError("bonus_points must be 0 or more")

    @classmethod
    def from_mapping(cls, timezone: str, policy: Mapping[str, Any] | None = None) -> CoursePolicy:
        """From a course's `timezone` and its `[policy]` table (any subset of keys; `points` a table too)."""
        given = dict(policy or {})
        if "points" in given and not isinstance(given["points"], Points):
            given["points"] = Points.from_mapping(given["points"])
        return cls(timezone=timezone, **given)


@dataclass(frozen=True)
class CompetitionRules:
    """One competition's settings that grading reads. `cutoffs` are values (positions resolved beforehand);
    they may be left out where only selection and ranking are needed (the private board that positions are
    read from comes before the cutoffs), and are None when positions cannot be resolved: `ungraded` then says why,
    and the competition has no grades (POLICY.md section 11)."""

    slug: str
    schedule: Schedule
    cutoffs: Cutoffs | None = None
    higher_is_better: bool = True
    slack_eligible: bool = True
    weight: float = 1.0
    allow_practice: bool = field(default=False, compare=False)
    ungraded: Ungraded | None = None
