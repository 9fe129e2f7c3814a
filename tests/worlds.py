"""Course worlds: built once per run, copied into every test that asks for one.

A fixture that copies a world asks for `world_database` too, so that the test's database is made as the copy
instead of first as an empty one (tests/conftest.py); nothing may connect to it before the copy is made.

Building a course (loading it, adding its people, recording and scoring submissions) costs a test more than what
it checks; copying the database and the data dir that the building left costs a few milliseconds. A world is built
on a runtime of its own, at the run's instant `Worlds.now`, and every test gets the same rows (ids included) and
files, its own to change. The database records files relative to the data dir, so the copied rows find the copied
files.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from podium.runtime import Runtime, make_runtime
from podium.testing.databases import SQLITE_FILE, TestDatabases

# What a world's data dir holds that is not the world's: the database file (copied by `restore`) and the secret key
# each test's runtime generated for itself.
NOT_COPIED = shutil.ignore_patterns(SQLITE_FILE, f"{SQLITE_FILE}-*", "secret_key")

# build(runtime, folder, now) -> what the tests need to know of the world (ids, emails, keys); `folder` is the
# world's own, for the course folders it loads (each a folder of its own in it), and never holds the data dir's
# name "data".
Build = Callable[[Runtime, Path, datetime], Any]


@dataclass(frozen=True)
class CompetitionWorld:
    """What the tests of a world built around one competition need to know of it: the instant it was built at, the
    competition's id in the Kaggle API's terms (`cid`) and in the database, and the ids of its people by email."""
    now: datetime
    cid: str
    comp_id: int
    users: dict[str, int]


@dataclass(frozen=True)
class Built:
    snapshot: str
    data_dir: Path
    value: Any


class Worlds:
    def __init__(self, databases: TestDatabases, root: Path):
        self.databases = databases
        self.root = root
        self.now = datetime.now(timezone.utc).replace(microsecond=0)
        self._built: dict[str, Built] = {}

    def copy_into(self, rt: Runtime, folder: Path, name: str, build: Build) -> Any:
        """Make `rt`'s database and data dir a copy of the world `name`, built by `build` the first time, and put a
        copy of the course folders it loaded in `folder` (a test's tmp_path), where a test may change and reload
        them."""
        rt.db.dispose()
        return self.copy(name, build, database_url=rt.db.url, data_dir=rt.settings.data_dir, folder=folder)

    def copy(self, name: str, build: Build, *, database_url: str, data_dir: Path, folder: Path) -> Any:
        """`copy_into` for a database (with no connection open) and a data dir that no runtime of the test holds,
        such as those a test's `podium run` process is given."""
        built = self._built.get(name) or self._build(name, build)
        self.databases.restore(database_url, built.snapshot)
        shutil.copytree(built.data_dir, data_dir, ignore=NOT_COPIED, dirs_exist_ok=True)
        for item in built.data_dir.parent.iterdir():
            if item.is_dir() and item != built.data_dir:
                shutil.copytree(item, folder / item.name, dirs_exist_ok=True)
            elif item.is_file():
                shutil.copy2(item, folder / item.name)
        return built.value

    def _build(self, name: str, build: Build) -> Built:
        folder = self.root / name
        data_dir = folder / "data"
        url = self.databases.fresh(data_dir)
        runtime = make_runtime(data_dir=data_dir, database_url=url)
        try:
            value = build(runtime, folder, self.now)
        finally:
            runtime.db.dispose()
        self._built[name] = Built(self.databases.keep(url), data_dir, value)
        return self._built[name]
