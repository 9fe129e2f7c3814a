"""The database: an engine, a session factory and the schema upgrade.

SQLite is the embedded default. It runs in WAL mode with a busy timeout, so the web server, the scheduler and
the `podium` command can share one file. PostgreSQL (`postgresql+psycopg://...`) is the choice for several
processes or machines; the test suite runs on both, and the code has one path for both.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, String, create_engine, event, inspect, type_coerce
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from podium.config import DEFAULT_DB_LOCK_TIMEOUT_SECONDS, DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE
from podium.errors import DatabaseUnavailable, PodiumError

log = logging.getLogger(__name__)

# The execution option of the engine behind `Database.read_sessions`.
READS_ONLY = "podium_reads_only"
# A PostgreSQL connection pool per process, sized by the settings (podium.config explains the defaults).
PG_POOL_SIZE = DEFAULT_DB_POOL_SIZE
PG_MAX_OVERFLOW = DEFAULT_DB_MAX_OVERFLOW
PG_CONNECT_TIMEOUT_SECONDS = 10


def raw_instant(column):
    """A UTC datetime column read without per-row type processing, for queries over many thousands of rows;
    turn each value into an aware datetime with `utc_instant`."""
    return type_coerce(column, String)


def utc_instant(value: str | datetime) -> datetime:
    """An aware UTC datetime from what the driver gives: ISO text (SQLite) or a naive UTC datetime (psycopg reads
    a `timestamp without time zone` column as a datetime whatever the type coercion says)."""
    if isinstance(value, str):
        # Appending the offset lets the C parser build the aware value at once; replace() costs three times more.
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=timezone.utc)


def _tune_sqlite(engine: Engine, synchronous: str, lock_timeout_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # pragma: no branch - runs for every new connection
        # Let pysqlite not issue BEGIN itself: SQLAlchemy's "begin" event below does, so that writers take the
        # lock up front (BEGIN IMMEDIATE) instead of failing later on an upgrade from a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={milliseconds(lock_timeout_seconds)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL (the default): a commit reaches the disk before it returns, so an upload acknowledged to a student
        # survives a power cut too (NORMAL in WAL mode survives a process crash only). It costs one fsync per
        # commit, which throwaway databases (the test suite's) may skip with OFF.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        options = connection.get_execution_options()
        # A connection asked for autocommit reads outside any transaction, so it never waits for a writer (WAL).
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        # A transaction that only reads takes no lock: in WAL mode it reads a snapshot while one writer writes.
        # One that writes takes the write lock up front, so it waits its turn (busy_timeout) instead of failing
        # later on an upgrade from a snapshot another writer has made stale.
        connection.exec_driver_sql("BEGIN" if options.get(READS_ONLY) else "BEGIN IMMEDIATE")


NUL_REFUSED = "Text with a NUL character (\\0) is not accepted."


def _has_nul(parameters) -> bool:
    if isinstance(parameters, str):
        return "\x00" in parameters
    if isinstance(parameters, dict):
        return any(_has_nul(value) for value in parameters.values())
    if isinstance(parameters, (list, tuple)):
        return any(_has_nul(value) for value in parameters)
    return False


def _refuse_nul_parameters(engine: Engine) -> None:
    """A NUL character in any statement's text parameter (a lookup by a URL with %00 in it, a search box) is a
    driver error on PostgreSQL, a 500, and means nothing on SQLite: refuse it on both, as the caller's mistake."""

    @event.listens_for(engine, "before_cursor_execute")
    def check(_connection, _cursor, _statement, parameters, _context, _executemany):
        if _has_nul(parameters):
            raise PodiumError(NUL_REFUSED)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = PG_POOL_SIZE,
                max_overflow: int = PG_MAX_OVERFLOW,
                lock_timeout_seconds: float = DEFAULT_DB_LOCK_TIMEOUT_SECONDS) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": lock_timeout_seconds})
        _tune_sqlite(engine, sqlite_synchronous, lock_timeout_seconds)
        _refuse_nul_parameters(engine)
        _report_unavailability(engine)
        return engine
    connect_args = {}
    if url.startswith("postgresql"):
        # A server that cannot be reached fails the request in seconds instead of hanging it; the application name
        # tells Podium's connections apart in pg_stat_activity.
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS, "application_name": "podium"}
    # pre_ping replaces a connection the server closed (a restart, a failover) before it is handed out; recycling
    # after half an hour keeps idle connections from outliving firewalls' and poolers' idle timeouts.
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
                           pool_recycle=1800, connect_args=connect_args)
    if url.startswith("postgresql"):
        _bound_pg_lock_waits(engine, lock_timeout_seconds)
    _refuse_nul_parameters(engine)
    _report_unavailability(engine)
    return engine


def milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _bound_pg_lock_waits(engine: Engine, lock_timeout_seconds: float) -> None:
    """PostgreSQL waits for a lock for ever by default: a request stuck behind another's lock (a long command, a
    forgotten transaction) would hang until the client gives up. Bounded as SQLite's busy timeout bounds it, the
    wait ends in DatabaseUnavailable, which the web answers 503 "try again shortly"."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # pragma: no branch - runs for every new connection
        # For the whole session, and committed: a SET is undone with the transaction it ran in. Not a startup
        # `options` parameter, which PgBouncer refuses.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds(lock_timeout_seconds)}")
        dbapi_connection.commit()


# SQLite's primary result codes that say the database cannot take the statement now, rather than that the statement
# is wrong (a missing table is SQLITE_ERROR, also an OperationalError).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 5, 6, 8, 10, 13, 14
SQLITE_UNAVAILABLE = {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN}
# PostgreSQL's SQLSTATE classes and codes of the same kind: connection lost (08), deadlock or serialisation
# (40), disk full or too many connections (53), shutdown or statement timeout (57), I/O error (58), a lock not
# granted within lock_timeout (55P03), a read-only server such as a standby after a failover (25006).
PG_UNAVAILABLE_CLASSES = {"08", "40", "53", "57", "58"}
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_UNAVAILABLE_STATES = {PG_LOCK_NOT_AVAILABLE, "25006"}


def unavailability(driver_error: BaseException, wrapped: BaseException | None) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable a driver's error means, or None when it means something else (a bug, a constraint).
    `wrapped` is SQLAlchemy's wrapper of it, when it is a driver error."""
    lines = str(driver_error).strip().splitlines()
    detail = lines[0] if lines else type(driver_error).__name__
    sqlite_code = getattr(driver_error, "sqlite_errorcode", None)
    if sqlite_code is not None:
        primary = sqlite_code & 0xFF  # extended codes, e.g. SQLITE_IOERR_WRITE, keep the primary in the low byte
        if primary not in SQLITE_UNAVAILABLE:
            return None
        return DatabaseUnavailable(detail, locked=primary in (SQLITE_BUSY, SQLITE_LOCKED))
    if not hasattr(driver_error, "sqlstate"):
        return None
    state = driver_error.sqlstate
    if state is None:  # raised by the client library: a connection that failed or broke, or a misuse of it
        return DatabaseUnavailable(detail, locked=False) if isinstance(wrapped, OperationalError) else None
    if state[:2] in PG_UNAVAILABLE_CLASSES or state in PG_UNAVAILABLE_STATES:
        return DatabaseUnavailable(detail, locked=state == PG_LOCK_NOT_AVAILABLE)
    return None


def _report_unavailability(engine: Engine) -> None:
    """One place turns the drivers' ways of saying "not now" into DatabaseUnavailable, whichever statement, session
    or layer met it: the web answers 503 with Retry-After, the command prints one line, the jobs try again later."""

    @event.listens_for(engine, "handle_error")
    def translate(context):
        if context.is_pre_ping:  # the pool handles a dead connection there by opening a new one
            return None
        unavailable = unavailability(context.original_exception, context.sqlalchemy_exception)
        if unavailable is not None:
            log.warning("the database is unavailable: %s", unavailable.detail)
        return unavailable


def refuse_what_a_column_cannot_hold(session: Session, _context, _instances) -> None:
    """Refuse, before anything is written, text longer than its column or with a NUL character in it.

    PostgreSQL rejects both with a driver error (a 500 for a long file name or a pasted leaderboard name), while
    SQLite stores them silently; checking here gives one behaviour on both, with a message naming the field."""
    for obj in (*session.new, *session.dirty):
        for attribute in inspect(obj).mapper.column_attrs:
            column_type = attribute.columns[0].type
            if not isinstance(column_type, String):  # Text, Enum stored as text and sized strings are Strings
                continue
            value = obj.__dict__.get(attribute.key)  # only what is loaded or set: never a lazy load mid-flush
            if not isinstance(value, str):
                continue
            field = attribute.key.replace("_", " ")
            if "\x00" in value:
                raise PodiumError(f"The {field} must not contain a NUL character.")
            if column_type.length is not None and len(value) > column_type.length:
                raise PodiumError(f"The {field} is at most {column_type.length} characters long; "
                                  f"{len(value)} were given.")


def refuse_writes_in_a_read_session(session: Session, _context, _instances) -> None:
    """A read session never writes: on SQLite a write there could meet a snapshot another writer made stale. A
    use case that writes opens its own session (`Database.session`); a view that writes is a POST."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session (a GET request's) was asked to write; write in a POST, through a "
                           "service's own session")


class Database:
    """One engine and its session factory; created once per process."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = PG_POOL_SIZE,
                 max_overflow: int = PG_MAX_OVERFLOW, lock_timeout_seconds: float = DEFAULT_DB_LOCK_TIMEOUT_SECONDS):
        self.url = url
        # How long a statement waits behind another connection's lock before DatabaseUnavailable.
        self.lock_timeout_seconds = lock_timeout_seconds
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size,
                                  max_overflow=max_overflow, lock_timeout_seconds=lock_timeout_seconds)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", refuse_what_a_column_cannot_hold)
        # Sessions for work that only reads (a GET request): on SQLite they never take the write lock.
        self.read_sessions = sessionmaker(self.engine.execution_options(**{READS_ONLY: True}), expire_on_commit=False)
        event.listen(self.read_sessions, "before_flush", refuse_writes_in_a_read_session)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on an exception."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    migrations = Path(str(resources.files("podium") / "migrations"))
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
