"""Submission windows: schedules, extensions and what a submission at instant t is (POLICY.md sections 3 and 7)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from podium.rules.time import DAY, as_utc, format_local, local_to_utc

ON_TIME = "on_time"
AFTER = "after"
CLOSED = "closed"
PRACTICE = "practice"
NOT_OPEN = "not_open"
ZERO = timedelta(0)


@dataclass(frozen=True)
class Schedule:
    """A competition's deadlines as UTC instants. Deadlines are inclusive: t <= deadline is in time.

    The constructor accepts aware datetimes in any zone (database rows are UTC already) and stores them in UTC;
    the order opens <= early <= ontime <= late is checked so that no rule below has to guess.
    """

    opens: datetime
    early: datetime | None
    ontime: datetime
    late: datetime

    def __post_init__(self) -> None:
        for name in ("opens", "early", "ontime", "late"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value))
        problem = schedule_problem(self.opens, self.early, self.ontime, self.late)
        if problem:
            raise ValueError(problem)

    @classmethod
    def from_local(cls, tz: str | ZoneInfo, *, opens: str | datetime, ontime: str | datetime,
                   late: str | datetime, early: str | datetime | None = None) -> Schedule:
        """A schedule from wall-clock times in the course time zone, as course files write them."""
        return cls(opens=local_to_utc(opens, tz), early=None if early is None else local_to_utc(early, tz),
                   ontime=local_to_utc(ontime, tz), late=local_to_utc(late, tz))


def schedule_problem(opens: datetime, early: datetime | None, ontime: datetime, late: datetime) -> str | None:
    """Why these deadlines are not a schedule (naming the key out of order), or None."""
    if ontime < opens:
        return "ontime is before opens"
    if early is not None and not opens <= early <= ontime:
        return "early must lie between opens and ontime"
    if late < ontime:
        return "late is before ontime; late must be at or after ontime"
    return None


@dataclass(frozen=True)
class Extension:
    """One student's extension on one competition: either a duration added to early, ontime and late, or
    explicit new deadlines (any of early, ontime, late; the others keep the competition's).

    `opens` never moves: an extension gives more time at the end, never an earlier start.
    """

    delta: timedelta | None = None
    early: datetime | None = None
    ontime: datetime | None = None
    late: datetime | None = None

    def __post_init__(self) -> None:
        explicit = (self.early, self.ontime, self.late)
        if self.delta is not None and any(d is not None for d in explicit):
            raise ValueError("an extension is either a duration or explicit deadlines, not both")
        if self.delta is not None and self.delta < timedelta(0):
            raise ValueError("an extension's duration cannot be negative")
        for name in ("early", "ontime", "late"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value))


# An extension is a number of days or hours; more than a year is a typo (and would move deadlines past what a
# date can hold), less than a second is not a duration a deadline can move by.
EXTENSION_UNITS = {"days": 86400, "hours": 3600}
MAX_EXTENSION = timedelta(days=365)


def extension_delta(amount: float, unit: str) -> timedelta:
    """The duration `amount` days or hours, to the second: rounded to the nearest second, so that no whole second
    is ever dropped (1.00001 days is 86,400.864 s: 86,401 s). Raises ValueError saying what to give instead."""
    per_unit = EXTENSION_UNITS[unit]
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount <= 0:
        raise ValueError(f"An extension must be a positive number of {unit}, not {amount!r}.")
    # Decimal from the number as written, so that 1.00001 is that number and not its binary neighbour.
    written = Decimal(repr(amount))
    as_typed = format(written.normalize(), "f")  # 0.000001, never 1e-06
    if amount * per_unit > MAX_EXTENSION.total_seconds():
        raise ValueError(f"{as_typed} {unit} is more than a year ({MAX_EXTENSION.days} days), the longest extension.")
    seconds = int((written * per_unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if seconds < 1:
        raise ValueError(f"{as_typed} {unit} is an extension of less than a second ({amount * per_unit:.3g} s); "
                         f"extensions are kept to the second: give at least one second "
                         f"({1 / per_unit:.7f} {unit}).")
    return timedelta(seconds=seconds)


def describe_duration(delta: timedelta) -> str:
    """A duration in words, to the second: "2 days", "1 day 12 hours", "3 hours 30 minutes", "1 day 1 second"."""
    seconds = int(delta.total_seconds())
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def extended(schedule: Schedule, extension: Extension | None, delta: timedelta) -> Extension:
    """The extension that gives a student `delta` more than `extension` gives now, on every deadline: a duration
    grows by `delta`; explicit deadlines become the student's current deadlines moved by `delta`, so that each one,
    late included, moves as far as a classmate's without an extension."""
    if extension is None:
        return Extension(delta=delta)
    if extension.delta is not None:
        return Extension(delta=extension.delta + delta)
    now = effective_schedule(schedule, extension)
    return Extension(early=None if now.early is None else now.early + delta, ontime=now.ontime + delta,
                     late=now.late + delta)


def effective_schedule(schedule: Schedule, extension: Extension | None) -> Schedule:
    """The student's deadlines: the competition's moved by the extension (POLICY.md section 7).

    [decision] An extension only ever moves a deadline later: an explicit deadline earlier than the competition's
    is ignored. This keeps grades stable when staff later move the competition's own deadlines past an old grant.
    A new ontime past the competition's late also moves late (late >= ontime), and early never passes ontime.
    """
    if extension is None:
        return schedule
    if extension.delta is not None:
        d = extension.delta
        return Schedule(opens=schedule.opens, early=None if schedule.early is None else schedule.early + d,
                        ontime=schedule.ontime + d, late=schedule.late + d)
    ontime = _later(schedule.ontime, extension.ontime)
    late = max(_later(schedule.late, extension.late), ontime)
    early = None if schedule.early is None else min(_later(schedule.early, extension.early), ontime)
    return Schedule(opens=schedule.opens, early=early, ontime=ontime, late=late)


def _later(original: datetime, explicit: datetime | None) -> datetime:
    return original if explicit is None else max(original, explicit)


def days_late(t: datetime, ontime: datetime) -> int:
    """ceil((t - ontime) / 24h) in exact integer arithmetic; 0 when t <= ontime.

    One second late is 1 day, exactly 24h late is 1 day, 24h and one second is 2 days. timedelta floor division
    is exact (microseconds), so there is no float rounding at the boundaries.
    """
    return utc_days_late(as_utc(t), as_utc(ontime))


def utc_days_late(t: datetime, ontime: datetime) -> int:
    """days_late for instants already known to be aware (the value types guarantee it), without re-checking."""
    late_by = t - ontime
    if late_by <= ZERO:
        return 0
    return -((-late_by) // DAY)


@dataclass(frozen=True)
class WindowResult:
    """What a submission at one instant is. `message` explains refusals and practice submissions."""

    window: str  # ON_TIME | AFTER | CLOSED | PRACTICE | NOT_OPEN
    is_early: bool = False
    days_late: int = 0
    message: str | None = None

    @property
    def refused(self) -> bool:
        return self.window in (CLOSED, NOT_OPEN)

    @property
    def accepted(self) -> bool:
        return not self.refused

    @property
    def graded(self) -> bool:
        """Practice submissions are accepted and scored but never graded nor ranked."""
        return self.window in (ON_TIME, AFTER)


def phase(t: datetime, schedule: Schedule) -> str:
    """Where `schedule` stands at the instant `t`: NOT_OPEN before `opens`, ON_TIME up to `ontime`, AFTER up to
    `late`, CLOSED beyond (deadlines inclusive). The one answer for an upload's window and a competition's state."""
    t = as_utc(t)
    if t < schedule.opens:
        return NOT_OPEN
    if t <= schedule.ontime:
        return ON_TIME
    if t <= schedule.late:
        return AFTER
    return CLOSED


def classify(t: datetime, schedule: Schedule, allow_practice: bool = False, *,
             tz: str | ZoneInfo = "UTC") -> WindowResult:
    """The window of a submission received at `t` under `schedule` (pass the student's effective schedule).

    `tz` is the course time zone, used only to name deadlines in messages.
    """
    t = as_utc(t)
    window = phase(t, schedule)
    if window == NOT_OPEN:
        return WindowResult(NOT_OPEN, message=f"The competition opens at {format_local(schedule.opens, tz)}.")
    if window == ON_TIME:
        return WindowResult(ON_TIME, is_early=schedule.early is not None and t <= schedule.early)
    if window == AFTER:
        return WindowResult(AFTER, days_late=days_late(t, schedule.ontime))
    closed_at = format_local(schedule.late, tz)
    if allow_practice:
        return WindowResult(PRACTICE, message=(
            f"The competition closed at {closed_at}; this practice submission is scored and shown only to you, "
            "never graded and never on a leaderboard."))
    return WindowResult(CLOSED, message=f"The competition closed at {closed_at}.")


def grading_group(t: datetime, schedule: Schedule) -> str | None:
    """ON_TIME or AFTER for a submission that can be graded, None for one after `late`.

    [decision] A stored submission earlier than `opens` (possible only when staff move `opens` after it was
    accepted, or record one with a backdated time) is on-time: it was accepted, and moving a setting should not
    take a grade away.
    """
    if t <= schedule.ontime:
        return ON_TIME
    if t <= schedule.late:
        return AFTER
    return None
