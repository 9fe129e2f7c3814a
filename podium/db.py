"""The database: an engine, a session factory and the schema upgrade.

SQLite is the embedded default. It runs in WAL mode with a busy timeout, so the web server, the scheduler and
the `podium` command can share one file. Any other SQLAlchemy URL (PostgreSQL in production) works unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, String, create_engine, event, type_coerce
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def raw_instant(column):
    """A UTC datetime column read without per-row type processing, for queries over many thousands of rows;
    turn each value into an aware datetime with `utc_instant`."""
    return type_coerce(column, String)


def utc_instant(value: str | datetime) -> datetime:
    """An aware UTC datetime from what the driver gives: ISO text (SQLite) or a naive UTC datetime."""
    if isinstance(value, str):
        # Appending the offset lets the C parser build the aware value at once; replace() costs three times more.
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=timezone.utc)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # pragma: no branch - runs for every new connection
        # Let pysqlite not issue BEGIN itself: SQLAlchemy's "begin" event below does, so that writers take the
        # lock up front (BEGIN IMMEDIATE) instead of failing later on an upgrade from a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit reaches the disk before it returns, so an upload acknowledged to a student survives a
        # power cut too (NORMAL in WAL mode survives a process crash only). It costs one fsync per commit.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine and its session factory; created once per process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

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
