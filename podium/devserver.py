"""`podium run --debug`: Werkzeug's development server with Flask's debugger and reloader, for working on Podium.

Werkzeug's reloader serves from a child process, which it starts again whenever a source file changes. Werkzeug's
own parent process kills that child with SIGKILL when it is sent SIGTERM or Ctrl-C, which would cut off the uploads
being scored and leave the scheduler's lease held; so here Podium is the parent. It binds the port once (each child
serves on that same socket), passes SIGTERM on to the child and waits for it, and leaves Ctrl-C to reach the child
from the terminal. The child runs Werkzeug's server and reloader, and the background work: only the serving process
scores and schedules.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

from podium.config import environment_for_child

if TYPE_CHECKING:
    from podium.runtime import Runtime

RESTART_STATUS = 3  # the exit status with which Werkzeug's reloader asks to be started again


def serve_for_development(rt: Runtime, host: str, port: int, *, scheduler: bool, scoring: bool = True) -> int:
    """Serve until stopped; returns the exit status."""
    from werkzeug.serving import is_running_from_reloader

    if is_running_from_reloader():
        serve_and_watch(rt, host, port, scheduler=scheduler, scoring=scoring)
        return 0
    rt.db.dispose()  # the parent only starts children: it needs no connection
    return restart_on_changes(host, port)


def serve_and_watch(rt: Runtime, host: str, port: int, *, scheduler: bool, scoring: bool = True) -> None:
    """The child: serve with the debugger on the parent's socket, and exit when a source file changes."""
    from werkzeug.serving import run_simple

    from podium.jobs import QueueOnly, background
    from podium.web import create_app

    app = create_app(runtime=rt)
    if not scoring:  # `podium worker` processes score the uploads
        app.extensions["podium.scoring"] = QueueOnly()
    app.debug = True  # Flask's debug mode: tracebacks in the browser, templates read again when they change
    with background(app, scheduler=scheduler):
        run_simple(host, port, app, threaded=True, use_reloader=True, use_debugger=True)


class Children:
    """The parent's one child at a time, and whether SIGTERM asked the parent to stop."""

    def __init__(self):
        self.current: subprocess.Popen | None = None
        self.stopping = False

    def pass_sigterm_on(self, _signum, _frame) -> None:
        self.stopping = True
        if self.current is not None:
            self.current.send_signal(signal.SIGTERM)


def restart_on_changes(host: str, port: int) -> int:
    """The parent: start the serving child, and start it again each time it exits to reload."""
    from werkzeug.serving import select_address_family

    listener = socket.create_server((host, port), family=select_address_family(host, port))
    env = environment_for_child(WERKZEUG_RUN_MAIN="true", WERKZEUG_SERVER_FD=str(listener.fileno()))
    children = Children()
    signal.signal(signal.SIGTERM, children.pass_sigterm_on)
    # Ctrl-C reaches the child from the terminal; a handler, rather than ignoring the signal, lets the child, whose
    # handlers start afresh, turn it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    while True:
        children.current = subprocess.Popen([sys.executable, *sys.orig_argv[1:]], env=env,
                                            pass_fds=(listener.fileno(),))
        if children.stopping:  # SIGTERM came while the child was being started
            children.current.send_signal(signal.SIGTERM)
        status = children.current.wait()
        if children.stopping:
            return 0
        if status != RESTART_STATUS:
            return status if status >= 0 else 128 - status  # killed by a signal: as a shell reports it
