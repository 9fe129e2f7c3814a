"""Whether this process can take uploads now (for /healthz, load balancers and monitoring): the database takes a
write within a few seconds, and the folders uploads are written to take a file.

Called every few seconds, so it stays cheap and leaves nothing behind: the database's write lock is taken and
given back at once, with a short wait of its own rather than the requests' lock timeout, and a probe file is
created and removed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import false, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from podium.config import Settings
from podium.db import Database, milliseconds
from podium.errors import DatabaseUnavailable, StorageUnavailable
from podium.models import Submission
from podium.services.files import check_writable
from podium.services.upload_tickets import staging_dir

# The longest the probe waits behind another connection's write lock: a load balancer's check times out in a few
# seconds, and a database locked for longer than this is one an upload would wait on as well.
PROBE_SECONDS = 2.0
OK = "ok"


@dataclass(frozen=True)
class Health:
    database: str  # ok, unreachable, locked or not writable
    uploads: str  # ok or not writable
    problems: tuple[str, ...]  # what an operator reads: what is wrong, and what to do about it

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        return "; ".join(self.problems)


def check(db: Database, settings: Settings) -> Health:
    database, database_problem = database_state(db)
    uploads, uploads_problem = uploads_state(settings)
    return Health(database, uploads, tuple(p for p in (database_problem, uploads_problem) if p is not None))


# --- the database --------------------------------------------------------------------------------------------


def database_state(db: Database) -> tuple[str, str | None]:
    """(state, None) when the database takes a write now, else (state, the sentence that says why)."""
    missing = missing_sqlite_file(db.engine.url)
    if missing is not None:
        return "unreachable", f"the SQLite database file {missing} is gone"
    try:
        connection = db.engine.connect()
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        return "unreachable", f"the database did not answer: {_detail(exc)}"
    seconds = min(PROBE_SECONDS, db.lock_timeout_seconds)
    with connection:
        try:
            take_write_lock_briefly(connection, seconds, db.lock_timeout_seconds)
        except DatabaseUnavailable as exc:
            if exc.locked:
                return "locked", (f"the database could not take a write within {seconds:g} s ({exc.detail}): "
                                  "another connection holds a write lock; end the command or transaction that "
                                  "holds it")
            return "not writable", f"the database cannot take a write: {exc.detail}"
        except SQLAlchemyError as exc:
            return "not writable", f"the database cannot take a write: {_detail(exc)}"
    return OK, None


def take_write_lock_briefly(connection: Connection, seconds: float, usual_seconds: float) -> None:
    """Take the lock an upload's write needs, waiting at most `seconds`, and give it back at once, writing nothing.

    SQLite has one write lock for the whole file: BEGIN IMMEDIATE takes it. On PostgreSQL, an UPDATE that matches
    no row takes the table lock every insert into `submissions` takes, and fails on a read-only server."""
    if connection.dialect.name == "sqlite":
        # Autocommit: the engine's own BEGIN IMMEDIATE (podium.db) would wait the usual busy timeout first.
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds(seconds)}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.exec_driver_sql("ROLLBACK")
        finally:  # the connection goes back to the pool, for requests that wait the usual time
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds(usual_seconds)}")
        return
    with connection.begin() as transaction:
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds(seconds)}")
        connection.execute(update(Submission).where(false()).values(id=Submission.id))
        transaction.rollback()


def missing_sqlite_file(url) -> str | None:
    """The SQLite file's path when it has been removed or unmounted under the running server. Its open connections
    would go on answering from the deleted file, and every write would be lost with it, so a probe through them
    is not enough to tell."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return None if Path(url.database).exists() else url.database


def _detail(exc: Exception) -> str:
    if isinstance(exc, DatabaseUnavailable):
        return exc.detail
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


# --- the upload folders --------------------------------------------------------------------------------------


def uploads_state(settings: Settings) -> tuple[str, str | None]:
    """Uploads are written to the uploads folder, and the Kaggle CLI's first to the staging folder."""
    for folder in (settings.uploads_dir, staging_dir(settings)):
        try:
            check_writable(folder)
        except StorageUnavailable as exc:
            return "not writable", (f"uploads cannot be stored: {exc.detail}; make it a folder that the user "
                                    "running Podium can write to, on a disk with free space")
    return OK, None
