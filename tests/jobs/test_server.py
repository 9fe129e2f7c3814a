"""Against a real `podium run` (gunicorn with its default workers): a SIGKILL of the whole server in the middle of a
burst of uploads loses nothing and scores everything exactly once; the daily limit holds under parallel HTTP
uploads; SIGTERM stops the server cleanly."""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine, create_engine

from podium.config import DEFAULT_SERVER_WORKERS
from podium.runtime import make_runtime
from podium.services import submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import write_course
from tests.jobs.live import WAIT, Server, big_competition, guesses, multipart, pid_of, upload

ROWS = 200_000
COMPETITION = "c1-hw1"


def build_site(rt, folder: Path, now) -> tuple[dict[str, str], object]:
    """Course c1 (hw1 with a 200,000-row solution, daily limit 6) loaded, and four students with API keys."""
    course = write_course(folder / "courses", now=now)
    (course / "course.toml").write_text((course / "course.toml").read_text().replace("daily_limit = 5",
                                                                                      "daily_limit = 6"))
    labels = big_competition(course / "hw1", ROWS)
    with rt.db.session() as session:
        load_course(session, rt.settings, course)
        c1 = get_course(session, "c1")
        keys = {email: users.issue_api_key(session, users.add_user(session, email, c1, "student"))
                for email in (f"s{n}@x.edu" for n in range(4))}
    return keys, labels


@pytest.fixture
def site(tmp_path, database_url, worlds, world_database):
    """A copy of the site `build_site` made once for the run, for a `podium run` of the test to serve."""
    server = Server(tmp_path / "data", tmp_path / "server.log", database_url)
    keys, labels = worlds.copy("server site", build_site, database_url=database_url, data_dir=server.data_dir,
                               folder=tmp_path)
    yield server, keys, labels
    server.stop()
    close_readers()


READERS: dict[str, Engine] = {}


def reader(url: str) -> Engine:
    """An engine that reads in autocommit (no transaction of ours holds the servers back). It keeps its few
    connections open from one read to the next (a test polls many times a second, and a new PostgreSQL connection
    took 30 ms on a busy machine); the fixture that starts the test's servers closes them (`close_readers`) before
    the test's database goes."""
    if url not in READERS:
        READERS[url] = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=4)
    return READERS[url]


def close_readers() -> None:
    while READERS:
        READERS.popitem()[1].dispose()


def rows(server: Server) -> list[tuple]:
    """The submissions as the servers stored them, read straight from the database."""
    with reader(server.database_url).connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(
            "SELECT id, description, status, public_score, private_score, sha256, claimed_by, user_id "
            "FROM submissions ORDER BY id")]


def wait_until(condition, timeout: float = WAIT, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def unfinished(server: Server) -> int:
    return sum(1 for r in rows(server) if r[2] in ("queued", "scoring"))


def expected_scores(server: Server, tmp_path: Path, contents: dict[str, bytes],
                    threads: int = 8) -> dict[str, tuple[float, float]]:
    """What a dry run of each file gives, in this process: `threads` at once, as the scoring threads of a server
    run them (a slow metric mostly waits)."""
    rt = make_runtime(data_dir=server.data_dir, database_url=server.database_url)
    try:
        with rt.db.session() as session:
            comp = get_competition(session, COMPETITION)

        def dry_run(description: str) -> tuple[float, float]:
            path = tmp_path / f"{description}.csv"
            path.write_bytes(contents[description])
            result = submissions.dry_run(rt.settings, comp, path)
            return result.public, result.private

        with ThreadPoolExecutor(max_workers=threads) as pool:
            return dict(zip(contents, pool.map(dry_run, contents)))
    finally:
        rt.db.dispose()


def test_a_sigkill_during_a_burst_of_uploads_loses_nothing_and_scores_each_once(site, tmp_path):
    server, keys, labels = site
    server.start()
    first_workers = server.worker_pids()
    attempts = [(f"burst-{i:02d}", f"s{i % 4}@x.edu", guesses(labels, 0.30 + 0.02 * i, seed=i)) for i in range(24)]
    contents = {description: content for description, _, content in attempts}
    responses: dict[str, tuple[int, dict] | Exception] = {}
    at_kill: list[list[tuple]] = []

    def send(attempt):
        description, email, content = attempt
        try:
            responses[description] = upload(server.port, COMPETITION, email, keys[email], content, description)
        # The server died under this upload, even halfway through its answer: it was never acknowledged.
        except (OSError, http.client.HTTPException) as exc:
            responses[description] = exc

    def killer():
        # Kill once uploads have been acknowledged and some of them wait in the queue or are being scored.
        wait_until(lambda: sum(1 for r in responses.values() if isinstance(r, tuple)) >= 6 and unfinished(server) >= 2)
        at_kill.append(rows(server))
        server.kill(signal.SIGKILL)

    killing = threading.Thread(target=killer)
    killing.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(send, attempts))
    killing.join(WAIT)

    snapshot = at_kill[0]
    mid_flight = {r[1] for r in snapshot if r[2] in ("queued", "scoring")}
    assert len(mid_flight) >= 2, "the kill must land while uploads wait or are being scored"
    acknowledged = {d: r[1] for d, r in responses.items() if isinstance(r, tuple) and 200 <= r[0] < 300}
    refused = {d for d, r in responses.items() if isinstance(r, tuple) and not 200 <= r[0] < 300}
    assert len(acknowledged) >= 6 and not refused
    assert any(isinstance(r, Exception) for r in responses.values()), "some uploads were cut off by the kill"

    print(f"at the kill: {len(snapshot)} stored, {len(mid_flight)} queued or scoring; {len(acknowledged)} acknowledged, "
          f"{sum(isinstance(r, Exception) for r in responses.values())} cut off")
    server.start()  # same data folder: the restarted server recovers what the dead one left
    assert wait_until(lambda: unfinished(server) == 0, every=0.2), rows(server)

    final = rows(server)
    by_description = {}
    for row in final:
        assert row[1] not in by_description, f"{row[1]} stored twice"
        by_description[row[1]] = row
    # Nothing lost: every acknowledged upload is there, with the id the server gave, once.
    assert set(acknowledged) <= set(by_description)
    assert all(by_description[d][0] == body["id"] for d, body in acknowledged.items())
    # No extra rows: anything else is an upload the server stored but could not acknowledge before it died.
    extra = set(by_description) - set(acknowledged)
    assert extra <= {d for d, r in responses.items() if isinstance(r, Exception)}
    # Every row scored, with the scores of a dry run of the same file; the file is the one sent.
    expected = expected_scores(server, tmp_path, contents)
    for description, row in by_description.items():
        assert row[2] == "scored", row
        assert (row[3], row[4]) == pytest.approx(expected[description], abs=1e-12)
        assert row[5] == hashlib.sha256(contents[description]).hexdigest()
    # What the dead server had in the queue or in hand was scored by the restarted one.
    restarted = server.worker_pids()
    assert all(pid_of(by_description[d][6]) in restarted for d in mid_flight)
    assert all(pid_of(row[6]) in first_workers | restarted for row in final)
    assert len({round(row[3], 9) for row in final}) > 1  # the uploads really differ


