"""The deadline rush: many students upload in the last minutes before a deadline, against several server processes
on one PostgreSQL.

    .venv/bin/python bench/rush.py [--quick] [--students N] [--uploads M] [--seconds S] [--clients C] [--rows R]
                                   [--workers W] [--database-url URL]

A throwaway PostgreSQL cluster with fsync on (an acknowledged upload must survive a power cut: that durability is
what the acknowledgement costs) gets a course with one 200,000-row competition (bench/scoring.py's HW1P2 case,
accuracy) and 300 students with API keys, made through the services. `podium run --workers 4` serves it on a free
127.0.0.1 port. 32 client threads POST 900 uploads (ten different files of about 2 MB, so that the scores can be
checked) through the REST API, each student three times, at planned send times spread over 180 s and bunched
towards the deadline the way a real rush is: the rate grows sevenfold from the first second to the last.

Printed, each against its target: uploads per second; the time to acknowledge an upload (from its first byte sent
to the end of the response), p50 and p99; the time from the last acknowledgement until every upload is scored;
errors (a non-2xx answer or a failed connection); lost submissions (an acknowledged id missing from the database,
not scored, scored with the wrong scores, or stored twice). The reference, measured in the same run, is the round
trip of the cheapest request (GET /healthz on the idle server, median of 50); the acknowledgement times are also
printed as multiples of it. Then where the CPU went (the server's processes, PostgreSQL, this client, everything
else on the machine), since the server shares its cores with all of them.

`--hostile` mixes in what one student can do to everyone else at that deadline: 3 clients that trickle a legitimate
upload over a third of the rush (a slow link), and 5 poison uploads (two CSVs whose header has 2,000,000 columns,
a 200 KB .csv.gz and a .zip that each inflate to 190 MB of one value), from students of their own. The targets
hold for the legitimate uploads alone; the trickled ones must be taken and scored, each poison one refused or
failed with a message (never a server error); and the peak resident memory of the server's processes (the
gunicorn master, its workers and any scoring processes, summed, sampled every 0.05 s) is printed against the
server's memory at rest.

The benchmark stops itself: every request, every wait and the whole run have time limits, the servers are stopped
and the cluster removed whatever happens. `--quick` is a small rush (30 students, 90 uploads in 20 s) for a fast
check; `--database-url` uses an existing database instead of starting a cluster (the tests run a tiny rush so).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from course import free_port, multipart, write_hw1p2_course  # noqa: E402  (bench/course.py)
from scoring import make_hw1p2  # noqa: E402  (bench/scoring.py: the shared HW1P2 data)

PODIUM = [sys.executable, "-m", "podium.cli"]
COURSE, COMPETITION = "rush", "rush-hw1p2"
VARIANTS = 10  # different upload files, so that a score stored against the wrong upload would show
BUNCHING = 2.0  # the send rate grows as e^(BUNCHING * t / seconds): about 7x from the first second to the last

TARGET_P99_ACK_SECONDS = 2.0
TARGET_SCORED_AFTER_SECONDS = 60.0

REQUEST_TIMEOUT = 60.0  # one upload; beyond it the upload counts as an error
START_TIMEOUT = 120.0  # for the server to answer /healthz
SCORING_TIMEOUT = 180.0  # for the queue to drain after the last acknowledgement; what is left then counts as lost
STOP_TIMEOUT = 90.0  # for the server to stop on SIGTERM (it finishes what it is scoring) before it is killed


@dataclass(frozen=True)
class Plan:
    students: int = 300
    uploads: int = 900
    seconds: float = 180.0
    clients: int = 32
    rows: int = 200_000
    workers: int = 4
    hostile: bool = False

    @classmethod
    def quick(cls) -> "Plan":
        return cls(students=30, uploads=90, seconds=20.0)


@dataclass
class Attempt:
    """One planned upload and what became of it; times are seconds from the start of the rush."""

    n: int
    email: str
    variant: int
    planned: float
    started: float | None = None
    finished: float | None = None
    status: int | None = None
    submission_id: int | None = None
    error: str | None = None

    @property
    def description(self) -> str:
        return f"rush-{self.n:05d}"

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.submission_id is not None

    @property
    def ack_seconds(self) -> float:
        return self.finished - self.started


@dataclass
class Outcome:
    plan: Plan
    attempts: list[Attempt]
    reference_seconds: float
    dry_run_seconds: float
    scored_after_last_ack: float | None  # None: not everything was scored within SCORING_TIMEOUT
    lost: list[str]
    stored_unacknowledged: int
    double_scorings: int
    received_to_scored: list[float]
    peak_backlog: int
    upload_bytes: int
    cpu: dict[str, float] = field(default_factory=dict)
    hostile: list["Hostile"] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.acknowledged]

    @property
    def acks(self) -> list[float]:
        return sorted(a.ack_seconds for a in self.attempts if a.acknowledged)

    @property
    def span(self) -> float:
        started = [a.started for a in self.attempts if a.started is not None]
        finished = [a.finished for a in self.attempts if a.finished is not None]
        return max(finished) - min(started) if started and finished else 0.0


# --- the course ------------------------------------------------------------------------------------------


def upload_variants(solution: Path, count: int) -> list[bytes]:
    """`count` upload files for the solution, each right on a different share of rows, each in its own order."""
    truth = pacsv.read_csv(solution)
    ids, labels = truth["id"].to_numpy(), truth["label"].to_numpy()
    out = []
    for v in range(count):
        rng = np.random.default_rng(1000 + v)
        guess = np.where(rng.random(len(ids)) < 0.40 + 0.04 * v, labels, rng.integers(0, 138, len(ids)))
        order = rng.permutation(len(ids))
        sink = io.BytesIO()
        pacsv.write_csv(pa.table({"id": ids[order], "label": guess[order]}), sink,
                        write_options=pacsv.WriteOptions(quoting_style="none"))
        out.append(sink.getvalue())
    return out


def write_course(root: Path, solution: Path, deadline: datetime) -> Path:
    """The course folder: one competition whose on-time deadline is the end of the rush, and a daily limit that
    the rush never reaches (each student uploads a few times)."""
    return write_hw1p2_course(root, solution, slug=COURSE, title="Deadline rush benchmark",
                              opens=deadline - timedelta(days=14), ontime=deadline,
                              late=deadline + timedelta(days=3), daily_limit=100)


def build_course(rt, course: Path, students: int) -> dict[str, str]:
    """Load the course and enrol the students with API keys, through the services in one transaction."""
    from podium.services import courses, users

    rt.db.upgrade()
    with rt.db.session() as session:
        courses.load_course(session, rt.settings, course, actor="bench")
        rush = courses.get_course(session, COURSE)
        keys = {}
        for n in range(students):
            user = users.add_user(session, f"student{n:04d}@rush.example", rush, "student", actor="bench")
            keys[user.email] = users.issue_api_key(session, user, actor="bench")
    return keys


def expected_scores(rt, variants: list[bytes], folder: Path) -> tuple[list[tuple[float, float]], float]:
    """Each variant's (public, private) from a dry run in this process, and the median dry-run time: the scoring
    alone, without HTTP, the database or the queue."""
    from podium.services import courses, submissions

    with rt.db.session() as session:
        comp = courses.get_competition(session, COMPETITION)
    scores, seconds = [], []
    for v, content in enumerate(variants):
        path = folder / f"variant-{v}.csv"
        path.write_bytes(content)
        started = time.perf_counter()
        result = submissions.dry_run(rt.settings, comp, path)
        seconds.append(time.perf_counter() - started)
        scores.append((result.public, result.private))
    return scores, statistics.median(seconds[1:] or seconds)  # the first opens the compiled solution


# --- the server ------------------------------------------------------------------------------------------


def get(port: int, path: str, timeout: float = 10) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def start_server(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen([*PODIUM, "run", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"podium run exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if get(port, "/healthz") == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise SystemExit(f"podium run did not answer /healthz within {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM, as a service manager would; the whole process group is killed if it does not stop in time."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(STOP_TIMEOUT)


def wait_for_workers(server: subprocess.Popen, workers: int, port: int) -> None:
    """/healthz answers as soon as one worker has booted: wait for all of them, so that the rush meets no worker
    still importing its libraries."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if workers == 1 or len(children(server.pid)) >= workers:
            for _ in range(4 * workers):
                get(port, "/healthz")
            wait_until_idle(server.pid, deadline)
            return
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start {workers} workers within {START_TIMEOUT:.0f} s")


