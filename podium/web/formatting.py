"""How instants, scores and sizes read on a page."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from podium import rules
from podium.web.context import current_user


def local_time(value: datetime | None, tz: str) -> str:
    """An instant in the course time zone, with the zone's abbreviation (deadlines are stated this way).

    Seconds appear only when they are not zero, so 23:59:59 stays exact and 00:00 stays short.
    """
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z")


def iso_utc(value: datetime | None) -> str:
    return "" if value is None else rules.format_utc(value)


def score(value: float | None, precision: int = 5) -> str:
    return "" if value is None else f"{value:.{precision}f}"


def points(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def duration(seconds: float) -> str:
    """"3 days 4 hours", "2 hours 5 minutes", "40 seconds": the two largest units, enough to plan by."""
    seconds = int(max(0, seconds))
    units = [("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        if len(parts) == 2:
            break
    return " ".join(p for p in parts if not p.startswith("0 ")) or "0 seconds"


def until(value: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    delta = (value - now).total_seconds()
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(-delta)} ago"


def file_size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


FILTERS = {"local_time": local_time, "iso_utc": iso_utc, "score": score, "points": points, "until": until,
           "file_size": file_size, "duration": duration}
GLOBALS = {"current_user": current_user}
