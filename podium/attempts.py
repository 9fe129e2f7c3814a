"""Scoring attempts: one upload scored in a child process, within a time and a memory budget.

A thread that parses a runaway file (a header of millions of columns, a small gzip that inflates to one value of
190 MB) cannot be stopped, and whatever memory it takes is the server's. A process can be killed, and its memory is
its own. So a scoring pool (podium/jobs.py) hands each attempt to a `ScoringProcess`: a child that scores one file
at a time and is reused from file to file (its compiled solutions and metrics stay loaded), while the parent
watches the clock and the child's resident memory and kills it when either budget is spent, or when the pool
stops. The next attempt starts a fresh child.

Children come from a fork server that has loaded the scoring stack once, so a fresh child starts in tens of
milliseconds and holds no database connection and no thread of the parent; a child ends as soon as the process
that asked for it ends, however it ends. The parent gets plain values back (`Scored`, `Refused`), and never
imports pyarrow for them.

`score_job` is the attempt itself, run in the child, or in the calling process by commands an instructor watches
(`podium submit`, `podium rescore`, `podium score`), which Ctrl-C stops.
"""
from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Union

log = logging.getLogger(__name__)

# What every child needs, loaded once by the fork server rather than by each child.
PRELOAD = ["podium.attempts", "podium.scoring", "podium.spec", "scorers", "scorers.kaggle", "psutil"]
# How often the parent looks at a running attempt's clock and memory: a child allocating as fast as memory can be
# written gets a few hundred MB past its budget at most before it is killed.
WATCH_SECONDS = 0.025


@dataclass(frozen=True)
class ScoringJob:
    """What one attempt scores, with every path absolute: the child reads no settings and no database."""

    compiled_dir: Path
    metric: str
    source_dir: Path
    higher_is_better: bool
    file_path: Path
    file_name: str
    max_bytes: int  # the upload's limit, compressed and decompressed (PODIUM_MAX_UPLOAD_MB)


@dataclass(frozen=True)
class Budget:
    seconds: float
    memory_bytes: int

    @classmethod
    def of(cls, seconds: float, memory_mb: float) -> Budget:
        return cls(seconds, int(memory_mb * 2**20))


# --- what an attempt comes to ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    public: float
    private: float
    rows: int
    seconds: float


@dataclass(frozen=True)
class Refused:
    """The attempt ended with a message for the student: the submission fails."""

    message: str


@dataclass(frozen=True)
class Crashed:
    """The attempt ended without a result (its process died): it counts, and the submission is handed out again
    until it has used up its attempts."""

    detail: str


@dataclass(frozen=True)
class Stopped:
    """A clean shutdown stopped the attempt: it does not count, and the submission waits for the next start."""


Outcome = Union[Scored, Refused, Crashed, Stopped]
Attempt = Callable[[ScoringJob], Outcome]


def megabytes_text(size_bytes: float) -> str:
    mb = size_bytes / 2**20
    return f"{mb / 1024:.3g} GB" if mb >= 1024 else f"{mb:.0f} MB"


# Every message says what a student can check in their file: a runaway attempt almost always comes from a file
# that is not shaped like the sample submission.
CHECK_THE_FILE = ("Check that it has exactly the columns of the sample submission and one row per id, with no very "
                  "long values, then upload it again.")


def too_slow_message(budget: Budget) -> str:
    return (f"Scoring stopped: the file took more than {budget.seconds:g} s to score, far longer than a file of this "
            f"competition needs. {CHECK_THE_FILE}")


def too_large_message(budget: Budget) -> str:
    return (f"Scoring stopped: the file needed more than {megabytes_text(budget.memory_bytes)} of memory to score, "
            f"far more than a file of this competition needs. {CHECK_THE_FILE}")


def gave_up_message(stopped: int) -> str:
    return (f"Podium tried to score this file {stopped} times, and each time the scoring stopped before it finished. "
            f"{CHECK_THE_FILE} If it does, write to the course staff.")


# --- the attempt itself, in whichever process runs it ------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _open_solution(compiled_dir: Path):
    from podium import scoring

    return scoring.CompiledSolution.open(compiled_dir)


@functools.lru_cache(maxsize=32)
def _scorer(metric: str, source_dir: Path, higher_is_better: bool):
    from podium.spec import scorer_for

    return scorer_for(metric, source_dir, higher_is_better)


def forget_loaded() -> None:
    """Drop this process's loaded solutions and metrics (after a solution or metric was fixed)."""
    _open_solution.cache_clear()
    _scorer.cache_clear()


def score_file(job: ScoringJob) -> Scored:
    """Score the job's file; raises SubmissionError (the student's file) or SolutionError (the competition's)."""
    from podium import scoring

    limits = scoring.UploadLimits(max_bytes=job.max_bytes, max_decompressed_bytes=job.max_bytes)
    result = scoring.score_upload(_open_solution(job.compiled_dir), job.file_path,
                                  _scorer(job.metric, job.source_dir, job.higher_is_better), limits,
                                  original_name=job.file_name)
    return Scored(result.public, result.private, result.rows, result.seconds)


