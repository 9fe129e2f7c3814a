"""The Alembic migrations build exactly the schema the models describe, from an empty database of either kind, and
undo it all again."""
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from podium.db import Database, alembic_config
from podium.models import Base


@pytest.fixture
def blank(blank_database_url):
    database = Database(blank_database_url)
    yield database
    database.dispose()


def differences(database: Database) -> list:
    with database.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def test_upgrade_from_an_empty_database_matches_the_models(blank):
    assert tables(blank) == set()
    blank.upgrade()
    assert tables(blank) == set(Base.metadata.tables) | {"alembic_version"}
    assert differences(blank) == []


def test_the_test_databases_are_at_the_newest_migration_and_match_the_models(rt):
    assert differences(rt.db) == []


def test_upgrade_is_idempotent(rt):
    rt.db.upgrade()
    assert "submissions" in inspect(rt.db.engine).get_table_names()
    assert differences(rt.db) == []


def test_every_migration_can_be_undone_and_redone(blank):
    blank.upgrade()
    command.downgrade(alembic_config(blank.url), "base")
    blank.engine.dispose()  # the inspector must not reuse a connection that saw the old catalogue
    assert tables(blank) == {"alembic_version"}
    blank.upgrade()
    assert differences(blank) == []


@pytest.mark.only_on("sqlite", why="WAL and the busy timeout are how SQLite lets processes share one file")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(rt):
    with rt.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
