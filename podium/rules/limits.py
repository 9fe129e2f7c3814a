"""The daily submission limit (POLICY.md section 1).

At most `limit` successful submissions per student per competition per calendar day, the day being the one a clock
in the course time zone shows (so a DST day has 23 or 25 hours, and the count resets at local midnight).
Which submissions to pass is the caller's choice; failed ones never count. Passing the ones still being scored too
keeps a burst of parallel uploads from passing the limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from podium.rules.time import as_utc, format_local, format_utc, local_date, start_of_local_day


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    used: int
    limit: int | None
    resets_at: datetime  # UTC: the next local midnight
    message: str | None = None


def next_local_midnight(now: datetime, tz: str | ZoneInfo) -> datetime:
    """The first instant (UTC) of the calendar day after `now`'s in `tz`."""
    return start_of_local_day(local_date(now, tz) + timedelta(days=1), tz)


def submissions_today(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo) -> int:
    """How many of `times` fall on `now`'s calendar day in `tz`."""
    today = local_date(now, tz)
    return sum(1 for t in times if local_date(t, tz) == today)


def check_daily_limit(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo, limit: int | None) -> LimitResult:
    """Whether one more submission at `now` fits the limit, given the times of the student's earlier ones.

    `limit` None means no limit. A refusal says how many were used and when the count resets, in the course
    time zone and in UTC.
    """
    now = as_utc(now)
    used = submissions_today(now, times, tz)
    resets_at = next_local_midnight(now, tz)
    if limit is None or used < limit:
        return LimitResult(True, used, limit, resets_at)
    noun = "submission" if limit == 1 else "submissions"
    message = (f"Daily limit reached: you have used {used} of {limit} {noun} today "
               f"({local_date(now, tz).isoformat()} in the course time zone). The count resets at "
               f"{format_local(resets_at, tz)}, {format_utc(resets_at)}.")
    return LimitResult(False, used, limit, resets_at, message)
