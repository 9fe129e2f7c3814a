"""Whether this process can serve: the database answers (for /healthz, load balancers and monitoring)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from podium.db import Database


def database_problem(db: Database) -> str | None:
    """None when the database answers `SELECT 1`, else the driver's own first line of what went wrong."""
    missing = missing_sqlite_file(db.engine.url)
    if missing is not None:
        return f"the SQLite database file {missing} is gone"
    try:
        # Autocommit: the probe takes no lock, so on SQLite it never waits behind (or blocks) a writer.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines() or [type(cause).__name__]
        return f"the database did not answer: {lines[0]}"
    return None


def missing_sqlite_file(url) -> str | None:
    """The SQLite file's path when it has been removed or unmounted under the running server. Its open connections
    would go on answering from the deleted file, and every write would be lost with it, so `SELECT 1` is not
    enough to tell."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return None if Path(url.database).exists() else url.database
