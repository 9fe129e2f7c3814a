"""Background work: scoring uploads outside the request that received them, recovery, and deadline events.

- `ScoringPool` scores received submissions a few at a time, oldest first but taking turns between students,
  each attempt in a child process that is killed when it overruns its time or memory budget (podium.attempts).
  Each claim is a lease in the database (`services.submissions.claim`): the pool renews the leases of what it is
  scoring, and a result is written only while its claim still holds, so each submission is scored exactly once
  however many processes share the database. Every claim counts as an attempt unless a clean shutdown gives it
  back; a submission whose attempts keep ending without a result fails with a message.
- `BackgroundJobs` is one process's APScheduler: it recovers unscored submissions at start and every
  `recovery_seconds` (queued ones, and those whose claim lapsed), finalises each competition once its late
  deadline plus a grace has passed (releasing its board when it is set to and the release rule allows: a release
  that waits for uploads to be scored is done by a later pass), and every `cleanup_seconds` deletes the files
  nobody needs any more (services.storage: Kaggle CLI uploads never handed in, failed uploads past their keeping time). Every process
  recovers once when it starts; after that, the periodic recovery, the deadline loop and the clean-up run in one
  process at a time, the holder of the database lease `DEADLINE_LEASE` (any process with a scheduler may take it
  over when it lapses). Due competitions are read from the database on every pass, so a restart never misses one.
- `Background` is one process's whole background work, started and stopped as a unit: by `background(app)`
  around the development server and by `run_worker` (`podium worker`), which also turn SIGTERM into a clean stop,
  and by the hooks of each gunicorn worker (podium/serve.py). Stopping shuts the scheduler and the pool down at
  once: attempts running are killed and given back uncounted, queued uploads stay queued, for the next start.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from podium.attempts import Budget, ScoringProcess
from podium.config import JobSettings
from podium.models import Competition, Status, utcnow
from podium.rules.queue import FairQueue, Waiting
from podium.runtime import Runtime
from podium.services import competitions, finalisations, leases, notifications, outbox, storage, submissions

log = logging.getLogger(__name__)

DEADLINE_LEASE = finalisations.DEADLINE_LEASE
SCHEDULER_ACTOR = "scheduler"


# --- scoring ---------------------------------------------------------------------------------------------


class ScoringPool:
    """Scores received submissions, at most `slots` at a time, each attempt in a child process within its budget
    (podium.attempts), taken in the order of the queue's turn rule (podium.rules.queue). `submit(id)` returns a
    Future of the stored Submission (None when another worker had it).

    Each slot is a thread of this process that claims a submission, hands the file to its own child process and
    stores the outcome: the database work stays here, the parsing and its memory in the child. Threads and
    children start with `start()` (a server's background work calls it as the server starts, so that the first
    uploads do not wait for the scoring stack to load), or else with the first upload; a process that never
    scores (a test app, `podium run --no-scoring`) starts neither.
    """

    def __init__(self, runtime: Runtime, workers: int | None = None, *, lease_seconds: float | None = None,
                 processes: int = 1):
        self.runtime = runtime
        self.worker = leases.this_process()
        settings = runtime.settings.jobs
        self.lease_seconds = lease_seconds or settings.lease_seconds
        # `processes`: how many Podium processes of this machine share its memory (gunicorn's workers).
        self.slots = settings.attempts_at_once(workers or settings.workers, processes)
        self.budget = Budget.of(settings.scoring_seconds, settings.scoring_memory_mb)
        self.nice = settings.scoring_nice
        self._lock = threading.Condition()
        self._queue = FairQueue()
        self._inflight: dict[int, Future] = {}
        self._threads: list[threading.Thread] = []
        self._processes: list[ScoringProcess] = []
        self._closed = False  # no new work: shutting down
        self._stop = threading.Event()  # running attempts are stopped and given back
        self._renewer: threading.Thread | None = None

    def submit(self, submission_id: int, student: int | None = None) -> Future:
        with self._lock:
            future = self._inflight.get(submission_id)
            if future is not None:  # already here (e.g. found again by recovery)
                return future
            if self._closed:  # stopping: it stays queued in the database for the next start
                future = Future()
                future.set_result(None)
                return future
        if student is None:
            with self.runtime.db.session() as session:
                student = submissions.student_of(session, submission_id)
        with self._lock:
            future = self._inflight.get(submission_id)
            if future is None:
                future = self._inflight[submission_id] = Future()
                self._queue.add(Waiting(submission_id, student))
                self._start_threads()
                self._lock.notify()
        return future

    def start(self) -> None:
        """Start the slots and their scoring processes now, ahead of the first upload."""
        with self._lock:
            self._start_threads()

    def _start_threads(self) -> None:
        if self._threads or self._closed:
            return
        for n in range(self.slots):
            thread = threading.Thread(target=self._serve_slot, name=f"podium-scoring-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._renewer = threading.Thread(target=self._renew_loop, name="podium-lease-renewer", daemon=True)
        self._renewer.start()

    def _next(self) -> Waiting | None:
        """The next upload to score, waiting for one; None once the pool stops (or, closed, has nothing left)."""
        with self._lock:
            while True:
                if self._stop.is_set():
                    return None
                if self._queue:
                    return self._queue.take()
                if self._closed:
                    return None
                self._lock.wait()

    def _serve_slot(self) -> None:
        process = ScoringProcess(self.nice)
        with self._lock:
            self._processes.append(process)
        try:
            try:
                process.start()
            except Exception:  # the first attempt tries again, and its failure is handled there
                log.exception("could not start a scoring process")
            while (item := self._next()) is not None:
                self._run(item, process)
        finally:
            process.close()

    def _run(self, item: Waiting, process: ScoringProcess) -> None:
        future = self._inflight[item.order]
        result = None
        try:
            if future.set_running_or_notify_cancel():
                try:
                    result = self._score(item.order, process)
                    future.set_result(result)
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            with self._lock:
                self._queue.done(item)
                if self._inflight.get(item.order) is future:
                    del self._inflight[item.order]
                self._lock.notify_all()
        if result is not None and result.status == Status.queued and not self._stop.is_set():
            self.submit(item.order, item.student)  # the attempt ended without a result: try again, counted

    def _score(self, submission_id: int, process: ScoringProcess):
        def attempt(job):
            return process.run(job, self.budget, self._stop)

        try:
            return submissions.score(self.runtime.db, self.runtime.settings, submission_id, worker=self.worker,
                                     lease_seconds=self.lease_seconds, attempt=attempt)
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
                waiting = submissions.pending(session)
        except Exception:  # a busy or unreachable database: the next pass tries again
            log.exception("recovery could not read the pending submissions")
            return []
        fresh = [item for item in waiting if item.order not in self._inflight]
        if fresh:
            log.info("recovering %d unscored submission(s)", len(fresh))
        return [self.submit(item.order, item.student) for item in waiting]

    def process_ids(self) -> list[int]:
        """The scoring processes running now (each slot starts its own at its first attempt)."""
        with self._lock:
            return [pid for pid in (process.pid for process in self._processes) if pid is not None]

    def pending(self) -> list[int]:
        """The submissions this pool holds: waiting for a slot or being scored."""
        with self._lock:
            return sorted(self._inflight)

    def renew_leases(self) -> int:
        """Extend the claims on everything this pool holds, so a long scoring is never taken over."""
        ids = self.pending()
        if not ids:
            return 0
        with self.runtime.db.session() as session:
            return submissions.renew(session, ids, self.worker, self.lease_seconds)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self.renew_leases()
            except Exception:
                log.exception("renewing scoring leases failed")

    def shutdown(self, wait: bool = True, *, cancel_pending: bool = False) -> None:
        """Stop taking work. With `cancel_pending` (a clean stop), the attempts running are stopped (their child
        processes killed) and their submissions given back uncounted, and those waiting stay queued in the
        database for the next start; without it, everything in hand is scored first."""
        with self._lock:
            self._closed = True
            if cancel_pending:
                self._stop.set()
                for item in self._queue.drain():
                    self._inflight.pop(item.order).cancel()
            self._lock.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()
        self._stop.set()


# --- deadline events -------------------------------------------------------------------------------------


def finalise_due(runtime: Runtime, grace_seconds: float | None = None, *, now: datetime | None = None,
                 actor: str = SCHEDULER_ACTOR) -> list[str]:
    """Finalise every competition whose time has come (finalisations.due_at); returns their public ids.

    Each competition is finalised in its own transaction that locks its row and checks `finalised_at` again,
    so a competition is finalised once even when two processes get here together. One whose position cutoffs give
    no values on its final board is not finalised: the reason is recorded for staff once (the Jobs page, `podium
    jobs`, the audit log), and later passes try again quietly, since staff may change the cutoffs.
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
                if comp is not None and competitions.finalise(session, comp, actor=actor, now=now):
                    done.append(comp.public_id)
        except competitions.CutoffsGiveNoValues as refused:
            _hold(runtime, comp_id, refused.message, actor)
        except Exception:  # one competition's trouble must not hold back the others
            log.exception("finalising competition %s failed", comp_id)
    for public_id in done:
        log.info("finalised %s", public_id)
    return done


