"""Instants and wall-clock times (POLICY.md section 2).

Every instant the rules handle is an aware datetime in UTC. Course files give wall-clock times in the course's
IANA time zone; this module turns them into instants and back into text for messages.

Daylight-saving rule [decision], the one zoneinfo applies with ``fold=0``:
- an ambiguous wall-clock time (autumn: 01:30 happens twice in New York) means its *first* occurrence, the one
  still on summer time; for a deadline that is the earlier, stricter reading, and it is the one people mean
  when they write a time without thinking about the change;
- a non-existent wall-clock time (spring: 02:30 never happens in New York) is read with the offset in force
  just before the change, so it lands the gap's length later (02:30 -> 03:30 EDT); a deadline written in the gap
  therefore falls after every instant whose clock showed an earlier time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
WALL_CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"
DAY = timedelta(days=1)


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    """The ZoneInfo for an IANA name, with a message an instructor can act on when the name is wrong."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as America/New_York") from None


def as_utc(t: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused because their instant is unknown."""
    if t.tzinfo is UTC:  # the common case, on every hot path: nothing to convert
        return t
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: the rules need an aware datetime (UTC)")
    return t.astimezone(UTC)


def localize(wall_clock: datetime, tz: str | ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in `tz` (DST rule in the module docstring)."""
    if wall_clock.tzinfo is not None:
        raise ValueError(f"{wall_clock.isoformat()} already has a time zone; give a wall-clock time")
    # fold=0 is the documented rule: first occurrence when ambiguous, pre-change offset when non-existent.
    return wall_clock.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)


def parse_wall_clock(text: str) -> datetime:
    """A naive datetime from "YYYY-MM-DD HH:MM:SS" (exactly that form: no 'T', no offset, seconds required)."""
    if not isinstance(text, str):
        raise TypeError(f"expected a \"YYYY-MM-DD HH:MM:SS\" string, got {type(text).__name__}")
    try:
        return datetime.strptime(text.strip(), WALL_CLOCK_FORMAT)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of the form YYYY-MM-DD HH:MM:SS") from None


def local_to_utc(value: str | datetime, tz: str | ZoneInfo) -> datetime:
    """A course-file time (a "YYYY-MM-DD HH:MM:SS" string, or the naive datetime TOML makes of an unquoted
    local date-time) in the course time zone, as an aware UTC instant."""
    if isinstance(value, datetime):
        return localize(value, tz)
    return localize(parse_wall_clock(value), tz)


def local_date(t: datetime, tz: str | ZoneInfo) -> date:
    """The calendar date a clock in `tz` shows at instant `t`."""
    return as_utc(t).astimezone(zone(tz)).date()


def start_of_local_day(day: date, tz: str | ZoneInfo) -> datetime:
    """The first instant (UTC) of a calendar day in `tz`; a midnight skipped by DST maps to the day's first instant."""
    return localize(datetime.combine(day, time()), tz)


def format_local(t: datetime, tz: str | ZoneInfo) -> str:
    """An instant as people in the course read it: "2019-09-29 23:59:59 EDT (America/New_York)".

    Seconds are shown only when they are not zero, so "00:00" stays short and "23:59:59" stays exact.
    """
    z = zone(tz)
    local = as_utc(t).astimezone(z)
    clock = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    return f"{clock} {local.tzname()} ({z.key})"


def format_utc(t: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: "2019-09-30T03:59:59Z"."""
    return as_utc(t).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
