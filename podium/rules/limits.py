"""The daily submission limit (POLICY.md section 1), and the caps on what one student makes the server keep.

At most `limit` successful submissions per student per competition per calendar day, the day being the one a clock
in the course time zone shows (so a DST day has 23 or 25 hours, and the count resets at local midnight).
Which submissions to pass is the caller's choice; failed ones never count. Passing the ones still being scored too
keeps a burst of parallel uploads from passing the limit.

Failed uploads have a cap of their own, counted per the same calendar day: they do not count against the daily
limit, so that a student can fix a file, but the server stores and scores each one. And Kaggle CLI uploads sent
and not yet handed in wait on disk: their bytes per student are capped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from podium.rules.time import as_utc, format_local, format_utc, local_date, start_of_local_day


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    used: int
    limit: int | None
    resets_at: datetime | None  # UTC: when the count starts again (the next local midnight for a daily count)
    message: str | None = None


def next_local_midnight(now: datetime, tz: str | ZoneInfo) -> datetime:
    """The first instant (UTC) of the calendar day after `now`'s in `tz`."""
    return start_of_local_day(local_date(now, tz) + timedelta(days=1), tz)


def submissions_today(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo) -> int:
    """How many of `times` fall on `now`'s calendar day in `tz`."""
    today = local_date(now, tz)
    return sum(1 for t in times if local_date(t, tz) == today)


@dataclass(frozen=True)
class Allowance:
    """A student's daily allowance at one instant: `used` of `limit` submissions counted on `day` (the calendar day
    in the course time zone), and `resets_at` (UTC), the next local midnight, when the count starts again.
    `limit` None means no limit (staff)."""

    used: int
    limit: int | None
    day: date
    resets_at: datetime

    @property
    def left(self) -> int | None:
        """Submissions still accepted today; None without a limit."""
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def reached(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def summary(self, tz: str | ZoneInfo) -> str:
        """"3 of 5 submissions left today; the count resets at 2019-09-06 00:00 EDT (America/New_York),
        2019-09-06T04:00:00Z." (for messages that leave the site: the Kaggle CLI's)."""
        if self.limit is None:
            return "No daily limit applies to you."
        noun = "submission" if self.limit == 1 else "submissions"
        return (f"{self.left} of {self.limit} {noun} left today; the count resets at "
                f"{format_local(self.resets_at, tz)}, {format_utc(self.resets_at)}.")

    def refusal(self, tz: str | ZoneInfo) -> str:
        """Why one more upload is refused at the limit, with when the count resets, in the course time zone and UTC."""
        noun = "submission" if self.limit == 1 else "submissions"
        return (f"Daily limit reached: you have used {self.used} of {self.limit} {noun} today "
                f"({self.day.isoformat()} in the course time zone). The count resets at "
                f"{format_local(self.resets_at, tz)}, {format_utc(self.resets_at)}.")


def daily_allowance(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo, limit: int | None) -> Allowance:
    """The allowance at `now`, given the times of the submissions that count (the caller's choice: module
    docstring)."""
    now = as_utc(now)
    return Allowance(submissions_today(now, times, tz), limit, local_date(now, tz), next_local_midnight(now, tz))


def check_daily_limit(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo, limit: int | None) -> LimitResult:
    """Whether one more submission at `now` fits the limit, given the times of the student's earlier ones.

    `limit` None means no limit. A refusal says how many were used and when the count resets, in the course
    time zone and in UTC.
    """
    allowance = daily_allowance(now, times, tz, limit)
    message = allowance.refusal(tz) if allowance.reached else None
    return LimitResult(not allowance.reached, allowance.used, limit, allowance.resets_at, message)


def check_failed_uploads(now: datetime, times: Iterable[datetime], tz: str | ZoneInfo, cap: int | None) -> LimitResult:
    """Whether one more upload at `now` is taken, given the times of the student's uploads that could not be scored
    (in the competition). `cap` None means no cap. At the cap, the message says what to do and when the count
    resets (the next local midnight, like the daily limit)."""
    now = as_utc(now)
    used = submissions_today(now, times, tz)
    resets_at = next_local_midnight(now, tz)
    if cap is None or used < cap:
        return LimitResult(True, used, cap, resets_at)
    message = (f"You already have {used} upload{'s' if used != 1 else ''} today "
               f"({local_date(now, tz).isoformat()} in the course time zone) that could not be scored, the most the "
               f"server keeps per student and competition in a day, so this one was not taken. Each failed upload's "
               f"page says what is wrong with its file; compare the file with the sample submission (its columns, "
               f"one row per id) before uploading again. This count resets at {format_local(resets_at, tz)}, "
               f"{format_utc(resets_at)}.")
    return LimitResult(False, used, cap, resets_at, message)


@dataclass(frozen=True)
class WaitingUpload:
    """A Kaggle CLI upload announced or sent and not handed in: its size, and when it stops waiting (it expires
    and its file is deleted)."""

    size_bytes: int
    until: datetime


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def check_staged_bytes(waiting: Sequence[WaitingUpload], size_bytes: int, cap: int | None,
                       tz: str | ZoneInfo) -> LimitResult:
    """Whether a new upload of `size_bytes` may wait too, given the student's uploads already waiting.

    `cap` None means no cap. A refusal says how much waits, the cap, and when space comes free (the first of
    the waiting uploads to expire; `resets_at`), or that the file alone is larger than the cap."""
    used = sum(upload.size_bytes for upload in waiting)
    if cap is None or used + size_bytes <= cap:
        return LimitResult(True, used, cap, min((u.until for u in waiting), default=None))
    site = "upload the file on the competition's Submit page instead"
    if not waiting or size_bytes > cap:
        return LimitResult(False, used, cap, None, (
            f"This file ({megabytes(size_bytes)}) is larger than the {megabytes(cap)} of Kaggle CLI uploads that "
            f"may wait to be handed in per student: {site}."))
    frees = min(upload.until for upload in waiting)
    count = f"{len(waiting)} upload{'s' if len(waiting) != 1 else ''}"
    return LimitResult(False, used, cap, frees, (
        f"You have {count} of {megabytes(used)} sent (or announced) with the Kaggle CLI and not handed in, and at "
        f"most {megabytes(cap)} may wait per student: this file of {megabytes(size_bytes)} would pass that. An "
        f"interrupted `kaggle competitions submit` leaves its file waiting until it expires, 30 minutes after it was "
        f"sent; the first frees its space at {format_local(frees, tz)}, {format_utc(frees)}. Submit again then, or "
        f"{site}."))