def wait_until_idle(pid: int, deadline: float, busy: float = 0.05, every: float = 0.5) -> None:
    """Until the server's process tree has stopped starting up (its scoring processes load the scoring stack as
    it starts): less than `busy` CPU seconds in `every` seconds of wall time."""
    used = tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(every)
        now = tree_cpu(pid)
        if now - used < busy:
            return
        used = now


def children(pid: int) -> list[int]:
    """The process's children, whichever of its threads started them (a scoring thread starts the fork server)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:  # the thread or the process ended meanwhile
            continue
    return found


def reference_round_trip(port: int, repeat: int = 50) -> float:
    """The median round trip of the cheapest request Podium answers, on the idle server."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        get(port, "/healthz")
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


# --- the clients -----------------------------------------------------------------------------------------


def send_times(uploads: int, seconds: float) -> list[float]:
    """Planned send times in [0, seconds), the rate growing as e^(BUNCHING t / seconds): the quantiles of that
    density, so that the plan is the same on every run."""
    growth = math.expm1(BUNCHING)
    return [seconds / BUNCHING * math.log1p((k + 0.5) / uploads * growth) for k in range(uploads)]


def plan_attempts(plan: Plan, emails: list[str]) -> list[Attempt]:
    """Upload k goes at the k-th send time, from student k mod N, with file variant k mod VARIANTS."""
    return [Attempt(n=k, email=emails[k % len(emails)], variant=k % VARIANTS, planned=t)
            for k, t in enumerate(send_times(plan.uploads, plan.seconds))]


