"""Long staff actions that a page starts and then follows: rescoring a competition after a new solution.

One rescore per competition at a time, in a background thread; the page polls `progress`. The work itself is
`services.submissions.rescore_competition`, the same as `podium rescore`, with each file scored in a scoring
process within the attempt's budget, as the scoring pool does: a runaway file must not take the web process's
memory, or hold it forever.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from podium.attempts import Budget, ScoringProcess
from podium.runtime import Runtime
from podium.services import submissions

log = logging.getLogger(__name__)


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    running: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict:
        return {"done": self.done, "total": self.total, "running": self.running, "counts": self.counts,
                "error": self.error}


class Rescores:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._progress: dict[int, Progress] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, comp_id: int, actor: str, *, regrade: bool = False) -> bool:
        """Start rescoring (of a finalised or released competition: as a regrade, asked for); False when one is
        already running for this competition."""
        with self._lock:
            current = self._progress.get(comp_id)
            if current is not None and current.running:
                return False
            progress = self._progress[comp_id] = Progress(running=True)
            thread = threading.Thread(target=self._run, args=(comp_id, actor, progress, regrade), daemon=True,
                                      name=f"podium-rescore-{comp_id}")
            self._threads[comp_id] = thread
        thread.start()
        return True

    def _run(self, comp_id: int, actor: str, progress: Progress, regrade: bool) -> None:
        def step(step: submissions.RescoreStep) -> None:
            progress.done, progress.total = step.done, step.total

        jobs = self.runtime.settings.jobs
        process, budget, never = ScoringProcess(jobs.scoring_nice), Budget.of(jobs.scoring_seconds,
                                                                               jobs.scoring_memory_mb), threading.Event()
        try:
            progress.counts = submissions.rescore_competition(self.runtime.db, self.runtime.settings, comp_id,
                                                              actor=actor, progress=step, regrade=regrade,
                                                              attempt=lambda job: process.run(job, budget, never))
        except Exception as exc:  # the page says it failed; the log has the details
            log.exception("rescoring competition %s failed", comp_id)
            progress.error = f"Rescoring stopped: {type(exc).__name__}: {exc}"
        finally:
            process.close()
            progress.running = False

    def progress(self, comp_id: int) -> Progress | None:
        return self._progress.get(comp_id)

    def wait(self, comp_id: int, timeout: float | None = None) -> None:
        thread = self._threads.get(comp_id)
        if thread is not None:
            thread.join(timeout)


@dataclass
class ReportProgress:
    """Where the computing of a competition's integrity report is."""

    step: str = "Starting"
    done: int = 0
    total: int = 0
    running: bool = False
    error: str | None = None

    def as_dict(self) -> dict:
        return {"step": self.step, "done": self.done, "total": self.total, "running": self.running,
                "error": self.error}


class IntegrityReports:
    """One integrity report computed per competition at a time, in a background thread: tens of seconds for a
    large class, never inside a request (`services.integrity.build`, which keeps the report on disk)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._progress: dict[int, ReportProgress] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, comp_id: int) -> bool:
        """Start computing the report; False when one is already being computed for this competition."""
        with self._lock:
            current = self._progress.get(comp_id)
            if current is not None and current.running:
                return False
            progress = self._progress[comp_id] = ReportProgress(running=True)
            thread = threading.Thread(target=self._run, args=(comp_id, progress), daemon=True,
                                      name=f"podium-integrity-{comp_id}")
            self._threads[comp_id] = thread
        thread.start()
        return True

    def _run(self, comp_id: int, progress: ReportProgress) -> None:
        from podium.services import integrity

        def step(what: str, done: int, total: int) -> None:
            progress.step, progress.done, progress.total = what, done, total

        try:
            integrity.build(self.runtime.db, self.runtime.settings, comp_id, progress=step)
        except Exception as exc:  # the page says it failed; the log has the details
            log.exception("the integrity report of competition %s failed", comp_id)
            progress.error = f"The report could not be computed: {type(exc).__name__}: {exc}"
        finally:
            progress.running = False

    def progress(self, comp_id: int) -> ReportProgress | None:
        return self._progress.get(comp_id)

    def wait(self, comp_id: int, timeout: float | None = None) -> None:
        thread = self._threads.get(comp_id)
        if thread is not None:
            thread.join(timeout)