def score_job(job: ScoringJob) -> Scored | Refused:
    """The scores, or the message that tells the student what is wrong with the file."""
    from podium import scoring

    try:
        return score_file(job)
    except scoring.SubmissionError as exc:
        return Refused(str(exc))
    except scoring.SolutionError as exc:  # the instructor's side, not the student's file
        log.error("the solution or metric of %s failed on %s: %s", job.compiled_dir, job.file_path, exc)
        return Refused("This file could not be scored because of a problem on the competition's side; the course "
                       "staff have been told.")
    except Exception as exc:  # the student still gets an answer; staff get the details in the log
        log.exception("scoring %s failed unexpectedly", job.file_path)
        return Refused(f"Podium could not score this file ({type(exc).__name__}); the course staff have been told.")


# --- the child process -------------------------------------------------------------------------------------


@functools.cache
def _context() -> multiprocessing.context.BaseContext:
    """A fork server where the system has one (a fresh child in milliseconds), else a fresh interpreter per child.
    Either way a child shares no database connection, lock or thread with the process that asked for it."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _exit_with_parent(lifeline) -> None:
    """End this child as soon as the process that asked for it ends, even killed with SIGKILL in the middle of a
    runaway attempt. Its parent in the process tree is the fork server, which outlives it (it waits for all its
    children); so the asking process holds the only write end of a pipe that nobody writes to, and its end closing
    (the process exited, however) is the signal."""
    def watch() -> None:
        wait([lifeline])
        os._exit(1)

    threading.Thread(target=watch, name="podium-lifeline", daemon=True).start()


def _serve(conn, lifeline, nice: int) -> None:
    """The child: score each job the parent sends, until the parent closes the pipe or ends."""
    _exit_with_parent(lifeline)
    # Ctrl-C reaches the whole process group: the parent stops its children itself. SIGTERM still ends a child (a
    # service manager stopping everything, the interpreter's exit), and the parent counts that as a clean stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice > 0:
        try:
            os.nice(nice)
        except OSError:
            pass
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(score_job(job))


class ScoringProcess:
    """One child process that scores one job at a time within a budget; killed when an attempt overruns it or the
    pool stops, and started again for the next job. Used by one thread at a time."""

    def __init__(self, nice: int = 0):
        self.nice = nice
        self._process = None
        self._conn = None
        self._lifeline = None
        self._watched = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child now, if it is not running, rather than at the first job (which then waits for it)."""
        if self._process is not None and not self._process.is_alive():  # ended while idle: not a job's doing
            self.close()
        if self._process is None:
            self._start()

    def _start(self) -> None:
        import psutil

        context = _context()
        ours, theirs = context.Pipe()
        lifeline, kept = context.Pipe(duplex=False)
        process = context.Process(target=_serve, args=(theirs, lifeline, self.nice), name="podium-scoring",
                                  daemon=True)
        process.start()
        theirs.close()
        lifeline.close()
        self._process, self._conn, self._lifeline = process, ours, kept
        self._watched = psutil.Process(process.pid)

    def run(self, job: ScoringJob, budget: Budget, stop: threading.Event) -> Outcome:
        """Score `job` in the child; kill the child when `budget` is spent or `stop` is set."""
        self.start()
        try:
            self._conn.send(job)
        except (OSError, ValueError):  # the child is gone since its last job
            self.close()
            return Crashed("the scoring process had ended")
        started = time.monotonic()
        while True:
            ready = wait([self._conn, self._process.sentinel], WATCH_SECONDS)
            if self._conn in ready:
                try:
                    return self._conn.recv()
                except (EOFError, OSError):
                    return self._ended()
            if self._process.sentinel in ready:
                return self._ended()
            if stop.is_set():
                self.close()
                return Stopped()
            if self._resident() > budget.memory_bytes:
                self.close()
                return Refused(too_large_message(budget))
            if time.monotonic() - started > budget.seconds:
                self.close()
                return Refused(too_slow_message(budget))

    def _resident(self) -> int:
        import psutil

        try:
            return self._watched.memory_info().rss
        except psutil.Error:  # it died in between: the next look at its sentinel says so
            return 0

    def _ended(self) -> Crashed | Stopped:
        self._process.join(1)
        code = self._process.exitcode
        self.close()
        if code == -signal.SIGTERM:  # asked to stop, as a whole service is: not the file's doing
            return Stopped()
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        log.warning("a scoring process ended in the middle of an attempt (%s)", how)
        return Crashed(f"the scoring process ended ({how})")

    def close(self) -> None:
        """Kill the child (whatever it is doing) and forget it; the next `run` starts another."""
        process, connections = self._process, (self._conn, self._lifeline)
        self._process = self._conn = self._lifeline = self._watched = None
        if process is not None:
            if process.exitcode is None:
                process.kill()
            process.join(5)
        for connection in connections:
            if connection is not None:
                connection.close()
