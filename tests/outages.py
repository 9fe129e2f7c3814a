"""Real outages for the tests: a database whose write lock another connection holds, and a folder that cannot take
a file. The folder is replaced by a file rather than made read-only, since the tests may run as root, whom no
permission bit stops."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

# Short, so that a test waiting behind a held lock does not wait long: requests give up after this, and the
# health probe waits no longer either.
LOCK_TIMEOUT_SECONDS = "1"


@contextmanager
def write_locked(database_url: str, table: str = "submissions", mode: str = "EXCLUSIVE") -> Iterator[None]:
    """Another connection holds a write lock until the block ends, in a transaction it then rolls back: SQLite's one
    write lock for the whole file, or on PostgreSQL a lock on `table`: EXCLUSIVE, under which plain reads go on and
    every write to the table waits, or ACCESS EXCLUSIVE, under which reads wait too."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"LOCK TABLE {table} IN {mode} MODE")
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


@contextmanager
def replaced_by_a_file(folder: Path) -> Iterator[None]:
    """`folder` is a plain file until the block ends; what it held is put back afterwards."""
    aside = folder.with_name(f"{folder.name}.aside")
    if folder.exists():
        folder.rename(aside)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder\n")
    try:
        yield
    finally:
        folder.unlink()
        if aside.exists():
            aside.rename(folder)


def files_under(folder: Path) -> set[Path]:
    """Every file below `folder` (none when it is missing), to compare before and after a failed upload."""
    return {path for path in folder.rglob("*") if path.is_file()} if folder.is_dir() else set()
