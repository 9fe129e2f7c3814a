"""Background work: scoring uploads outside the request that received them, recovery, and deadline events.

- `ScoringPool` scores received submissions in a bounded thread pool (the heavy lifting happens in pyarrow and
  numpy, which release the GIL). Each claim is a lease in the database (`services.submissions.claim`): the pool
  renews the leases of what it is scoring, and a result is written only while its claim still holds, so each
  submission is scored exactly once however many processes share the database.
- `BackgroundJobs` is one process's APScheduler: it recovers unscored submissions at start and every
  `recovery_seconds` (queued ones, and those whose claim lapsed), finalises each competition once its late
  deadline plus a grace has passed, and every `cleanup_seconds` deletes the files nobody needs any more
  (services.storage: Kaggle CLI uploads never handed in, failed uploads past their keeping time). Every process
  recovers once when it starts; after that, the periodic recovery, the deadline loop and the clean-up run in one
  process at a time, the holder of the database lease `DEADLINE_LEASE` (any process with a scheduler may take it
  over when it lapses). Due competitions are read from the database on every pass, so a restart never misses one.
- `Background` is one process's whole background work, started and stopped as a unit: by `background(app)`
  around the development server (which also turns SIGTERM into a clean stop), and by the hooks of each gunicorn
  worker (podium/serve.py). Stopping shuts the scheduler and the pool down; queued uploads stay queued, for the
  next start.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Iterator

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from podium.config import JobSettings
from podium.models import Competition, utcnow
from podium.runtime import Runtime
from podium.services import competitions, finalisations, leases, storage, submissions

log = logging.getLogger(__name__)

DEADLINE_LEASE = finalisations.DEADLINE_LEASE
SCHEDULER_ACTOR = "scheduler"
MAX_NICE = 19  # the lowest priority Unix has


# --- scoring ---------------------------------------------------------------------------------------------


class ScoringPool:
    """A bounded pool of scoring threads; `submit(id)` returns a Future of the stored Submission (None when
    another worker had it)."""

    def __init__(self, runtime: Runtime, workers: int | None = None, *, lease_seconds: float | None = None):
        self.runtime = runtime
        self.worker = leases.this_process()
        settings = runtime.settings.jobs
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.executor = ThreadPoolExecutor(max_workers=workers or settings.workers, thread_name_prefix="podium-scoring",
                                           initializer=partial(lower_this_threads_priority, settings.scoring_nice))
        self._lock = threading.Lock()
        self._inflight: dict[int, Future] = {}
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def submit(self, submission_id: int) -> Future:
        with self._lock:
            future = self._inflight.get(submission_id)
            if future is not None:  # already queued here (e.g. found again by recovery)
                return future
            future = self.executor.submit(self._score, submission_id)
            self._inflight[submission_id] = future
            self._start_renewer()
        future.add_done_callback(partial(self._forget, submission_id))
        return future

    def _forget(self, submission_id: int, future: Future) -> None:
        with self._lock:
            if self._inflight.get(submission_id) is future:
                del self._inflight[submission_id]

    def _score(self, submission_id: int):
        try:
            return submissions.score(self.runtime.db, self.runtime.settings, submission_id, worker=self.worker,
                                     lease_seconds=self.lease_seconds)
        except Exception:
            log.exception("scoring submission %s failed; it goes back to the queue", submission_id)
            try:
                with self.runtime.db.session() as session:
                    submissions.give_back(session, submission_id, self.worker)
            except Exception:  # the lease runs out by itself
                log.exception("could not give submission %s back", submission_id)
            raise

    def recover(self) -> list[Future]:
        """Score what nobody is scoring: queued submissions, and those whose claim lapsed (a crash, a restart)."""
        try:
            with self.runtime.db.session() as session:
                ids = submissions.pending_ids(session)
        except Exception:  # a busy or unreachable database: the next pass tries again
            log.exception("recovery could not read the pending submissions")
            return []
        if ids:
            log.info("recovering %d unscored submission(s)", len(ids))
        return [self.submit(sub_id) for sub_id in ids]

    def pending(self) -> list[int]:
        with self._lock:
            return sorted(self._inflight)

    def renew_leases(self) -> int:
        """Extend the claims on everything this pool holds, so a long scoring is never taken over."""
        ids = self.pending()
        if not ids:
            return 0
        with self.runtime.db.session() as session:
            return submissions.renew(session, ids, self.worker, self.lease_seconds)

    def _start_renewer(self) -> None:
        if self._renewer is None and not self._stop.is_set():
            self._renewer = threading.Thread(target=self._renew_loop, name="podium-lease-renewer", daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self.renew_leases()
            except Exception:
                log.exception("renewing scoring leases failed")

    def shutdown(self, wait: bool = True, *, cancel_pending: bool = False) -> None:
        """Stop; with `cancel_pending`, uploads not yet started stay queued in the database for the next start."""
        self._stop.set()
        self.executor.shutdown(wait=wait, cancel_futures=cancel_pending)


def lower_this_threads_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by `nice` steps, so that on a busy machine the threads answering
    uploads run first and scoring takes the time left over. Linux schedules threads alone (a thread id is a valid
    `who` for setpriority); elsewhere this would lower the whole process, so it is done only on Linux."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, thread) + nice))
    except OSError:
        log.warning("could not lower the scoring threads' priority", exc_info=True)


# --- deadline events -------------------------------------------------------------------------------------


def finalise_due(runtime: Runtime, grace_seconds: float | None = None, *, now: datetime | None = None,
                 actor: str = SCHEDULER_ACTOR) -> list[str]:
    """Finalise every competition whose time has come (finalisations.due_at); returns their public ids.

    Each competition is finalised in its own transaction that locks its row and checks `finalised_at` again,
    so a competition is finalised once even when two processes get here together.
    """
    with runtime.db.session() as session:
        due = [comp.id for comp in finalisations.ready_to_finalise(session, grace_seconds, now=now)]
    done = []
    for comp_id in due:
        try:
            with runtime.db.session() as session:
                comp = session.scalar(select(Competition)
                                      .where(Competition.id == comp_id, Competition.finalised_at.is_(None))
                                      .with_for_update())
                if comp is not None and competitions.finalise(session, comp, actor=actor):
                    done.append(comp.public_id)
        except Exception:  # one competition's trouble must not hold back the others
            log.exception("finalising competition %s failed", comp_id)
    for public_id in done:
        log.info("finalised %s", public_id)
    return done


class BackgroundJobs:
    """One process's scheduler: periodic recovery of unscored submissions and the deadline loop."""

    RECOVER_JOB, DEADLINE_JOB, NEXT_DEADLINE_JOB = "recover-submissions", "deadlines", "next-deadline"
    START_RECOVERY_JOB, CLEANUP_JOB = "recover-at-start", "clean-up"

    def __init__(self, runtime: Runtime, pool: ScoringPool, settings: JobSettings | None = None,
                 holder: str | None = None):
        self.runtime = runtime
        self.pool = pool
        self.settings = settings or runtime.settings.jobs
        self.holder = holder or leases.this_process()
        self.scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None,
        })
        self._deadline_lock = threading.Lock()

    def start(self) -> None:
        now = datetime.now(timezone.utc)
        # Every process picks up the backlog once as it starts, so that after a restart it is spread over all of
        # them; the periodic passes are the lease holder's alone.
        self.scheduler.add_job(self.pool.recover, "date", run_date=now, id=self.START_RECOVERY_JOB)
        self.scheduler.add_job(self.recover_if_leading, "interval", seconds=self.settings.recovery_seconds,
                               id=self.RECOVER_JOB)
        self.scheduler.add_job(self.run_deadlines, "interval", seconds=self.settings.deadline_scan_seconds,
                               id=self.DEADLINE_JOB, next_run_time=now)
        self.scheduler.add_job(self.clean_up_if_leading, "interval", seconds=self.settings.cleanup_seconds,
                               id=self.CLEANUP_JOB)
        self.scheduler.start()

    def leading(self) -> bool:
        """Take or renew the scheduler's lease; True when this process holds it."""
        with self.runtime.db.session() as session:
            return leases.acquire(session, DEADLINE_LEASE, self.holder, self.settings.leader_lease_seconds)

    def recover_if_leading(self) -> list[Future]:
        """A periodic recovery pass, in the lease holder only: one process looking is enough, and several would
        only race each other for the same claims."""
        try:
            if not self.leading():
                return []
        except Exception:
            log.exception("the recovery pass could not read the scheduler lease; the next one tries again")
            return []
        return self.pool.recover()

    def clean_up_if_leading(self) -> storage.CleanedUp | None:
        """A clean-up pass, in the lease holder only (the files are shared by every process); None elsewhere."""
        try:
            if not self.leading():
                return None
            done = storage.clean_up(self.runtime.db, self.runtime.settings)
        except Exception:
            log.exception("the clean-up pass failed; the next one tries again")
            return None
        if done.anything:
            log.info("clean-up: %d staged upload file(s) and %d failed upload file(s) removed", done.staged_files,
                     done.failed_files)
        return done

    def run_deadlines(self) -> list[str]:
        """One pass of the deadline loop, when this process holds (or takes) the deadline lease."""
        with self._deadline_lock:
            try:
                if not self.leading():
                    return []
                done = finalise_due(self.runtime, self.settings.finalise_grace_seconds)
                self._schedule_next_deadline()
                return done
            except Exception:
                log.exception("the deadline pass failed; the next one tries again")
                return []

    def _schedule_next_deadline(self) -> None:
        """Run a pass at the next due instant when it comes before the next regular pass, to be on time."""
        if not self.scheduler.running:
            return
        now = utcnow()
        with self.runtime.db.session() as session:
            # Overdue ones (waiting for their queue to drain) are left to the regular passes.
            later = [item.due_at for item in finalisations.upcoming(session, self.settings.finalise_grace_seconds)
                     if item.due_at > now]
        if not later:
            return
        when = later[0] + timedelta(seconds=1)
        if when - now < timedelta(seconds=self.settings.deadline_scan_seconds):
            self.scheduler.add_job(self.run_deadlines, "date", run_date=when, id=self.NEXT_DEADLINE_JOB,
                                   replace_existing=True)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        try:
            with self.runtime.db.session() as session:
                leases.release(session, DEADLINE_LEASE, self.holder)
        except Exception:
            log.exception("releasing the deadline lease failed; it expires by itself")