def send(port: int, attempt: Attempt, key: str, content: bytes, t0: float) -> None:
    """POST the upload at its planned time (or as soon as a client is free); fills in the attempt."""
    body, content_type = multipart(content, attempt.description)
    credentials = base64.b64encode(f"{attempt.email}:{key}".encode()).decode()
    delay = t0 + attempt.planned - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    attempt.started = time.perf_counter() - t0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", f"/api/competitions/{COMPETITION}/submissions", body=body,
                     headers={"Content-Type": content_type, "Authorization": f"Basic {credentials}"})
        response = conn.getresponse()
        payload = response.read()
        attempt.finished = time.perf_counter() - t0
        attempt.status = response.status
        answer = json.loads(payload) if payload else {}
        if 200 <= response.status < 300:
            attempt.submission_id = answer.get("id")
        else:
            attempt.error = f"{response.status}: {answer.get('message', payload[:200])}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        attempt.finished = time.perf_counter() - t0
        attempt.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def rush(port: int, attempts: list[Attempt], keys: dict[str, str], variants: list[bytes], clients: int,
         hostile: list[Hostile] = ()) -> float:
    """Send every attempt from `clients` threads, in planned order, and each hostile upload from a thread of its
    own; returns the start instant (perf_counter)."""
    pending = iter(sorted(attempts, key=lambda a: a.planned))
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.5  # every client is waiting before the first send time

    def client() -> None:
        while True:
            with lock:
                attempt = next(pending, None)
            if attempt is None:
                return
            send(port, attempt, keys[attempt.email], variants[attempt.variant], t0)

    with ThreadPoolExecutor(max_workers=clients + len(hostile), thread_name_prefix="rush-client") as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        futures += [pool.submit(send_hostile, port, h, keys[h.email], t0) for h in hostile]
        for future in futures:
            future.result()
    return t0


# --- the hostile clients (--hostile) ----------------------------------------------------------------------

HOSTILE_STUDENTS = 8  # 3 trickling, 5 poisoning: students of their own, outside the legitimate rush
TRICKLE_CHUNKS = 60
WIDE_COLUMNS = 2_000_000
INFLATED_BYTES = 190_000_000


@dataclass
class Hostile:
    """One hostile upload and what became of it."""

    kind: str  # "trickle", "wide header", "gzip bomb", "zip bomb"
    email: str
    planned: float
    file_name: str
    content: bytes
    spread_over: float = 0.0  # seconds over which the body is sent (trickle)
    status: int | None = None
    answer: str = ""
    submission_id: int | None = None
    final_status: str | None = None
    final_error: str | None = None

    @property
    def description(self) -> str:
        return f"hostile-{self.kind.replace(' ', '-')}-{self.planned:.0f}"

    @property
    def held(self) -> bool:
        """What the rules ask of it: a trickled upload is taken and scored; a poison one is refused with a
        message (4xx) or taken and then failed with a message; never a server error."""
        if self.kind == "trickle":
            return self.final_status == "scored"
        if self.status is not None and 400 <= self.status < 500:
            return bool(self.answer)
        return self.final_status == "failed" and bool(self.final_error)


def one_value_inflating_to(size: int) -> bytes:
    """A CSV of one row whose label is `size` digits: the raw text a bomb inflates to, built in pieces."""
    return b"id,label\n0," + b"7" * size + b"\n"


