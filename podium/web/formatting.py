"""How instants and scores read on a page."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(value: datetime | None, tz: str) -> str:
    """An instant in the course time zone, with the zone's abbreviation (deadlines are stated this way)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def score(value: float | None, precision: int = 5) -> str:
    return "" if value is None else f"{value:.{precision}f}"


FILTERS = {"local_time": local_time, "score": score}
