"""The database under the platform: the run really uses the kind it says, and the concurrency each kind gives is
the one the claims, leases and daily limits rely on (several threads and processes on one database)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from podium import db as podium_db
from podium.config import load_settings
from podium.errors import DatabaseUnavailable, PodiumError
from podium.models import DataFile, JobLease
from podium.runtime import make_runtime
from podium.services.courses import get_competition, load_course
from podium.testing.postgres import PostgresUnavailable, TemporaryPostgres
from tests.outages import write_locked

WAIT = 60  # seconds: a bound for waiting, never a measure


def test_the_run_uses_the_database_it_names(rt, database_kind):
    """The PostgreSQL run must not quietly fall back to SQLite (nor the other way round)."""
    assert rt.db.engine.dialect.name == database_kind
    with rt.db.engine.connect() as connection:
        if database_kind == "postgresql":
            assert connection.exec_driver_sql("SELECT version()").scalar().startswith("PostgreSQL 15.")
        else:
            assert connection.exec_driver_sql("SELECT sqlite_version()").scalar().startswith("3.")


def test_without_database_url_the_database_is_a_sqlite_file_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(data_dir=tmp_path / "data", secret_key="k")
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'podium.db'}"


def test_sqlite_commits_reach_the_disk_unless_the_database_is_declared_throwaway(tmp_path, monkeypatch):
    """Production keeps PRAGMA synchronous=FULL (an acknowledged upload survives a power cut); the suite's own
    databases run with OFF, which only PODIUM_SQLITE_SYNCHRONOUS can ask for."""
    monkeypatch.delenv("PODIUM_SQLITE_SYNCHRONOUS", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    production = make_runtime(data_dir=tmp_path / "data", secret_key="k")
    assert production.settings.sqlite_synchronous == "FULL"
    with production.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    production.db.dispose()

    monkeypatch.setenv("PODIUM_SQLITE_SYNCHRONOUS", "off")
    throwaway = make_runtime(data_dir=tmp_path / "data", secret_key="k")
    with throwaway.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF
    throwaway.db.dispose()

    monkeypatch.setenv("PODIUM_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(PodiumError, match="PODIUM_SQLITE_SYNCHRONOUS='sometimes': use FULL"):
        load_settings(data_dir=tmp_path / "data", secret_key="k")


def test_datetimes_come_back_aware_and_utc_through_the_fast_path_too(rt):
    """`raw_instant` skips the column type's processing: whatever the driver gives (text on SQLite, a datetime on
    PostgreSQL), `utc_instant` must make the same aware instant of it."""
    instant = datetime(2024, 10, 15, 15, 0, 0, 123456, tzinfo=timezone.utc)
    with rt.db.session() as session:
        session.add(JobLease(name="clock", holder="h:1:x", lease_until=instant))
    with rt.db.session() as session:
        assert session.get(JobLease, "clock").lease_until == instant
        raw = session.scalar(select(podium_db.raw_instant(JobLease.lease_until)))
        assert podium_db.utc_instant(raw) == instant and podium_db.utc_instant(raw).tzinfo == timezone.utc


def test_a_reader_is_not_blocked_by_an_open_write_and_sees_the_last_commit(rt):
    """Pages and the API read while uploads and scores are written: reads never wait for a writer."""
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    with rt.db.session() as session:
        session.add(JobLease(name="job", holder="before", lease_until=until))
    with rt.db.engine.connect() as writer:
        writer.execute(update(JobLease).values(holder="during"))  # an open write transaction
        with rt.db.engine.connect() as reader:
            with reader.execution_options(isolation_level="AUTOCOMMIT") as plain:
                assert plain.scalar(select(JobLease.holder)) == "before"
        writer.commit()
    with rt.db.session() as session:
        assert session.scalar(select(JobLease.holder)) == "during"


@pytest.mark.only_on("postgresql", why="the pool and the isolation level are PostgreSQL's engine settings")
def test_postgresql_connections_are_pooled_checked_and_read_committed(rt):
    engine = rt.db.engine
    assert isinstance(engine.pool, QueuePool) and engine.pool.size() == podium_db.PG_POOL_SIZE
    assert engine.pool._pre_ping and engine.pool._recycle == 1800
    with engine.connect() as connection:
        # The conditional updates that claim a submission or a lease rely on READ COMMITTED re-checking their
        # condition against the row another transaction just committed (the next test shows it).
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        assert connection.exec_driver_sql("SELECT current_setting('application_name')").scalar() == "podium"


@pytest.mark.only_on("postgresql", why="row locks and the re-check after waiting for one are PostgreSQL's; SQLite "
                                       "takes the write lock for the whole file at BEGIN IMMEDIATE instead")
def test_a_conditional_update_that_waited_for_a_row_lock_rechecks_its_condition(rt):
    """Two workers claim the same free lease: the second waits for the first one's row lock and then, seeing the
    committed row, claims nothing, without an error. This is what makes every claim in Podium exactly-once."""
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    with rt.db.session() as session:
        session.add(JobLease(name="job", holder="free", lease_until=until))
    second = make_runtime(data_dir=rt.settings.data_dir, database_url=rt.settings.database_url)
    claim = update(JobLease).where(JobLease.holder == "free")
    outcome: dict[str, int] = {}
    try:
        with rt.db.engine.connect() as first:
            assert first.execute(claim.values(holder="first")).rowcount == 1  # holds the row lock, uncommitted
            waiter = threading.Thread(target=lambda: outcome.update(
                second=_claim_in(second, claim.values(holder="second"))))
            waiter.start()
            _wait_until_blocked_on_a_lock(rt)
            first.commit()
        waiter.join(WAIT)
        assert outcome == {"second": 0}
        with rt.db.session() as session:
            assert session.scalar(select(JobLease.holder)) == "first"
    finally:
        second.db.dispose()


def _claim_in(runtime, statement) -> int:
    with runtime.db.session() as session:
        return session.execute(statement).rowcount


def _wait_until_blocked_on_a_lock(rt) -> None:
    deadline = time.monotonic() + WAIT
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as observer:
        while time.monotonic() < deadline:
            waiting = observer.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second claim never waited for the first one's row lock")


def test_the_lock_timeout_setting_bounds_every_connections_wait(short_lock_waits, rt, database_kind):
    """PODIUM_DB_LOCK_TIMEOUT_SECONDS (1 s here) is SQLite's busy timeout and PostgreSQL's lock_timeout, which
    waits for ever by default."""
    with rt.db.engine.connect() as connection:
        if database_kind == "postgresql":
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "1s"
        else:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000


def test_a_statement_that_waited_out_the_lock_timeout_is_database_unavailable(short_lock_waits, rt):
    """One error for every layer to answer (503, one line of the command), whatever the driver said."""
    with write_locked(rt.settings.database_url, "job_leases"):
        with pytest.raises(DatabaseUnavailable) as caught, rt.db.session() as session:
            session.add(JobLease(name="job", holder="h", lease_until=datetime.now(timezone.utc)))
    assert caught.value.locked and caught.value.code == 503
    assert "Try again shortly." in caught.value.message
    with rt.db.session() as session:
        assert session.get(JobLease, "job") is None


def test_a_wrong_statement_is_an_error_of_the_code_not_an_outage(rt):
    """A missing table is an OperationalError on SQLite too: answering it "try again shortly" would hide a bug."""
    with pytest.raises(SQLAlchemyError), rt.db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT * FROM no_such_table")


def test_text_longer_than_its_column_is_refused_by_name_on_every_database(rt):
    """PostgreSQL enforces VARCHAR lengths and SQLite does not: Podium checks before writing, the same on both."""
    with pytest.raises(PodiumError, match="holder is at most 128 characters long; 129 were given"):
        with rt.db.session() as session:
            session.add(JobLease(name="job", holder="h" * 129, lease_until=datetime.now(timezone.utc)))
    with rt.db.session() as session:
        session.add(JobLease(name="job", holder="h" * 128, lease_until=datetime.now(timezone.utc)))
    with rt.db.session() as session:
        assert len(session.get(JobLease, "job").holder) == 128


def test_a_nul_character_is_refused_in_a_change_too(rt):
    with rt.db.session() as session:
        session.add(JobLease(name="job", holder="h", lease_until=datetime.now(timezone.utc)))
    with pytest.raises(PodiumError, match="holder must not contain a NUL character"):
        with rt.db.session() as session:
            session.get(JobLease, "job").holder = "a\x00b"
    with rt.db.session() as session:
        assert session.get(JobLease, "job").holder == "h"


def test_a_lookup_by_text_with_a_nul_character_is_refused_on_every_database(rt):
    """PostgreSQL cannot take NUL in text at all (a driver error); SQLite would just find nothing."""
    with pytest.raises(PodiumError, match="NUL character"):
        with rt.db.session() as session:
            session.scalar(select(JobLease).where(JobLease.name == "a\x00b"))
    with rt.db.session() as session:  # the connection is usable afterwards
        assert session.scalar(select(JobLease).where(JobLease.name == "ab")) is None


def test_a_data_file_over_2_gib_is_recorded_with_its_size(rt, course_dir):
    """PostgreSQL's integer stops at 2 GiB - 1; the sizes of data files and uploads are 64-bit on both databases."""
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        comp = get_competition(session, "c1-hw1")
        session.add(DataFile(competition_id=comp.id, name="train.tar", path="/data/train.tar", size_bytes=5 * 2**30,
                             sha256="0" * 64))
    with rt.db.session() as session:
        assert session.scalar(select(DataFile.size_bytes).where(DataFile.name == "train.tar")) == 5 * 2**30


@pytest.mark.only_on("postgresql", why="it starts a cluster of its own from the PostgreSQL binaries")
def test_a_cluster_that_cannot_start_says_why_and_leaves_nothing_behind():
    class Watched(TemporaryPostgres):
        def _create_and_start(self):
            self.folder = self.root
            super()._create_and_start()

    cluster = Watched(max_connections=-1)  # a setting the server refuses at start
    with pytest.raises(PostgresUnavailable, match="max_connections") as caught:
        cluster.start()
    assert "pg_ctl" in str(caught.value)
    assert cluster.root is None and not cluster.folder.exists()
