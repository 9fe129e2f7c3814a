"""Fresh databases for tests, on SQLite or on a throwaway PostgreSQL cluster, behind one interface.

Both kinds migrate a template once and hand every test its own copy: a file copy on SQLite, `CREATE DATABASE ...
TEMPLATE` on PostgreSQL (tens of milliseconds, against a few hundred for running the migrations again). The same
copy puts a database prepared once (a course with its people and submissions) in the place of a test's own.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

from sqlalchemy.engine import make_url

from podium.db import Database

KINDS = ("sqlite", "postgresql")
SQLITE_FILE = "podium.db"  # the file name the settings give SQLite in a data folder, so a copy sits where expected


class TestDatabases(ABC):
    """Makes databases of one kind; `close()` removes whatever is left."""

    __test__ = False  # a helper, not a test class, despite its name
    kind: str

    @abstractmethod
    def fresh(self, folder: Path) -> str:
        """The URL of a new database with the schema at the newest migration and no rows."""

    @abstractmethod
    def blank(self, folder: Path) -> str:
        """The URL of a new database without any table, for the migrations themselves."""

    @abstractmethod
    def reserve(self, folder: Path) -> str:
        """The URL of a database not made yet: `restore` makes it, as a copy of a snapshot."""

    def drop(self, url: str) -> None:
        """Remove a database made by `fresh` or `blank`."""

    @abstractmethod
    def keep(self, url: str) -> str:
        """Keep a database made by `fresh`, with no connection left open, as a snapshot that `restore` copies."""

    @abstractmethod
    def restore(self, url: str, snapshot: str) -> None:
        """Make the database at `url` (reserved, or made and none of its connections open) a copy of `snapshot`."""

    @abstractmethod
    def describe(self) -> str:
        """What the run uses, for pytest's header."""

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

    def reserve(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / SQLITE_FILE}"

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
    """One temporary cluster for the whole run, started on first use.

    Copying a template takes tens of milliseconds of the server's time and dropping a database a few more: a thread
    beside the tests (`Spares`) copies ahead of need and drops after use, so that a test waits for neither unless
    the thread has fallen behind."""

    kind = "postgresql"
    TEMPLATE = "podium_template"

    def __init__(self):
        self._cluster = None
        self._spares: Spares | None = None
        self._failure: Exception | None = None
        self._reserved: set[str] = set()

    def _started(self) -> "Spares":
        if self._failure is not None:  # every later test gets the same answer at once, not another attempt
            raise self._failure
        if self._cluster is None:
            try:
                self._cluster = self._start()
            except Exception as exc:
                self._failure = exc
                raise
            self._spares = Spares(self._cluster)
        return self._spares

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
        spares = self._started()
        return self._cluster.url(spares.take(self.TEMPLATE))

    def blank(self, folder: Path) -> str:
        self._started()
        return self._cluster.create_database()

    def drop(self, url: str) -> None:
        if self._spares is not None:
            self._spares.discard(make_url(url).database)

    def reserve(self, folder: Path) -> str:
        self._started()
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._reserved.add(name)
        return self._cluster.url(name)

    def keep(self, url: str) -> str:
        return make_url(url).database

    def restore(self, url: str, snapshot: str) -> None:
        """A waiting copy of the snapshot takes the database's name; a database made under it before goes aside to
        be dropped."""
        name = make_url(url).database
        copy = self._started().take(snapshot)
        if name in self._reserved:
            self._reserved.discard(name)
        else:
            self._spares.discard(self._spares.set_aside(name))
        self._cluster.execute(f'ALTER DATABASE "{copy}" RENAME TO "{name}"')

    def describe(self) -> str:
        from podium.testing.postgres import server_version

        return f"postgresql ({server_version()}, a temporary cluster, one database per test)"

    def close(self) -> None:
        if self._spares is not None:
            self._spares.close()
            self._spares = None
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None


class Spares:
    """Copies of templates made ahead of need, and databases dropped after use, by one thread of their own.

    A template is kept stocked with `DEPTH` copies from the first time a copy of it is taken. Copies are made
    before drops are done, so a test waits only when it takes copies faster than the server makes them."""

    DEPTH = 2

    def __init__(self, cluster):
        self._cluster = cluster
        self._ready: dict[str, list[str]] = {}
        self._drops: list[str] = []
        self._failure: BaseException | None = None
        self._stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="podium-test-databases", daemon=True)
        self._thread.start()

    def take(self, template: str) -> str:
        """The name of a new copy of `template`, waiting for one if none is ready."""
        with self._changed:
            ready = self._ready.setdefault(template, [])
            self._changed.notify_all()
            while not ready:
                if self._failure is not None:
                    raise self._failure
                self._changed.wait()
            name = ready.pop(0)
            self._changed.notify_all()
            return name

    def set_aside(self, name: str) -> str:
        """Rename a database nobody is connected to, so that its name is free at once; falls back to dropping it
        there and then when something still holds a connection to it."""
        import psycopg

        aside = f"x_{uuid.uuid4().hex[:16]}"
        try:
            self._cluster.execute(f'ALTER DATABASE "{name}" RENAME TO "{aside}"')
        except psycopg.errors.ObjectInUse:
            self._cluster.drop_database(name)  # WITH (FORCE): ends the connections left open
        return aside

    def discard(self, name: str) -> None:
        with self._changed:
            self._drops.append(name)
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout=60)

    def _next_job(self) -> tuple[str, str] | None:
        for template, ready in self._ready.items():
            if len(ready) < self.DEPTH:
                return "copy", template
        if self._drops:
            return "drop", self._drops.pop(0)
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and (job := self._next_job()) is None:
                    self._changed.wait()
                if self._stopping:
                    return
            action, name = job
            try:
                if action == "copy":
                    made = self._cluster.create_database(template=name)
                    with self._changed:
                        self._ready[name].append(make_url(made).database)
                        self._changed.notify_all()
                else:
                    self._cluster.drop_database(name)
            except BaseException as exc:  # every test waiting, and every later one, is told at once
                with self._changed:
                    self._failure = exc
                    self._stopping = True
                    self._changed.notify_all()
                return
