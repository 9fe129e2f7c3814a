"""Constants and helpers shared by the demo tests."""
from __future__ import annotations

import tomllib
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

SEED = 11785
TZ = ZoneInfo("America/New_York")
# A fixed instant, never the wall clock: Tuesday 2024-10-15, 11:00 in New York.
NOW = datetime(2024, 10, 15, 15, 0, 0, tzinfo=timezone.utc)


def windows_of(course_dir: Path) -> dict[str, dict[str, datetime]]:
    """Each competition's windows as UTC instants, read straight from the toml files."""
    result = {}
    for path in course_dir.glob("*/competition.toml"):
        config = tomllib.loads(path.read_text())
        result[config["competition"]["slug"]] = {
            key: datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ).astimezone(timezone.utc)
            for key, text in config["schedule"].items()
        }
    return result
