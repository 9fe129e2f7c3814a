"""`podium run --workers N`: the web app in N gunicorn worker processes, each a whole Podium.

What runs where:
- The gunicorn master only binds the port, forks the workers and replaces any that die. It never builds the app,
  holds no database connection (`podium run` disposes of the one that ran the migrations) and starts no thread: a
  process that forks must hold neither, or a child would share the parent's database sockets and inherit locks
  held by threads that do not exist in it.
- Each worker builds its own app after the fork (`load`), with its own engine and connection pool, and then, in
  `post_worker_init`, its own background work (`podium.jobs.Background`): a scoring pool that scores the uploads
  this worker receives, at once and without any hand-off, and a small scheduler.
- The schedulers of all workers (and of every other process on the same database) compete for one database lease;
  its holder alone runs the periodic recovery and the deadline loop, so exactly one process does that work at a
  time, and another takes over when it dies. `podium jobs` names the holder.
- Workers are gthread workers: each serves `threads` requests at once, and its main thread keeps answering the
  master's heartbeat while a long upload is read, so a slow upload never gets its worker killed as hung.
"""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

DEFAULT_THREADS = 8
# Long enough for a worker to answer the requests in progress after SIGTERM (an upload being received); what it is
# scoring is stopped at once and goes back to the queue, and what it had not started stays queued.
GRACEFUL_TIMEOUT_SECONDS = 60


class PodiumServer(BaseApplication):
    """gunicorn, configured from `podium run`'s options only (no gunicorn.conf.py, no GUNICORN_CMD_ARGS)."""

    def __init__(self, host: str, port: int, workers: int, threads: int = DEFAULT_THREADS, *, scheduler: bool = True,
                 scoring: bool = True):
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "proc_name": "podium",
            # Which X-Forwarded-* headers to believe is Podium's decision alone (PODIUM_TRUST_PROXY, web/security.py):
            # gunicorn would otherwise take X-Forwarded-Proto from any local client and call the request HTTPS.
            "forwarded_allow_ips": "",
            "post_worker_init": start_background_work,
            "worker_exit": stop_background_work,
        }
        self.scheduler = scheduler
        self.scoring = scoring
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 25+ opens a control socket served by a thread of the master: a thread in the process that forks,
        # and one fixed path in $HOME that two `podium run` on a machine would fight over. Podium needs neither.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self):
        """Called in each worker after the fork: the app, its engine and its pool belong to that worker alone."""
        from podium.jobs import QueueOnly, ScoringPool
        from podium.web import create_app

        app = create_app()
        app.config["PODIUM_SCHEDULER"] = self.scheduler
        runtime = app.extensions["podium"]
        if not self.scoring:
            app.extensions["podium.scoring"] = QueueOnly()
        else:  # the pool starts no thread and no process before its first upload
            slots = runtime.settings.jobs.scoring_workers or scoring_threads_per_worker(self.cfg.workers)
            app.extensions["podium.scoring"] = ScoringPool(runtime, slots, processes=self.cfg.workers)
        return app


def scoring_threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Scoring slots in each worker: together about one per core. More only fight over the cores with the
    threads answering uploads (measured with bench/rush.py: two per worker instead of one, with 4 workers on 2
    cores, multiplied the median time to acknowledge by five and the p99 by two)."""
    return max(1, (cpus or os.cpu_count() or 1) // workers)


def start_background_work(worker) -> None:
    from podium.jobs import Background

    app = worker.wsgi
    worker.podium_background = Background.of_app(app, scheduler=app.config["PODIUM_SCHEDULER"])
    worker.podium_background.start()


def stop_background_work(_server, worker) -> None:
    """In the worker as it exits: what is being scored is stopped and goes back to the queue; what waits stays
    queued for the next start."""
    background = getattr(worker, "podium_background", None)
    if background is not None:
        background.stop()


def serve(host: str, port: int, workers: int, threads: int = DEFAULT_THREADS, *, scheduler: bool = True,
          scoring: bool = True) -> None:
    PodiumServer(host, port, workers, threads, scheduler=scheduler, scoring=scoring).run()