# --- the lifetime of a server process --------------------------------------------------------------------


def _stop_on_sigterm(signum, frame):
    # The development server stops cleanly on KeyboardInterrupt; SIGTERM (systemd, docker stop) should too.
    raise KeyboardInterrupt


class Background:
    """One process's background work, started and stopped as a unit: its scoring pool and, with `scheduler`, its
    scheduler (without one, the process only recovers once at start and then scores what it receives)."""

    def __init__(self, app, *, scheduler: bool = True):
        self.pool: ScoringPool = app.extensions["podium.scoring"]
        self.jobs = BackgroundJobs(app.extensions["podium"], self.pool) if scheduler else None

    def start(self) -> None:
        if self.jobs is not None:
            self.jobs.start()
        else:
            self.pool.recover()

    def stop(self) -> None:
        if self.jobs is not None:
            self.jobs.shutdown()
        log.info("stopping: waiting for the submissions being scored; queued ones stay queued")
        self.pool.shutdown(wait=True, cancel_pending=True)


@contextmanager
def background(app, *, scheduler: bool = True) -> Iterator[BackgroundJobs | None]:
    """Run the app's background work while the block runs (the development server's process): recovery at once,
    and with `scheduler`, the periodic recovery and the deadline loop. SIGTERM and SIGINT end the block cleanly."""
    work = Background(app, scheduler=scheduler)
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if on_main_thread else None
    try:
        work.start()
        yield work.jobs
    except KeyboardInterrupt:
        pass
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
        work.stop()
