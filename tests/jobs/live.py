"""A real `podium run` in a subprocess, on a free 127.0.0.1 port with its own data folder and the test's database,
and an HTTP client for the REST API's upload (standard library only).

`podium run` is a gunicorn master whose children, the workers, serve and score (with `--debug`: a reloader whose
one child does); it leads its own process group, so that the whole server can be killed at once."""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

PODIUM = [sys.executable, "-m", "podium.cli"]
WAIT = 120  # seconds: a bound for waiting, never a measure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    data_dir: Path
    log: Path
    database_url: str  # the test's `database_url`: every process of a test shares it, as a deployment's would
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    args: tuple[str, ...] = ()
    extra_env: dict = field(default_factory=dict)

    def env(self) -> dict:
        # The process's temporary files in the test's own folder (where its log is), which pytest removes: a killed
        # server cannot remove its fork servers' socket folders itself, and they would pile up in the machine's.
        temporary = self.log.parent / "tmp"
        temporary.mkdir(exist_ok=True)
        return dict(os.environ, PODIUM_DATA_DIR=str(self.data_dir), DATABASE_URL=self.database_url,
                    PYTHONUNBUFFERED="1", TMPDIR=str(temporary), **self.extra_env)

    def start(self) -> "Server":
        """Start, and return once the server answers HTTP (a gunicorn master listens before its workers serve)."""
        out = open(self.log, "ab")
        self.process = subprocess.Popen([*PODIUM, "run", "--port", str(self.port), *self.args], env=self.env(),
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"podium run exited with {self.process.returncode}:\n{self.log.read_text()}")
            if self.answers():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"podium run did not answer on {self.port}:\n{self.log.read_text()}")

    def answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def worker_pids(self) -> set[int]:
        """The processes that serve: the gunicorn workers (with `--debug`, the reloader's child)."""
        master = self.process.pid
        return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}

    def ready_to_score(self, workers: int) -> bool:
        """`workers` workers serve, and each has its scoring process running: a child of the worker's fork server,
        which loads the scoring stack first. Until then, what a worker receives waits in its queue."""
        forked = self.worker_pids()
        return len(forked) == workers and all(scoring_processes(worker) for worker in forked)

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """SIGKILL kills the whole server at once, workers included, as a crash would; any other signal goes to
        `podium run` alone, as systemd or docker sends it. Returns its exit status."""
        if sig == signal.SIGKILL:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(sig)
        return self.process.wait(WAIT)

    def stop(self) -> None:
        """Kill whatever is left of the server's process group."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(WAIT)

    def cli(self, *args: str) -> str:
        """What `podium ARGS` prints about the server's database and data folder, with its environment. The command
        runs in this process (click's runner, as the `podium_cli` fixture does): a `podium` process would take a
        second to start, and a test polls with it; the CLI itself is tested elsewhere."""
        from click.testing import CliRunner

        from podium.cli import cli
        from podium.runtime import make_runtime

        with mock.patch.dict(os.environ, self.extra_env):
            rt = make_runtime(data_dir=self.data_dir, database_url=self.database_url)
        try:
            done = CliRunner().invoke(cli, list(args), obj=rt, catch_exceptions=False)
        finally:
            rt.db.dispose()
        if done.exit_code != 0:
            raise RuntimeError(f"podium {' '.join(args)}: {done.stderr}")
        return done.stdout


def children_of(pid: int) -> list[int]:
    """The processes `pid` started, whichever of its threads started them (a scoring thread starts the fork server).
    Read from /proc: psutil reads every process of the machine to find them, and the tests ask many times a second
    while the processes they wait for start up."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread or the process ended meanwhile
            continue
    return found


def is_fork_server(pid: int) -> bool:
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def scoring_processes(pid: int) -> list[int]:
    """The scoring processes running for process `pid` and its descendants: the children of their fork servers."""
    found, look = [], [pid]
    while look:
        process = look.pop()
        children = children_of(process)
        if is_fork_server(process):
            found += children
        else:
            look += children
    return found


def pid_of(holder: str | None) -> int | None:
    """The process id in a claim or lease holder's name, `host:pid:nonce`."""
    return int(holder.split(":")[1]) if holder else None


@dataclass
class Worker(Server):
    """A real `podium worker` in a subprocess (no port), sharing the test's data folder and database."""

    def start(self) -> "Worker":
        out = open(self.log, "ab")
        self.process = subprocess.Popen([*PODIUM, "worker", *self.args], env=self.env(), stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"podium worker exited with {self.process.returncode}:\n{self.log.read_text()}")
            if "attempt(s) at once" in self.log.read_text():  # its pool and its recovery are running
                return self
            time.sleep(0.05)
        raise RuntimeError(f"podium worker did not start:\n{self.log.read_text()}")


def multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 f'Content-Type: text/csv\r\n\r\n'.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(port: int, competition: str, email: str, key: str, content: bytes, description: str = "",
           timeout: float = WAIT) -> tuple[int, dict]:
    """POST /api/competitions/<id>/submissions; (status, JSON body). Connection failures raise OSError."""
    body, content_type = multipart({"description": description}, "predictions.csv", content)
    credentials = base64.b64encode(f"{email}:{key}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", f"/api/competitions/{competition}/submissions", body=body,
                     headers={"Content-Type": content_type, "Authorization": f"Basic {credentials}"})
        response = conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else {})
    finally:
        conn.close()


def csv_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """A CSV file of numbers and plain words, with a header: the bytes a line-by-line Python join would give, written
    by pyarrow's C++ writer in a fifth of the time (the tests here write dozens of 200,000-row files)."""
    sink = io.BytesIO()
    sink.write((",".join(columns) + "\n").encode())
    pacsv.write_csv(pa.table(columns), sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def big_competition(folder: Path, rows: int, seed: int = 5) -> np.ndarray:
    """Replace the solution of a write_course competition folder by `rows` rows (10 classes, 30 % Public);
    returns the labels, ids being 0..rows-1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows)
    usage = np.where(rng.random(rows) < 0.3, "Public", "Private")
    ids = np.arange(rows)
    (folder / "solution.csv").write_bytes(csv_bytes({"id": ids, "label": labels, "Usage": usage}))
    (folder / "sample_submission.csv").write_bytes(csv_bytes({"id": ids, "label": np.zeros(rows, dtype=np.int64)}))
    return labels


def guesses(labels: np.ndarray, right_fraction: float, seed: int) -> bytes:
    """A submission right on about `right_fraction` of the rows, in shuffled order."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    guess = np.where(rng.random(n) < right_fraction, labels, (labels + 1) % 10)
    order = rng.permutation(n)
    return csv_bytes({"id": order, "label": guess[order]})
