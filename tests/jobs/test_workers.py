"""Against a real `podium run --workers 2` (gunicorn): both worker processes take uploads and score them, each
exactly once, the scheduler lease is held by one worker, a killed worker is replaced and its work is finished by
its replacement, and SIGTERM stops everything cleanly."""
from __future__ import annotations

import http.client
import json
import os
import signal
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from podium.jobs import JobSettings, ScoringPool
from podium.models import Status
from podium.runtime import make_runtime
from podium.serve import scoring_threads_per_worker
from podium.services import users
from podium.services.courses import get_course, load_course
from tests.conftest import write_course
from tests.jobs.conftest import GATED, marked
from tests.jobs.live import WAIT, Server, big_competition, guesses, pid_of, upload
from tests.jobs.test_server import COMPETITION, close_readers, expected_scores, rows, unfinished, wait_until

STUDENTS = [f"s{n}@x.edu" for n in range(4)]
# No periodic recovery during a test: each upload is then scored by the worker that received it, or, after a
# worker's death, by its replacement's start-up recovery; nothing else could have picked it up.
NO_PERIODIC_RECOVERY = {"PODIUM_RECOVERY_SECONDS": "3600"}
# A Kaggle-style metric as slow as a heavy one would be, so that a kill lands while a worker holds a submission.
# It mostly waits, so the workers score it four at a time (set in the environment as PODIUM_SCORING_* would be,
# with budgets that let four fit on any machine): the burst, and what the killed worker held, are then scored in
# two rounds of its wait rather than eight, and a kill finds a worker holding several submissions.
SLOW_METRIC_SLOTS = {"PODIUM_SCORING_WORKERS": "4", "PODIUM_SCORING_MEMORY_MB": "512",
                     "PODIUM_SCORING_MEMORY_TOTAL_MB": "4096"}
SLOW_METRIC = textwrap.dedent("""
    import time

    def score(solution, submission, row_id_column_name):
        time.sleep(0.4)
        solution = solution.sort_values(row_id_column_name)
        submission = submission.sort_values(row_id_column_name)
        return float((solution["label"].values == submission["label"].values).mean())
""")


def load_site(tmp_path: Path, database_url: str, *, rows_: int, slow: bool = False) -> tuple[Server, dict, object]:
    """Course c1 (hw1 with `rows_` solution rows; a slow metric when asked) and four students with API keys."""
    course = write_course(tmp_path / "courses")
    (course / "course.toml").write_text((course / "course.toml").read_text().replace("daily_limit = 5",
                                                                                      "daily_limit = 100"))
    labels = big_competition(course / "hw1", rows_)
    if slow:
        (course / "hw1" / "metric.py").write_text(SLOW_METRIC)
        toml = course / "hw1" / "competition.toml"
        toml.write_text(toml.read_text().replace('metric = "accuracy"',
                                                 'metric = "custom:metric.py"\nhigher_is_better = true'))
    server = Server(tmp_path / "data", tmp_path / "server.log", database_url, args=("--workers", "2"),
                    extra_env=NO_PERIODIC_RECOVERY | (SLOW_METRIC_SLOTS if slow else {}))
    return server, enrol(server, course), labels


def enrol(server: Server, course: Path) -> dict[str, str]:
    """Load the course and add the students through the services (a `podium` process per step costs seconds);
    returns their API keys."""
    rt = make_runtime(data_dir=server.data_dir, database_url=server.database_url)
    try:
        rt.db.upgrade()
        with rt.db.session() as session:
            load_course(session, rt.settings, course)
            c1 = get_course(session, "c1")
            return {email: users.issue_api_key(session, users.add_user(session, email, c1, "student"))
                    for email in STUDENTS}
    finally:
        rt.db.dispose()


