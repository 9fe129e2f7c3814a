"""API benchmark: from the end of an HTTP upload of the HW1P2-sized file to its scores being stored.

    .venv/bin/python bench/api.py [--rows N] [--runs K]

A fresh data folder gets a one-competition course whose solution is bench/scoring.py's HW1P2 case (2,000,000
rows, accuracy; generated once with a fixed seed under bench/.data/), a student and an API key. `podium run`
serves it on a free 127.0.0.1 port. Each run POSTs the upload to /api/competitions/<id>/submissions (multipart,
HTTP Basic) and times from the moment the last byte of the request is sent to the moment the submission's row
reads `scored` in the database (polled every 2 ms by this process, which reads SQLite without blocking the
server). One warm-up upload comes first (the server opens the compiled solution once and keeps it), then the
median of K runs is printed with the target. The reference, measured in the same run, is the dry-run scoring
of the same file in-process (`podium score`'s path, median of 5): the ratio shows what the HTTP upload, the
durable receive and the background hand-off add to the scoring itself.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import free_port, multipart, write_hw1p2_course  # noqa: E402  (bench/course.py)
from scoring import make_hw1p2  # noqa: E402  (bench/scoring.py: the shared HW1P2 data)

TARGET_SECONDS = 1.5
PODIUM = [sys.executable, "-m", "podium.cli"]
COMPETITION = "bench-hw1p2"
EMAIL = "student@bench.example"


def write_course(root: Path, solution: Path) -> Path:
    now = datetime.now(timezone.utc)
    return write_hw1p2_course(root, solution, slug="bench", title="API benchmark", opens=now - timedelta(days=1),
                              ontime=now + timedelta(days=7), late=now + timedelta(days=14), daily_limit=1000)


def podium(env: dict, *args: str) -> str:
    done = subprocess.run([*PODIUM, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"podium {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def start_server(env: dict, port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen([*PODIUM, "run", "--port", str(port)], env=env, stdout=open(log, "wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"podium run exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    os.killpg(server.pid, signal.SIGKILL)  # the gunicorn master and its workers
    raise SystemExit("podium run did not start listening")


def upload_and_wait(port: int, key: str, content: bytes, database: Path, n: int) -> float:
    """Seconds from the last byte sent to the row reading `scored`."""
    body, content_type = multipart(content, f"bench run {n}")
    credentials = base64.b64encode(f"{EMAIL}:{key}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest("POST", f"/api/competitions/{COMPETITION}/submissions")
    for name, value in (("Content-Type", content_type), ("Content-Length", str(len(body))),
                        ("Authorization", f"Basic {credentials}")):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body)
    sent = time.perf_counter()
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    if response.status != 202:
        raise SystemExit(f"upload refused: {response.status} {answer}")
    reader = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        while True:
            status, error = reader.execute("SELECT status, error FROM submissions WHERE id = ?",
                                           (answer["id"],)).fetchone()
            if status == "scored":
                return time.perf_counter() - sent
            if status == "failed":
                raise SystemExit(f"the upload failed to score: {error}")
            time.sleep(0.002)
    finally:
        reader.close()


def dry_run_seconds(data_dir: Path, upload: Path, repeats: int = 5) -> float:
    from podium.runtime import make_runtime
    from podium.services import courses, submissions

    rt = make_runtime(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'podium.db'}")
    try:
        with rt.db.session() as session:
            comp = courses.get_competition(session, COMPETITION)
        submissions.dry_run(rt.settings, comp, upload)  # the same warm-up the server had
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            submissions.dry_run(rt.settings, comp, upload)
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds)
    finally:
        rt.db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the HW1P2 case (default 2,000,000)")
    parser.add_argument("--runs", type=int, default=7, help="timed uploads after one warm-up (default 7)")
    args = parser.parse_args(argv)
    solution, upload = make_hw1p2(args.rows)
    content = upload.read_bytes()

    with tempfile.TemporaryDirectory(prefix="podium-bench-api-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        env = dict(os.environ, PODIUM_DATA_DIR=str(data_dir))
        env.pop("DATABASE_URL", None)
        podium(env, "load", str(write_course(root / "courses", solution)))
        podium(env, "users", "add", EMAIL, "--course", "bench", "--role", "student")
        key = podium(env, "users", "token", EMAIL).strip()
        port = free_port()
        server = start_server(env, port, root / "server.log")
        try:
            database = data_dir / "podium.db"
            warm_up = upload_and_wait(port, key, content, database, 0)
            runs = [upload_and_wait(port, key, content, database, n) for n in range(1, args.runs + 1)]
        finally:
            server.terminate()
            server.wait(60)
        reference = dry_run_seconds(data_dir, upload)

    median = statistics.median(runs)
    ok = median < TARGET_SECONDS
    print(f"HW1P2 over HTTP: {args.rows:,} rows, {len(content) / 1e6:.1f} MB upload to `podium run` on 127.0.0.1")
    print(f"  end of upload -> scores stored: median {median:.3f} s of {len(runs)} runs "
          f"(min {min(runs):.3f}, max {max(runs):.3f}; warm-up {warm_up:.3f} s); target < {TARGET_SECONDS:g} s")
    print(f"  reference, same run: dry-run scoring in-process {reference:.3f} s; "
          f"upload-to-stored / dry run = {median / reference:.2f}x")
    print()
    print(f"{'PASS' if ok else 'MISS'}  HW1P2 upload end -> scores stored < {TARGET_SECONDS:g} s: {median:.3f} s")
    print(json.dumps({"api_upload_to_scored_median_s": round(median, 3), "dry_run_s": round(reference, 3),
                      "ratio": round(median / reference, 2), "runs_s": [round(r, 3) for r in runs]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