def test_parallel_http_uploads_at_the_daily_limit_never_exceed_it(site):
    server, keys, labels = site
    server.start()
    content = guesses(labels, 0.5, seed=1)
    email = "s1@x.edu"
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(lambda i: upload(server.port, COMPETITION, email, keys[email], content, f"p{i}"),
                                 range(14)))
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [202] * 6 + [429] * 8
    assert all(body["code"] == 429 and "6" in body["message"] for status, body in outcomes if status == 429)
    assert len(rows(server)) == 6


def start_upload(port: int, email: str, key: str, content: bytes, description: str):
    """Send an upload's head and the first half of its body; returns the connection and the half still to send.

    It is sent on a kept-alive connection, which has had an answer already: a server process holds it, where a new
    connection could still be waiting in the listen queue."""
    body, content_type = multipart({"description": description}, "predictions.csv", content)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    conn.putrequest("POST", f"/api/competitions/{COMPETITION}/submissions")
    for name, value in (("Content-Type", content_type), ("Content-Length", str(len(body))),
                        ("Authorization", "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode())):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body[:len(body) // 2])
    return conn, body[len(body) // 2:]


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs. One that has ended but is not reaped yet does not count: once
    `podium run` has exited, its workers' ended processes wait as zombies for init, which on this machine collects
    them up to two seconds later (more when it is busy)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == group:
                return True
        except (ProcessLookupError, psutil.Error):  # it ended while we looked
            continue
    return False


def test_sigterm_stops_the_server_within_10_s_answering_the_upload_under_way(site):
    """Whatever clients hold connections, SIGTERM stops the whole server within the 10 s that `docker stop` allows:
    the upload under way is answered and stored, one that stalls is cut off, the scheduler gives its lease up and
    nothing is left listening."""
    server, keys, labels = site
    server.start()
    # A server done starting: its scheduler holds the lease, and each worker's fork server has loaded the scoring
    # stack (one still loading it when the worker goes outlives the worker by the rest of that load).
    assert wait_until(lambda: "lease until" in server.cli("jobs"), every=0.2)
    assert wait_until(lambda: server.ready_to_score(DEFAULT_SERVER_WORKERS))
    group = server.process.pid  # `podium run` leads the process group of the master and its workers
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) for _ in range(20)]
    for sock in slow:
        sock.sendall(b"GET /healthz HT")  # request lines that never end
    kept_alive = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    kept_alive.request("GET", "/healthz")
    kept_alive.getresponse().read()  # and an idle connection kept open for the next request
    conn, rest = start_upload(server.port, "s1@x.edu", keys["s1@x.edu"], guesses(labels, 0.5, seed=7), "under way")
    stalled, _ = start_upload(server.port, "s2@x.edu", keys["s2@x.edu"], guesses(labels, 0.6, seed=8), "stalls")

    server.process.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    assert wait_until(lambda: "Handling signal: term" in server.log.read_text(), every=0.01)
    conn.send(rest)
    response = conn.getresponse()
    assert response.status == 202, response.read()
    assert wait_until(lambda: server.process.poll() is not None, timeout=stopping + 10 - time.monotonic()), \
        "podium run still runs 10 s after SIGTERM"
    assert server.process.returncode == 0
    # No worker left either, nor a scoring process or fork server (each ends once the process it served is gone).
    assert wait_until(lambda: not group_alive(group), timeout=max(0.5, stopping + 10 - time.monotonic())), \
        "a process of podium run's group still runs 10 s after SIGTERM"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=WAIT).close()
    with pytest.raises((http.client.HTTPException, OSError)):
        stalled.getresponse()  # cut off unanswered
    for sock in slow:
        sock.close()

    # The upload was stored, and either scored or left queued for the next start; the lease was given up.
    assert [(r[1], r[2] in ("scored", "queued")) for r in rows(server)] == [("under way", True)]
    assert "deadline scheduler: not running" in server.cli("jobs")


