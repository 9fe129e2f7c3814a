"""Builders that keep the rule tests short and readable."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

from podium.rules import (
    Candidate,
    CompetitionRules,
    Cutoffs,
    Schedule,
    StudentCandidates,
    Submission,
    local_to_utc,
)

NY = "America/New_York"
EPOCH = datetime(2019, 9, 1, tzinfo=timezone.utc)
POLICY_CUTOFFS = Cutoffs(A=0.80, B=0.70, C=0.60, D=0.50, F=0.10)  # POLICY.md section 10
_ids = count(1000)


def at(text: str, tz: str = NY) -> datetime:
    """A wall-clock time in the course time zone as a UTC instant."""
    return local_to_utc(text, tz)


def hw1_schedule(early: bool = True) -> Schedule:
    """The course page's hw1p2 deadlines."""
    return Schedule.from_local(NY, opens="2019-09-04 00:00:00", early="2019-09-15 23:59:59" if early else None,
                               ontime="2019-09-29 23:59:59", late="2019-10-06 23:59:59")


def competition(slug: str = "hw1p2", schedule: Schedule | None = None, cutoffs: Cutoffs = POLICY_CUTOFFS,
                **kwargs) -> CompetitionRules:
    return CompetitionRules(slug=slug, schedule=schedule or hw1_schedule(), cutoffs=cutoffs, **kwargs)


def sub(student, t: datetime, private: float | None, public: float | None = None, *, id: int | None = None,
        selected: bool = False, practice: bool = False) -> Submission:
    return Submission(id=next(_ids) if id is None else id, student=student, submitted_at=t,
                      public_score=private if public is None else public, private_score=private,
                      selected=selected, practice=practice)


def candidates(slug: str, ontime_day: int, on_time: float | None = None, after: dict[int, float] | None = None,
               *, slack_eligible: bool = True, weight: float = 1.0, early_missed: bool = False,
               late_factor: float = 0.9, early_factor: float = 0.9) -> StudentCandidates:
    """A student's candidates written as grades: `on_time` is base + bonus, `after` maps days late to base."""
    ontime = EPOCH + timedelta(days=ontime_day)
    on = None if on_time is None else Candidate(next(_ids), ontime - timedelta(hours=1), 0.0, on_time)
    late = tuple(Candidate(next(_ids), ontime + timedelta(days=d) - timedelta(hours=1), 0.0, b, days_late=d)
                 for d, b in sorted((after or {}).items()))
    return StudentCandidates(competition=slug, ontime=ontime, weight=weight, slack_eligible=slack_eligible,
                             on_time=on, after=late, early_missed=early_missed, late_factor=late_factor,
                             early_factor=early_factor)