def get_json(port: int, path: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def get_headers(port: int, path: str, headers: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return dict(response.getheaders())
    finally:
        conn.close()


def send_all(server: Server, keys: dict, attempts: list[tuple[str, str, bytes]]) -> dict:
    """Upload every (description, email, content) at once from 8 clients; description -> (status, body) or the
    connection error of an upload cut off by a kill."""
    responses = {}

    def send(attempt):
        description, email, content = attempt
        try:
            responses[description] = upload(server.port, COMPETITION, email, keys[email], content, description)
        except (OSError, http.client.HTTPException) as exc:  # cut off by a kill, even halfway through the answer
            responses[description] = exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, attempts))
    return responses


def acknowledged(responses: dict) -> dict[str, int]:
    return {d: r[1]["id"] for d, r in responses.items() if isinstance(r, tuple) and r[0] == 202}


@pytest.fixture
def started(tmp_path, database_url):
    servers = []

    def start(**kwargs):
        server, keys, labels = load_site(tmp_path, database_url, **kwargs)
        servers.append(server.start())
        assert wait_until(lambda: len(server.worker_pids()) == 2), "gunicorn did not fork two workers"
        return server, keys, labels

    yield start
    for server in servers:
        server.stop()
    close_readers()


def test_two_workers_answer_healthz_take_uploads_and_score_each_exactly_once(started, tmp_path):
    server, keys, labels = started(rows_=20_000)
    assert get_json(server.port, "/healthz") == (200, {"status": "ok", "database": "ok", "uploads": "ok",
                                                      "scoring_in_hand": 0})
    workers = server.worker_pids()

    # Bursts of 8 parallel uploads until both workers have had some: gunicorn hands each connection to whichever
    # worker accepts it first, so one burst alone does not promise both.
    responses, contents, n = {}, {}, 0
    for _burst in range(6):
        attempts = [(f"w-{n + i:03d}", STUDENTS[(n + i) % 4], guesses(labels, 0.2 + 0.01 * ((n + i) % 60), n + i))
                    for i in range(8)]
        n += len(attempts)
        contents.update({d: c for d, _, c in attempts})
        responses.update(send_all(server, keys, attempts))
        assert wait_until(lambda: unfinished(server) == 0, every=0.1), rows(server)
        if {pid_of(r[6]) for r in rows(server)} == workers:
            break

    acks = acknowledged(responses)
    assert len(acks) == len(responses) == len(contents), responses
    final = rows(server)
    assert sorted(r[0] for r in final) == sorted(acks.values())  # one row per acknowledged upload, no other
    by_description = {r[1]: r for r in final}
    expected = expected_scores(server, tmp_path, contents)
    for description, row in by_description.items():
        assert row[0] == acks[description] and row[2] == "scored"
        assert (row[3], row[4]) == pytest.approx(expected[description], abs=1e-12)
    # Each scored by the worker that received it; both workers took uploads.
    assert {pid_of(r[6]) for r in final} == workers
    # No scoring was ever done twice: a second scorer's result would have been dropped with this warning.
    assert "was taken over" not in server.log.read_text()

    # Only Podium decides whether to believe X-Forwarded-Proto (PODIUM_TRUST_PROXY, off here): gunicorn must not
    # turn a local client's header into HTTPS, which would send HSTS and mark cookies Secure.
    assert "Strict-Transport-Security" not in get_headers(server.port, "/healthz", {"X-Forwarded-Proto": "https"})

    # One process holds the scheduler lease, and it is a worker, never the master that forks them.
    jobs = server.cli("jobs")
    holder_line = next(line for line in jobs.splitlines() if line.startswith("deadline scheduler:"))
    assert pid_of(holder_line.split()[2]) in workers

    assert server.kill(signal.SIGTERM) == 0
    assert "deadline scheduler: not running" in server.cli("jobs")  # the leader gave its lease up on the way out