def _hold(runtime: Runtime, comp_id: int, reason: str, actor: str) -> None:
    try:
        with runtime.db.session() as session:
            comp = session.get(Competition, comp_id)
            if comp is not None and competitions.hold_finalisation(session, comp, reason, actor):
                log.warning("not finalised: %s", reason)
    except Exception:  # the next pass finds it again
        log.exception("could not record why competition %s was not finalised", comp_id)


def release_waiting(runtime: Runtime, *, now: datetime | None = None, actor: str = SCHEDULER_ACTOR) -> list[str]:
    """Release every finalised competition set to release by itself whose release waited (uploads unscored at
    finalisation) and that the release rule now allows; returns their public ids. Never an override: one still
    waiting stays listed in the jobs report."""
    with runtime.db.session() as session:
        waiting = [item.competition_id for item in finalisations.waiting_releases(session, now=now)]
    done = []
    for comp_id in waiting:
        try:
            with runtime.db.session() as session:
                comp = session.get(Competition, comp_id)
                if comp is not None and competitions.release_waiting(session, comp, actor, now=now):
                    done.append(comp.public_id)
        except Exception:  # one competition's trouble must not hold back the others
            log.exception("releasing competition %s failed", comp_id)
    for public_id in done:
        log.info("released %s, which waited for its uploads to be scored", public_id)
    return done


