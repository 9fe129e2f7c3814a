"""The Alembic migrations build exactly the schema the models describe, from an empty database of either kind, and
undo it all again."""
from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

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


def test_upgrade_copies_each_users_leaderboard_name_onto_their_enrolments(blank):
    """0010: names move to the enrolment. One the new rules refuse, or one another member of the course had first
    (after NFKC and case folding), is left empty: that student chooses again."""
    command.upgrade(alembic_config(blank.url), "0007")
    with blank.engine.begin() as connection:
        for course_id, slug in ((1, "c1"), (2, "c2")):
            connection.execute(text("INSERT INTO courses (id, slug, title, timezone, policy, created_at, updated_at) "
                                    "VALUES (:id, :slug, :slug, 'UTC', '{}', :at, :at)"),
                               {"id": course_id, "slug": slug, "at": datetime(2024, 1, 1)})
        for user_id, name in ((1, "Overfitter"), (2, "OVERFITTER"), (3, "evil\u202efig"), (4, "")):
            connection.execute(text("INSERT INTO users (id, email, name, leaderboard_name, created_at) "
                                    "VALUES (:id, :email, '', :name, :at)"),
                               {"id": user_id, "email": f"u{user_id}@x.edu", "name": name, "at": datetime(2024, 1, 1)})
        for enrolment_id, (user_id, course_id) in enumerate(((1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (4, 1)), 1):
            connection.execute(text("INSERT INTO enrolments (id, user_id, course_id, role, created_at) "
                                    "VALUES (:id, :user, :course, 'student', :at)"),
                               {"id": enrolment_id, "user": user_id, "course": course_id, "at": datetime(2024, 1, 1)})
    blank.upgrade()
    assert differences(blank) == []
    with blank.engine.connect() as connection:
        rows = connection.execute(text("SELECT user_id, course_id, leaderboard_name, leaderboard_key FROM enrolments "
                                       "ORDER BY course_id, user_id")).all()
    assert [tuple(row) for row in rows] == [
        (1, 1, "Overfitter", "overfitter"), (2, 1, "", None), (3, 1, "", None), (4, 1, "", None),
        (1, 2, "Overfitter", "overfitter"), (2, 2, "", None)]
    assert "leaderboard_name" not in {c["name"] for c in inspect(blank.engine).get_columns("users")}