def gzip_bomb(size: int) -> bytes:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    out = [packer.compress(b"id,label\n0,")]
    chunk = b"7" * 1_000_000
    for _ in range(size // len(chunk)):
        out.append(packer.compress(chunk))
    out.append(packer.compress(b"\n"))
    out.append(packer.flush())
    return b"".join(out)


def zip_bomb(size: int) -> bytes:
    import zipfile

    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("predictions.csv", "w", force_zip64=True) as member:
            member.write(b"id,label\n0,")
            chunk = b"7" * 1_000_000
            for _ in range(size // len(chunk)):
                member.write(chunk)
            member.write(b"\n")
    return sink.getvalue()


def plan_hostile(plan: Plan, emails: list[str], variants: list[bytes]) -> list[Hostile]:
    """3 trickles starting at 10, 40 and 60 % of the rush, each sent over a third of it, and 5 poison uploads
    spread over it."""
    wide = ",".join(f"c{i}" for i in range(WIDE_COLUMNS)).encode() + b"\n"
    trickles = [Hostile("trickle", emails[i], plan.seconds * start, "slow.csv", variants[i],
                        spread_over=plan.seconds / 3) for i, start in enumerate((0.1, 0.4, 0.6))]
    poison = [Hostile("wide header", emails[3], plan.seconds * 0.2, "wide.csv", wide),
              Hostile("gzip bomb", emails[4], plan.seconds * 0.35, "bomb.csv.gz", gzip_bomb(INFLATED_BYTES)),
              Hostile("zip bomb", emails[5], plan.seconds * 0.5, "bomb.zip", zip_bomb(INFLATED_BYTES)),
              Hostile("wide header", emails[6], plan.seconds * 0.7, "wide.csv", wide),
              Hostile("gzip bomb", emails[7], plan.seconds * 0.85, "bomb.csv.gz", gzip_bomb(INFLATED_BYTES))]
    return trickles + poison


def send_hostile(port: int, attempt: Hostile, key: str, t0: float) -> None:
    """POST the upload at its planned time, its body in TRICKLE_CHUNKS pieces over `spread_over` seconds."""
    body, content_type = multipart(attempt.content, attempt.description, attempt.file_name)
    credentials = base64.b64encode(f"{attempt.email}:{key}".encode()).decode()
    delay = t0 + attempt.planned - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT + attempt.spread_over)
    try:
        conn.putrequest("POST", f"/api/competitions/{COMPETITION}/submissions")
        for name, value in (("Content-Type", content_type), ("Authorization", f"Basic {credentials}"),
                            ("Content-Length", str(len(body)))):
            conn.putheader(name, value)
        conn.endheaders()
        pieces = TRICKLE_CHUNKS if attempt.spread_over else 1
        step = math.ceil(len(body) / pieces)
        for k in range(0, len(body), step):
            conn.send(body[k:k + step])
            if attempt.spread_over:
                time.sleep(attempt.spread_over / pieces)
        response = conn.getresponse()
        payload = response.read()
        attempt.status = response.status
        answer = json.loads(payload) if payload else {}
        attempt.submission_id = answer.get("id") if 200 <= response.status < 300 else None
        attempt.answer = str(answer.get("message", "")) if response.status >= 300 else ""
    except (OSError, http.client.HTTPException, ValueError) as exc:
        attempt.answer = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def settle_hostile(watcher: "Watcher", hostile: list[Hostile]) -> None:
    """Wait (up to SCORING_TIMEOUT) for the taken hostile uploads to end, and note how each did."""
    taken = {h.submission_id: h for h in hostile if h.submission_id is not None}
    deadline = time.monotonic() + SCORING_TIMEOUT
    while True:
        rows = {row[0]: row for row in watcher.rows_with_errors(list(taken))}
        for sub_id, h in taken.items():
            if sub_id in rows:
                h.final_status, h.final_error = rows[sub_id][1], rows[sub_id][2]
        if all(h.final_status in ("scored", "failed") for h in taken.values()) or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for child in children(stack.pop()):
            found.append(child)
            stack.append(child)
    return found


def resident_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemoryMeter:
    """The resident memory of the server's process tree, summed, sampled every 0.05 s: its peak, and the largest
    single process's peak."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.at_rest = self.peak_total = self.peak_process = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="rush-memory", daemon=True)

    def sample(self) -> tuple[int, int]:
        sizes = [resident_bytes(p) for p in [self.server_pid, *descendants(self.server_pid)]]
        return sum(sizes), max(sizes, default=0)

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.05):
            total, largest = self.sample()
            self.peak_total, self.peak_process = max(self.peak_total, total), max(self.peak_process, largest)

    def start(self) -> None:
        self.at_rest = self.sample()[0]
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(5)
        return {"at_rest": self.at_rest, "peak_total": self.peak_total, "peak_process": self.peak_process}


# --- the database's view ---------------------------------------------------------------------------------


class Watcher:
    """Polls the submissions' statuses while the rush runs, to know the backlog and when it has drained."""

    def __init__(self, url: str, competition_id: int):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.competition_id = competition_id
        self.peak_backlog = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rush-watcher", daemon=True)

    def counts(self, legitimate_only: bool = False) -> dict[str, int]:
        from sqlalchemy import func, select

        from podium.models import Submission

        query = select(Submission.status, func.count()).where(Submission.competition_id == self.competition_id)
        if legitimate_only:
            query = query.where(Submission.description.like("rush-%"))
        with self.engine.connect() as connection:
            return {status.value: n for status, n in connection.execute(query.group_by(Submission.status)).all()}

    def backlog(self) -> int:
        counts = self.counts()
        return counts.get("queued", 0) + counts.get("scoring", 0)

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.peak_backlog = max(self.peak_backlog, self.backlog())
            except Exception:  # a busy moment; the next poll counts again
                pass

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def drained_after(self, acknowledged: int, t0: float, last_ack: float) -> float | None:
        """Seconds from the last acknowledgement until nothing is queued or being scored and every acknowledged
        upload has a result (polled every 50 ms); None when that takes longer than SCORING_TIMEOUT."""
        deadline = time.monotonic() + SCORING_TIMEOUT
        while time.monotonic() < deadline:
            counts = self.counts(legitimate_only=True)
            done = counts.get("scored", 0) + counts.get("failed", 0)
            if counts.get("queued", 0) + counts.get("scoring", 0) == 0 and done >= acknowledged:
                return max(0.0, time.perf_counter() - t0 - last_ack)
            time.sleep(0.05)
        return None

    def rows(self) -> list[tuple]:
        """(id, description, status, public, private, submitted_at, scored_at) of every upload of the rush."""
        from sqlalchemy import select

        from podium.models import Submission as S

        with self.engine.connect() as connection:
            return [(r[0], r[1], r[2].value, *r[3:]) for r in connection.execute(
                select(S.id, S.description, S.status, S.public_score, S.private_score, S.submitted_at, S.scored_at)
                .where(S.competition_id == self.competition_id).order_by(S.id))]

    def rows_with_errors(self, ids: list[int]) -> list[tuple]:
        """(id, status, error) of the given submissions."""
        from sqlalchemy import select

        from podium.models import Submission as S

        with self.engine.connect() as connection:
            return [(r[0], r[1].value, r[2]) for r in connection.execute(
                select(S.id, S.status, S.error).where(S.id.in_(ids)))]

    def dispose(self) -> None:
        self.engine.dispose()


def check_every_upload(rows: list[tuple], attempts: list[Attempt],
                       expected: list[tuple[float, float]]) -> tuple[list[str], int]:
    """The acknowledged uploads that are not in the database exactly once, scored with their file's scores; and
    how many rows no acknowledgement names (stored, but the client saw an error)."""
    rows = [row for row in rows if (row[1] or "").startswith("rush-")]  # the hostile uploads are judged apart
    by_id: dict[int, list[tuple]] = {}
    for row in rows:
        by_id.setdefault(row[0], []).append(row)
    lost = []
    for attempt in (a for a in attempts if a.acknowledged):
        found = by_id.get(attempt.submission_id, [])
        if len(found) != 1 or found[0][1] != attempt.description:
            lost.append(f"{attempt.description} (id {attempt.submission_id}): {len(found)} matching row(s)")
            continue
        _, _, status, public, private, *_ = found[0]
        want = expected[attempt.variant]
        if status != "scored" or public is None or not (math.isclose(public, want[0], abs_tol=1e-12)
                                                        and math.isclose(private, want[1], abs_tol=1e-12)):
            lost.append(f"{attempt.description} (id {attempt.submission_id}): {status} {public} {private}, "
                        f"expected scored {want}")
    descriptions = [row[1] for row in rows]
    doubled = len(descriptions) - len(set(descriptions))
    lost += [f"{doubled} upload(s) stored twice"] if doubled else []
    acked_ids = {a.submission_id for a in attempts if a.acknowledged}
    return lost, sum(1 for row in rows if row[0] not in acked_ids)


def received_to_scored(rows: list[tuple]) -> list[float]:
    """Server-side seconds from receiving each upload to storing its scores (both instants on the server's clock)."""
    return sorted((row[6] - row[5]).total_seconds() for row in rows if row[6] is not None and row[5] is not None)


# --- CPU accounting --------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """User + system CPU of a live process (and of its children that have ended, when asked)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        used += int(fields[13]) + int(fields[14])
    return used / TICK


def tree_cpu(pid: int) -> float:
    """A process and all its descendants, live or reaped: gunicorn's master, its workers and their scoring
    processes (children of a fork server), or PostgreSQL's postmaster and its backends."""
    return cpu_seconds(pid, with_reaped_children=True) + sum(tree_cpu(child) for child in children(pid))


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / TICK


class CpuMeter:
    """CPU used between start() and stop() by the server's processes, PostgreSQL, this process and the machine."""

    def __init__(self, server_pid: int, postgres_pid: int | None):
        self.server_pid, self.postgres_pid = server_pid, postgres_pid

    def sample(self) -> dict[str, float]:
        times = os.times()
        return {"server": tree_cpu(self.server_pid),
                "postgresql": tree_cpu(self.postgres_pid) if self.postgres_pid else 0.0,
                "client": times.user + times.system, "machine": machine_busy_seconds()}

    def start(self) -> None:
        self.before, self.t = self.sample(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = self.sample()
        used = {name: after[name] - self.before[name] for name in after}
        used["others"] = max(0.0, used.pop("machine") - used["server"] - used["postgresql"] - used["client"])
        used["wall"] = time.perf_counter() - self.t
        return used


# --- the run ---------------------------------------------------------------------------------------------


def run_rush(plan: Plan, work: Path, database_url: str, postgres_pid: int | None = None) -> Outcome:
    """Build the course on `database_url`, serve it with `podium run --workers`, rush it, and check every upload."""
    from podium.runtime import make_runtime
    from podium.services import courses

    solution, _ = make_hw1p2(plan.rows)
    variants = upload_variants(solution, VARIANTS)
    deadline = datetime.now(timezone.utc) + timedelta(seconds=plan.seconds + 60)
    data_dir = work / "data"
    rt = make_runtime(data_dir=data_dir, database_url=database_url)
    try:
        everyone = plan.students + (HOSTILE_STUDENTS if plan.hostile else 0)
        keys = build_course(rt, write_course(work / "courses", solution, deadline), everyone)
        expected, dry_run = expected_scores(rt, variants, work)
        with rt.db.session() as session:
            competition_id = courses.get_competition(session, COMPETITION).id
    finally:
        rt.db.dispose()

    env = dict(os.environ, PODIUM_DATA_DIR=str(data_dir), DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    port, log = free_port(), work / "server.log"
    emails = sorted(keys)
    attempts = plan_attempts(plan, emails[:plan.students])
    hostile = plan_hostile(plan, emails[plan.students:], variants) if plan.hostile else []
    watcher = Watcher(database_url, competition_id)
    server = start_server(env, port, plan.workers, log)
    try:
        wait_for_workers(server, plan.workers, port)
        reference = reference_round_trip(port)
        meter, memory = CpuMeter(server.pid, postgres_pid), MemoryMeter(server.pid)
        meter.start()
        memory.start()
        watcher.start()
        t0 = rush(port, attempts, keys, variants, plan.clients, hostile)
        acknowledged = [a for a in attempts if a.acknowledged]
        last_ack = max((a.finished for a in acknowledged), default=0.0)
        drained = watcher.drained_after(len(acknowledged), t0, last_ack)
        settle_hostile(watcher, hostile)
        watcher.stop()
        cpu, peaks = meter.stop(), memory.stop()
    finally:
        stop_server(server)
    try:
        rows = watcher.rows()
    finally:
        watcher.dispose()
    lost, unacknowledged = check_every_upload(rows, attempts, expected)
    return Outcome(plan=plan, attempts=attempts, reference_seconds=reference, dry_run_seconds=dry_run,
                   scored_after_last_ack=drained, lost=lost, stored_unacknowledged=unacknowledged,
                   double_scorings=log.read_text(errors="replace").count("was taken over"),
                   received_to_scored=received_to_scored(rows), peak_backlog=watcher.peak_backlog,
                   upload_bytes=round(statistics.mean(len(v) for v in variants)), cpu=cpu, hostile=hostile,
                   memory=peaks)


# --- the report ------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def verdicts(outcome: Outcome) -> list[tuple[bool, str]]:
    p99 = percentile(outcome.acks, 99)
    drained = outcome.scored_after_last_ack
    return [
        (not outcome.errors, f"zero errors: {len(outcome.errors)}"),
        (not outcome.lost and not outcome.double_scorings,
         f"zero lost: {len(outcome.lost)} lost, {outcome.double_scorings} scored twice"),
        (p99 < TARGET_P99_ACK_SECONDS, f"p99 acknowledgement < {TARGET_P99_ACK_SECONDS:g} s: {p99:.3f} s"),
        (drained is not None and drained < TARGET_SCORED_AFTER_SECONDS,
         f"everything scored within {TARGET_SCORED_AFTER_SECONDS:g} s of the last upload: "
         + (f"{drained:.2f} s" if drained is not None else f"not within {SCORING_TIMEOUT:g} s")),
    ] + ([(all(h.held for h in outcome.hostile),
           f"hostile uploads held: {sum(h.held for h in outcome.hostile)} of {len(outcome.hostile)} "
           "(trickled ones taken and scored, poison ones refused or failed with a message)")]
         if outcome.hostile else [])


def report(outcome: Outcome, database: str) -> list[str]:
    plan, acks, ref = outcome.plan, outcome.acks, outcome.reference_seconds
    p50, p99 = percentile(acks, 50), percentile(acks, 99)
    late = sorted(a.started - a.planned for a in outcome.attempts if a.started is not None)
    r2s = outcome.received_to_scored
    cpu = outcome.cpu
    uploads = max(1, len(acks))
    lines = [
        f"deadline rush: {plan.students} students, {plan.uploads} uploads of {plan.rows:,} rows "
        f"({outcome.upload_bytes / 1e6:.1f} MB) from {plan.clients} clients over {plan.seconds:g} s, bunched towards the "
        f"deadline; `podium run --workers {plan.workers}` on {database}, on 127.0.0.1; {os.cpu_count()} CPUs",
        f"  reference, same run: GET /healthz on the idle server {ref * 1000:.1f} ms (median of 50); "
        f"dry-run scoring of one upload {outcome.dry_run_seconds * 1000:.0f} ms",
        f"  uploads per second: {len(acks) / outcome.span if outcome.span else 0:.2f} "
        f"({len(acks)} acknowledged in {outcome.span:.1f} s; planned {plan.uploads / plan.seconds:.2f}/s on average, "
        f"{plan.uploads / plan.seconds * BUNCHING / -math.expm1(-BUNCHING):.2f}/s at the deadline)",
        f"  time to acknowledge: p50 {p50:.3f} s ({p50 / ref:.0f}x reference), p99 {p99:.3f} s ({p99 / ref:.0f}x), "
        f"max {acks[-1] if acks else float('nan'):.3f} s; sends started late by p99 {percentile(late, 99):.3f} s "
        f"(only when all {plan.clients} clients were busy)",
        f"  received -> scored on the server: p50 {percentile(r2s, 50):.3f} s, p99 {percentile(r2s, 99):.3f} s, "
        f"max {r2s[-1] if r2s else float('nan'):.3f} s; peak backlog {outcome.peak_backlog} queued or scoring",
        "  everything scored "
        + (f"{outcome.scored_after_last_ack:.2f} s after the last acknowledgement"
           if outcome.scored_after_last_ack is not None else f"NOT within {SCORING_TIMEOUT:g} s"),
        f"  errors: {len(outcome.errors)}; lost: {len(outcome.lost)}; scored twice: {outcome.double_scorings}; "
        f"stored without an acknowledgement: {outcome.stored_unacknowledged}",
    ]
    if cpu:
        lines.append(
            f"  CPU over the rush ({cpu['wall']:.0f} s wall, {os.cpu_count()} cores = "
            f"{cpu['wall'] * os.cpu_count():.0f} core-s): server {cpu['server']:.1f} s "
            f"({cpu['server'] / uploads * 1000:.0f} ms per upload), PostgreSQL {cpu['postgresql']:.1f} s "
            f"({cpu['postgresql'] / uploads * 1000:.0f} ms per upload), this client {cpu['client']:.1f} s, "
            f"other processes on the machine {cpu['others']:.1f} s")
    if outcome.memory:
        mb = {k: v / 1e6 for k, v in outcome.memory.items()}
        lines.append(f"  server memory (resident, all its processes): {mb['at_rest']:.0f} MB at rest, peak "
                     f"{mb['peak_total']:.0f} MB ({mb['peak_total'] / mb['at_rest']:.1f}x rest); the largest "
                     f"single process peaked at {mb['peak_process']:.0f} MB")
    for h in outcome.hostile:
        what = (f"refused {h.status}: {h.answer[:120]}" if h.status is not None and h.status >= 300
                else f"taken as {h.submission_id}, {h.final_status}" + (f": {h.final_error[:120]}"
                                                                          if h.final_error else "")
                if h.submission_id is not None else f"no answer: {h.answer[:120]}")
        lines.append(f"  hostile {h.kind} ({len(h.content) / 1e6:.1f} MB sent"
                     + (f" over {h.spread_over:.0f} s" if h.spread_over else "") + f"): {what}")
    for attempt in outcome.errors[:5]:
        lines.append(f"  error: {attempt.description} from {attempt.email}: {attempt.error}")
    lines += [f"  lost: {item}" for item in outcome.lost[:5]]
    lines.append("")
    lines += [f"{'PASS' if ok else 'MISS'}  {text}" for ok, text in verdicts(outcome)]
    return lines


def summary(outcome: Outcome) -> dict:
    acks = outcome.acks
    return {
        "uploads_per_s": round(len(acks) / outcome.span, 2) if outcome.span else 0,
        "ack_p50_s": round(percentile(acks, 50), 3), "ack_p99_s": round(percentile(acks, 99), 3),
        "reference_healthz_s": round(outcome.reference_seconds, 4),
        "ack_p99_over_reference": round(percentile(acks, 99) / outcome.reference_seconds, 1),
        "scored_after_last_ack_s": None if outcome.scored_after_last_ack is None
        else round(outcome.scored_after_last_ack, 2),
        "errors": len(outcome.errors), "lost": len(outcome.lost), "scored_twice": outcome.double_scorings,
        "cpu_s": {k: round(v, 1) for k, v in outcome.cpu.items()},
        "memory_mb": {k: round(v / 1e6) for k, v in outcome.memory.items()},
        "hostile_held": f"{sum(h.held for h in outcome.hostile)}/{len(outcome.hostile)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 students, 90 uploads in 20 s")
    parser.add_argument("--students", type=int)
    parser.add_argument("--uploads", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--rows", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--database-url", help="an existing, empty database instead of a throwaway cluster")
    parser.add_argument("--hostile", action="store_true",
                        help="3 trickling clients and 5 poison uploads mixed into the rush")
    args = parser.parse_args(argv)
    base = Plan.quick() if args.quick else Plan()
    plan = Plan(**{name: getattr(args, name) if getattr(args, name) is not None else getattr(base, name)
                   for name in ("students", "uploads", "seconds", "clients", "rows", "workers")},
                hostile=args.hostile)
    problem = plan_problem(plan)
    if problem:
        parser.error(problem)

    with tempfile.TemporaryDirectory(prefix="podium-rush-") as tmp:
        if args.database_url:
            outcome, database = run_rush(plan, Path(tmp), args.database_url), "the given database"
        else:
            outcome, database = rush_on_temporary_postgres(plan, Path(tmp))
    print("\n".join(report(outcome, database)))
    print(json.dumps(summary(outcome)))
    return 0 if all(ok for ok, _ in verdicts(outcome)) else 1


def plan_problem(plan: Plan) -> str | None:
    if min(plan.students, plan.uploads, plan.clients, plan.rows, plan.workers) < 1 or plan.seconds <= 0:
        return "--students, --uploads, --clients, --rows, --workers and --seconds must be positive"
    if plan.uploads > plan.students * 100:
        return f"{plan.uploads} uploads from {plan.students} students would pass the daily limit of 100"
    return None


def rush_on_temporary_postgres(plan: Plan, work: Path) -> tuple[Outcome, str]:
    from podium.testing.postgres import TemporaryPostgres

    cluster = TemporaryPostgres(durable=True)
    cluster.start()
    try:
        url = cluster.create_database("rush")
        pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
        return run_rush(plan, work, url, postgres_pid=pid), f"PostgreSQL {server_version(url)} (fsync on)"
    finally:
        cluster.stop()


def server_version(url: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SHOW server_version").scalar().split()[0]
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
