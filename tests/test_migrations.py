"""The Alembic migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from podium.models import Base


def test_upgrade_to_head_matches_the_models(rt):
    with rt.db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_upgrade_is_idempotent(rt):
    rt.db.upgrade()
    assert "submissions" in inspect(rt.db.engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(rt):
    with rt.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