class BackgroundJobs:
    """One process's scheduler: periodic recovery of unscored submissions and the deadline loop."""

    RECOVER_JOB, DEADLINE_JOB, NEXT_DEADLINE_JOB = "recover-submissions", "deadlines", "next-deadline"
    START_RECOVERY_JOB, CLEANUP_JOB, MAIL_JOB = "recover-at-start", "clean-up", "send-mail"
    REMINDER_JOB = "deadline-reminders"
    ROSTER_JOB = "lti-rosters"
    LTI_GRADES_JOB = "lti-grades"

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
        self.scheduler.add_job(self.send_mail_if_leading, "interval", seconds=self.settings.mail_seconds,
                               id=self.MAIL_JOB, next_run_time=now)
        self.scheduler.add_job(self.remind_if_leading, "interval", seconds=self.settings.reminder_seconds,
                               id=self.REMINDER_JOB, next_run_time=now)
        self.scheduler.add_job(self.sync_rosters_if_leading, "interval", seconds=self.settings.lti_sync_seconds,
                               id=self.ROSTER_JOB, next_run_time=now)
        self.scheduler.add_job(self.push_grades_if_leading, "interval", seconds=self.settings.lti_push_seconds,
                               id=self.LTI_GRADES_JOB, next_run_time=now)
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
            log.info("clean-up: %d staged upload file(s), %d failed upload file(s) and %d expired LTI launch "
                     "value(s) removed", done.staged_files, done.failed_files, done.launch_values)
        return done

    def send_mail_if_leading(self, now: datetime | None = None) -> outbox.SendReport | None:
        """A pass over the outbox, in the lease holder only: one sender keeps the mail server's load even. `now`
        is the scheduler's clock (a test moves it past a back-off)."""
        try:
            if not self.leading():
                return None
            done = outbox.send_due(self.runtime.db, attempts=self.settings.mail_attempts, worker=self.holder,
                                   now=now)
        except Exception:
            log.exception("the mail pass failed; the next one tries again")
            return None
        if done.anything:
            log.info("mail: %d sent, %d to retry, %d given up, %d expired", len(done.sent), len(done.retrying),
                     len(done.failed), len(done.expired))
        return done

    def remind_if_leading(self) -> int | None:
        """A pass writing the deadline reminders that are due, in the lease holder only (each reminder is written
        once whoever writes it; one process looking is enough); None elsewhere."""
        try:
            if not self.leading():
                return None
            with self.runtime.db.session() as session:
                written = notifications.send_due_reminders(session)
        except Exception:
            log.exception("the reminder pass failed; the next one tries again")
            return None
        if written:
            log.info("reminders: %d deadline reminder(s) written to the outbox", written)
        return written

    def sync_rosters_if_leading(self, now: datetime | None = None) -> list | None:
        """A pass syncing the rosters of the courses linked to an LMS that are due (podium.services.lti_roster),
        in the lease holder only; None elsewhere."""
        from podium.services import lti, lti_roster  # the LTI stack: loaded by the first pass, not at start

        try:
            if not self.leading():
                return None
            if not lti_roster.due_courses(self.runtime.db, self.runtime.settings, now):
                return []  # no tool (nor its key) is made where no course is linked
            reports = lti_roster.sync_due(self.runtime.db, self.runtime.settings,
                                          lti.tool(self.runtime.settings, self.runtime.db), now=now)
        except Exception:
            log.exception("the LMS roster pass failed; the next one tries again")
            return None
        for report in reports:
            if report.changes or report.errors:
                log.info("LMS roster of %s: %d change(s)%s", report.course, report.changes,
                         "".join(f"; {error}" for error in report.errors))
        return reports

    def push_grades_if_leading(self, now: datetime | None = None):
        """A pass sending released grades to the linked LMS gradebooks (podium.services.lti_grades), in the lease
        holder only: queue what leaves Podium and changed, then send what is due; its SendReport, None elsewhere."""
        from podium.services import lti, lti_grades  # the LTI stack: loaded by the first pass, not at start

        try:
            if not self.leading():
                return None
            lti_grades.queue_due(self.runtime.db, now=now)
            if not lti_grades.anything_due(self.runtime.db, now=now):
                return lti_grades.SendReport()  # and no tool (its key pair) made where LTI is not used
            done = lti_grades.send_due(self.runtime.db, lti.tool(self.runtime.settings, self.runtime.db),
                                       attempts=self.settings.lti_push_attempts, worker=self.holder, now=now)
        except Exception:
            log.exception("the LMS grades pass failed; the next one tries again")
            return None
        if done.anything:
            log.info("LMS grades: %d sent, %d to retry, %d failed", len(done.sent), len(done.retrying),
                     len(done.failed))
        return done

    def run_deadlines(self) -> list[str]:
        """One pass of the deadline loop, when this process holds (or takes) the deadline lease."""
        with self._deadline_lock:
            try:
                if not self.leading():
                    return []
                done = finalise_due(self.runtime, self.settings.finalise_grace_seconds)
                release_waiting(self.runtime)
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