def test_an_upload_that_stalls_halfway_holds_up_no_other(site):
    """The server reads a body whole before the application sees it, so no request waits on its client with a
    transaction open: on SQLite each one holds the only write lock, and would hold up every other upload."""
    server, keys, labels = site
    server.extra_env["PODIUM_CLIENT_STALL_SECONDS"] = "600"  # the stalled upload outlasts the test
    server.start()
    stalled, _ = start_upload(server.port, "s2@x.edu", keys["s2@x.edu"], guesses(labels, 0.6, seed=8), "stalls")
    try:
        status, body = upload(server.port, COMPETITION, "s1@x.edu", keys["s1@x.edu"], guesses(labels, 0.5, seed=9),
                              "goes through")
        assert status == 202, body
        assert [r[1] for r in rows(server)] == ["goes through"]
    finally:
        stalled.close()


def test_two_servers_on_one_database_score_each_upload_once_and_the_survivor_takes_over(site, tmp_path):
    """A runs the scheduler (recovery every second), B runs with --no-scheduler; both take uploads. B is killed
    mid-burst and not restarted: A's periodic recovery scores what B left, and nothing is scored twice."""
    server, keys, labels = site
    a = Server(server.data_dir, tmp_path / "a.log", server.database_url,
               extra_env={"PODIUM_RECOVERY_SECONDS": "1"}).start()
    b = Server(server.data_dir, tmp_path / "b.log", server.database_url, args=("--no-scheduler",)).start()
    # Both score what they receive from the start: otherwise A's recovery takes B's uploads while B still loads its
    # scoring stack, and B is never seen scoring.
    assert wait_until(lambda: a.ready_to_score(DEFAULT_SERVER_WORKERS) and b.ready_to_score(DEFAULT_SERVER_WORKERS))
    a_workers, b_workers = a.worker_pids(), b.worker_pids()
    try:
        attempts = [(f"two-{i:02d}", f"s{i % 4}@x.edu", (a, b)[i % 2], guesses(labels, 0.25 + 0.03 * i, seed=100 + i))
                    for i in range(20)]
        contents = {description: content for description, _, _, content in attempts}
        responses: dict[str, tuple[int, dict] | Exception] = {}
        at_kill: list[list[tuple]] = []

        def send(attempt):
            description, email, target, content = attempt
            try:
                responses[description] = upload(target.port, COMPETITION, email, keys[email], content, description)
            except (OSError, http.client.HTTPException) as exc:  # cut off by the kill, even mid-answer
                responses[description] = exc

        def held_by_b() -> list[tuple]:
            return [r for r in rows(server) if r[2] == "scoring" and pid_of(r[6]) in b_workers]

        def killer():
            wait_until(lambda: len(held_by_b()) >= 1 and unfinished(server) >= 2)
            at_kill.append(rows(server))
            b.kill(signal.SIGKILL)

        killing = threading.Thread(target=killer)
        killing.start()
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(send, attempts))
        killing.join(WAIT)
        assert at_kill, "B was never seen scoring"
        b_had = {r[1] for r in at_kill[0] if r[2] in ("queued", "scoring")
                 and (r[2] == "queued" or pid_of(r[6]) in b_workers)}
        assert any(r[2] == "scoring" and pid_of(r[6]) in b_workers for r in at_kill[0])

        assert wait_until(lambda: unfinished(server) == 0, every=0.2), rows(server)
        final = {r[1]: r for r in rows(server)}
        assert len(final) == len(rows(server))  # one row per upload
        acknowledged = {d for d, r in responses.items() if isinstance(r, tuple) and r[0] == 202}
        assert acknowledged <= set(final) and set(final) <= set(contents)
        expected = expected_scores(server, tmp_path, {d: contents[d] for d in final})
        for description, row in final.items():
            assert row[2] == "scored" and (row[3], row[4]) == pytest.approx(expected[description], abs=1e-12)
        # B's unfinished work, its claims included, was finished by A.
        assert b_had and all(pid_of(final[d][6]) in a_workers for d in b_had)
    finally:
        a.stop()
        b.stop()
