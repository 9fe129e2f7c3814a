"""Deadline reminders: which of a student's deadlines deserve a reminder at an instant (POLICY.md section 3).

A student who asked for reminders hears of each of their own early and on-time deadlines (their effective ones:
an extension moves them) once, in the day before it, while they have nothing that counts for it yet:

- the reminder of a deadline `d` is due at `t` when `d - REMIND_BEFORE <= t < d` and the competition is open
  (`opens <= t`): not before the day before, not for a deadline already reached or passed, and not for a
  competition the student cannot submit to yet;
- it is not due when the student has a scored (non-practice) submission received at or before `d`: one received
  up to the early deadline counts for the early reminder, one up to the on-time deadline for the on-time one. At
  `t < d` that is any scored submission so far;
- [decision] an early deadline at the very instant of the on-time one is one deadline: only the on-time reminder
  is due, and it says that it is the early deadline too (`Reminder.also_early`).

The late deadline gets no reminder: past the on-time deadline a student has been reminded already and every
later day costs slack or the late factor, which the grades page explains.

A reminder is identified by its deadline and that deadline's instant (`Reminder.key`), so that it goes once
however often this is asked, and a deadline that moves (an extension) is a new reminder.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from podium.rules.time import as_utc, format_utc
from podium.rules.windows import Schedule

REMIND_BEFORE = timedelta(hours=24)
EARLY, ON_TIME = "early", "on-time"


@dataclass(frozen=True)
class Reminder:
    """A reminder due: of the `deadline` (EARLY or ON_TIME) at the instant `at`."""

    deadline: str
    at: datetime
    also_early: bool = False  # the on-time deadline is the early one too

    @property
    def key(self) -> str:
        """Names the deadline and its instant: one reminder per deadline, a new one when the deadline moves."""
        return f"{self.deadline}:{format_utc(self.at)}"


def reminders_due(t: datetime, schedule: Schedule, scored_at: Iterable[datetime]) -> list[Reminder]:
    """The reminders due at `t` for a student with this (effective) `schedule` whose scored, non-practice
    submissions were received at the instants `scored_at`; early before on-time."""
    t = as_utc(t)
    if t < schedule.opens:
        return []
    scored = [as_utc(s) for s in scored_at]
    same = schedule.early is not None and schedule.early == schedule.ontime
    deadlines = [] if schedule.early is None or same else [Reminder(EARLY, schedule.early)]
    deadlines.append(Reminder(ON_TIME, schedule.ontime, also_early=same))
    return [r for r in deadlines if _in_the_day_before(t, r.at) and not any(s <= r.at for s in scored)]


def _in_the_day_before(t: datetime, deadline: datetime) -> bool:
    return deadline - REMIND_BEFORE <= t < deadline
