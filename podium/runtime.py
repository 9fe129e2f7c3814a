"""One place that turns the configuration into the live parts a process needs: settings and the database."""
from __future__ import annotations

import os
from dataclasses import dataclass

from podium.config import Settings, load_settings
from podium.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database


# Group and other get no access to what Podium creates.
PRIVATE_UMASK = 0o077


def keep_new_files_private() -> None:
    """The SQLite database, uploads, data files, compiled solutions and the secret key hold submissions, password
    hashes and the key that signs sessions: created readable by the service's user only, whatever umask the shell
    or service manager started Podium with. Every entry point (the `podium` command, create_app for app.py and
    each gunicorn worker) starts here, before anything is written."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def make_runtime(**overrides) -> Runtime:
    keep_new_files_private()
    settings = load_settings(**overrides)
    return Runtime(settings=settings, db=Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                                                  pool_size=settings.db_pool_size,
                                                  max_overflow=settings.db_max_overflow,
                                                  lock_timeout_seconds=settings.db_lock_timeout_seconds))