class QueueOnly:
    """The scoring side of a process that leaves scoring to others (`podium run --no-scoring`): uploads stay
    queued for a `podium worker`, which scores them."""

    def start(self) -> None:
        pass

    def submit(self, submission_id: int, student: int | None = None) -> Future:
        future = Future()
        future.set_result(None)
        return future

    def recover(self) -> list[Future]:
        return []

    def pending(self) -> list[int]:
        return []

    def shutdown(self, wait: bool = True, *, cancel_pending: bool = False) -> None:
        pass


class Background:
    """One process's background work, started and stopped as a unit: its scoring pool and, with `scheduler`, its
    scheduler (without one, the process only recovers once at start and then scores what it receives). With
    `poll_seconds` (`podium worker`, which receives no uploads), it also looks for queued uploads that often."""

    def __init__(self, runtime: Runtime, pool: ScoringPool | QueueOnly, *, scheduler: bool = True,
                 poll_seconds: float | None = None):
        self.pool = pool
        self.jobs = BackgroundJobs(runtime, pool) if scheduler else None
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @classmethod
    def of_app(cls, app, *, scheduler: bool = True) -> Background:
        return cls(app.extensions["podium"], app.extensions["podium.scoring"], scheduler=scheduler)

    def start(self) -> None:
        self.pool.start()
        if self.jobs is not None:
            self.jobs.start()
        else:
            self.pool.recover()
        if self.poll_seconds:
            self._poller = threading.Thread(target=self._poll, name="podium-queue-poller", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.pool.recover()

    def stop(self) -> None:
        """Stop promptly: the scheduler gives its lease up, running attempts are stopped and given back uncounted,
        and what waits stays queued for the next start."""
        self._stop.set()
        if self.jobs is not None:
            self.jobs.shutdown()
        log.info("stopping: the submissions being scored go back to the queue, uncounted")
        self.pool.shutdown(wait=True, cancel_pending=True)
        log.info("background work stopped")


@contextmanager
def running(work: Background) -> Iterator[Background]:
    """Run `work` while the block runs, in the main thread of a process of its own (the development server,
    `podium worker`); SIGTERM and SIGINT end the block cleanly."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if on_main_thread else None
    try:
        work.start()
        yield work
    except KeyboardInterrupt:
        pass
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
        work.stop()


@contextmanager
def background(app, *, scheduler: bool = True) -> Iterator[BackgroundJobs | None]:
    """Run the app's background work while the block runs (the development server's process): recovery at once,
    and with `scheduler`, the periodic recovery and the deadline loop. SIGTERM and SIGINT end the block cleanly."""
    with running(Background.of_app(app, scheduler=scheduler)) as work:
        yield work.jobs


def run_worker(runtime: Runtime, slots: int | None = None, *, scheduler: bool = True) -> None:
    """`podium worker`: score queued submissions, without serving HTTP, until SIGTERM or SIGINT."""
    pool = ScoringPool(runtime, slots)
    work = Background(runtime, pool, scheduler=scheduler, poll_seconds=runtime.settings.jobs.queue_poll_seconds)
    with running(work):
        log.info("scoring worker %s: %d attempt(s) at once", pool.worker, pool.slots)
        while True:  # until a signal ends the block
            time.sleep(60)
