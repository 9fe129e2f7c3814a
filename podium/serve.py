"""`podium run`: the web app in N gunicorn worker processes (2 unless `--workers` says), each a whole Podium.

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
  master's heartbeat while a long upload is read, so a slow upload never gets its worker killed as hung. Podium's
  own subclass (podium/slow_clients.py) reads request heads in that main thread and times out slow clients, so
  that slow or stalled connections never take all the threads.
- SIGTERM to the master (systemd, docker stop) stops the whole server about a second after
  GRACEFUL_TIMEOUT_SECONDS at most.
"""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from podium.config import DEFAULT_SERVER_THREADS, DEFAULT_SERVER_WORKERS, ClientLimits
from podium.slow_clients import PodiumWorker, WholeBodiesFirst

# After SIGTERM, a worker answers the requests under way for two thirds of this time, cuts off any still running
# (podium/slow_clients.py), and finishes what it is scoring (a 2,000,000-row upload takes about a second) in the
# rest; then the master kills whatever is left, and exits about a second later (a Python process with the app
# loaded needs that long to exit). So a stop takes about 7 s at most, inside the 10 s that `docker stop` waits before
# it kills. Behind a proxy that buffers uploads a request takes well under a second; a submission cut off while
# being scored goes back to the queue for the next start.
GRACEFUL_TIMEOUT_SECONDS = 6
# A worker whose main thread has not reported for this long is hung, and replaced. The main thread only runs the
# event loop (requests are served by the other threads), so this never cuts off a long request.
HEARTBEAT_TIMEOUT_SECONDS = 30
# An idle kept-alive connection waits in the event loop, holding no thread, for its next request this long.
KEEPALIVE_SECONDS = 5
# Connections a worker holds at once, idle or waiting for their request head included (gunicorn's default): each
# costs a file descriptor, so the open-files limit (`ulimit -n`) must stay above it.
WORKER_CONNECTIONS = 1000


class PodiumServer(BaseApplication):
    """gunicorn, configured from `podium run`'s options only (no gunicorn.conf.py, no GUNICORN_CMD_ARGS)."""

    def __init__(self, host: str, port: int, workers: int = DEFAULT_SERVER_WORKERS,
                 threads: int = DEFAULT_SERVER_THREADS, *, scheduler: bool = True, scoring: bool = True,
                 client_limits: ClientLimits = ClientLimits()):
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "worker_class": PodiumWorker,
            "threads": threads,
            "worker_connections": WORKER_CONNECTIONS,
            "timeout": HEARTBEAT_TIMEOUT_SECONDS,
            "keepalive": KEEPALIVE_SECONDS,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "proc_name": "podium",
            # Which X-Forwarded-* headers to believe is Podium's decision alone (PODIUM_TRUST_PROXY, web/security.py):
            # gunicorn would otherwise take X-Forwarded-Proto from any local client and call the request HTTPS.
            "forwarded_allow_ips": "",
            "post_worker_init": start_background_work,
            "worker_exit": stop_background_work,
        }
        self.scheduler = scheduler
        self.client_limits = client_limits  # read by each PodiumWorker
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
        app.wsgi_app = WholeBodiesFirst(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
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


def serve(host: str, port: int, workers: int = DEFAULT_SERVER_WORKERS, threads: int = DEFAULT_SERVER_THREADS, *,
          scheduler: bool = True, scoring: bool = True, client_limits: ClientLimits = ClientLimits()) -> None:
    PodiumServer(host, port, workers, threads, scheduler=scheduler, scoring=scoring, client_limits=client_limits).run()
