"""Fresh databases for tests, on SQLite or on a throwaway PostgreSQL cluster, behind one interface.

Both kinds migrate a template once and hand every test its own copy: a file copy on SQLite, `CREATE DATABASE ...
TEMPLATE` on PostgreSQL (tens of milliseconds, against a few hundred for running the migrations again). The same
copy puts a database prepared once (a course with its people and submissions) in the place of a test's own.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from podium.db import Database

KINDS = ("sqlite", "postgresql")
SQLITE_FILE = "podium.db"  # the file name the settings give SQLite in a data folder, so a copy sits where expected


class TestDatabases:
    """Makes databases of one kind; `close()` removes whatever is left."""

    __test__ = False  # a helper, not a test class, despite its name
    kind: str

    def fresh(self, folder: Path) -> str:
        """The URL of a new database with the schema at the newest migration and no rows."""
        raise NotImplementedError

    def blank(self, folder: Path) -> str:
        """The URL of a new database without any table, for the migrations themselves."""
        raise NotImplementedError

    def drop(self, url: str) -> None:
        """Remove a database made by `fresh` or `blank`."""

    def keep(self, url: str) -> str:
        """Keep a database made by `fresh`, with no connection left open, as a snapshot that `restore` copies."""
        raise NotImplementedError

    def restore(self, url: str, snapshot: str) -> None:
        """Replace the database at `url` (none of its connections open) with a copy of `snapshot`."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass

    @staticmethod
    def of_kind(kind: str) -> "TestDatabases":
        if kind == "sqlite":
            return SqliteDatabases()
        if kind == "postgresql":
            return PostgresDatabases()
        raise ValueError(f"unknown database kind {kind!r}: choose one of {', '.join(KINDS)}")


class SqliteDatabases(TestDatabases):
    kind = "sqlite"

    def __init__(self):
        self._template: Path | None = None

    def _template_file(self) -> Path:
        if self._template is None:
            folder = Path(tempfile.mkdtemp(prefix="podium-sqlite-template-"))
            database = Database(f"sqlite:///{folder / SQLITE_FILE}", sqlite_synchronous="OFF")
            try:
                database.upgrade()
            finally:
                database.dispose()  # the last connection closing folds the WAL back into the file we copy
            self._template = folder / SQLITE_FILE
        return self._template

    def fresh(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._template_file(), folder / SQLITE_FILE)
        return f"sqlite:///{folder / SQLITE_FILE}"

    def blank(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / f'blank-{uuid.uuid4().hex[:8]}.db'}"

    def keep(self, url: str) -> str:
        return make_url(url).database

    def restore(self, url: str, snapshot: str) -> None:
        target = Path(make_url(url).database)
        for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            leftover.unlink(missing_ok=True)  # a log of the replaced file must not be replayed into the copy
        shutil.copyfile(snapshot, target)

    def describe(self) -> str:
        import sqlite3

        return f"sqlite (SQLite {sqlite3.sqlite_version}, one file per test)"

    def close(self) -> None:
        if self._template is not None:
            shutil.rmtree(self._template.parent, ignore_errors=True)
            self._template = None


class PostgresDatabases(TestDatabases):
    """One temporary cluster for the whole run, started on first use."""

    kind = "postgresql"
    TEMPLATE = "podium_template"

    def __init__(self):
        self._cluster = None
        self._failure: Exception | None = None

    def _started(self):
        if self._failure is not None:  # every later test gets the same answer at once, not another attempt
            raise self._failure
        if self._cluster is None:
            try:
                self._cluster = self._start()
            except Exception as exc:
                self._failure = exc
                raise
        return self._cluster

    def _start(self):
        from podium.testing.postgres import TemporaryPostgres

        cluster = TemporaryPostgres().start()
        try:
            database = Database(cluster.create_database(self.TEMPLATE))
            try:
                database.upgrade()
            finally:
                database.dispose()  # CREATE DATABASE ... TEMPLATE needs the template to have no connection
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def fresh(self, folder: Path) -> str:
        return self._started().create_database(template=self.TEMPLATE)

    def blank(self, folder: Path) -> str:
        return self._started().create_database()

    def drop(self, url: str) -> None:
        if self._cluster is not None:
            self._cluster.drop_database(make_url(url).database)

    def keep(self, url: str) -> str:
        return make_url(url).database

    def restore(self, url: str, snapshot: str) -> None:
        name = make_url(url).database
        self._cluster.drop_database(name)
        self._cluster.create_database(name, template=snapshot)

    def describe(self) -> str:
        from podium.testing.postgres import server_version

        return f"postgresql ({server_version()}, a temporary cluster, one database per test)"

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None
