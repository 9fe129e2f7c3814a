"""One place that turns the configuration into the live parts a process needs: settings and the database."""
from __future__ import annotations

from dataclasses import dataclass

from podium.config import Settings, load_settings
from podium.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database


def make_runtime(**overrides) -> Runtime:
    settings = load_settings(**overrides)
    return Runtime(settings=settings, db=Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                                                  pool_size=settings.db_pool_size,
                                                  max_overflow=settings.db_max_overflow))