def test_a_killed_worker_is_replaced_and_what_it_held_is_finished_once(started, tmp_path):
    server, keys, labels = started(rows_=200, slow=True)
    workers = server.worker_pids()
    attempts = [(f"k-{i:02d}", STUDENTS[i % 4], guesses(labels, 0.3 + 0.02 * i, i)) for i in range(16)]
    contents = {d: c for d, _, c in attempts}
    victim: list[int] = []
    at_kill: list[list[tuple]] = []

    def killer():
        # Kill a worker while it scores an upload: its claim must not be lost. What it held is read after the
        # kill, when the dead process can change nothing more (and before its replacement has booted).
        seen: list[int] = []

        def scoring_worker() -> bool:
            seen[:] = [pid_of(r[6]) for r in rows(server) if r[2] == "scoring"]
            return bool(seen)

        if wait_until(scoring_worker):
            pid = seen[0]
            os.kill(pid, signal.SIGKILL)
            victim.append(pid)
            at_kill.append(rows(server))

    killing = threading.Thread(target=killer)
    killing.start()
    responses = send_all(server, keys, attempts)
    killing.join(WAIT)
    assert victim and victim[0] in workers, "the kill never landed on a worker that was scoring"
    held_by_victim = {r[0] for r in at_kill[0] if r[2] == "scoring" and pid_of(r[6]) == victim[0]}
    assert held_by_victim

    # The master forks a replacement, whose start-up recovery takes over the dead worker's claim at once.
    assert wait_until(lambda: len(server.worker_pids()) == 2 and victim[0] not in server.worker_pids())
    replacement = (server.worker_pids() - workers).pop()
    assert wait_until(lambda: unfinished(server) == 0, every=0.1), rows(server)

    acks = acknowledged(responses)
    final = {r[0]: r for r in rows(server)}
    assert set(acks.values()) <= set(final)  # nothing acknowledged is lost
    cut_off = {d for d, r in responses.items() if isinstance(r, Exception)}
    assert {r[1] for r in final.values()} <= set(acks) | cut_off  # any other row is an upload cut off by the kill
    expected = expected_scores(server, tmp_path, {r[1]: contents[r[1]] for r in final.values()}, threads=len(final))
    for row in final.values():
        assert row[2] == "scored" and (row[3], row[4]) == pytest.approx(expected[row[1]], abs=1e-12)
    # Finished by a live worker: the replacement's start-up recovery, or the other worker when the upload had been
    # its own and the victim had taken it at its start-up recovery.
    assert all(pid_of(final[i][6]) in {replacement, *(workers - {victim[0]})} for i in held_by_victim)
    assert "was taken over" not in server.log.read_text()
    assert get_json(server.port, "/healthz")[0] == 200


def test_scoring_processes_run_at_a_lower_cpu_priority_than_the_threads_answering_requests(rt, marked_course):
    sub = marked_course.upload(rt, marked(GATED))
    pool = ScoringPool(rt, 1)
    try:
        future = pool.submit(sub.id)
        assert wait_until(lambda: pool.process_ids())
        [child] = pool.process_ids()
        assert wait_until(lambda: os.getpriority(os.PRIO_PROCESS, child) != os.getpriority(os.PRIO_PROCESS, 0))
        child_nice = os.getpriority(os.PRIO_PROCESS, child)
        marked_course.open_gate()
        assert future.result(WAIT).status == Status.scored
    finally:
        marked_course.open_gate()
        pool.shutdown()
    process_nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert JobSettings().scoring_nice > 0
    assert child_nice == min(19, process_nice + JobSettings().scoring_nice)  # 19: the lowest priority Unix has
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == process_nice  # this thread is untouched


@pytest.mark.parametrize(("cpus", "workers", "threads"), [(2, 4, 1), (2, 2, 1), (8, 4, 2), (16, 1, 16)])
def test_the_workers_scoring_threads_add_up_to_about_one_per_core(cpus, workers, threads):
    assert scoring_threads_per_worker(workers, cpus) == threads


def test_workers_or_threads_with_the_development_server_are_refused_with_the_reason(podium_cli):
    for option in ("--workers", "--threads"):
        result = podium_cli("run", "--debug", option, "4")
        assert result.exit_code == 2
        assert "--workers and --threads are for the production server" in result.stderr
