"""Against real processes: `podium worker` scores what `podium run --no-scoring` receives, two workers score each
upload exactly once, a server killed twice while scoring a runaway file fails it at the next restart and scores
everything else, and SIGTERM stops a server or worker that is scoring a runaway file within 10 s, handing the
attempt back uncounted."""
from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from podium import attempts
from podium.runtime import make_runtime
from podium.services import users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import N_ROWS, predictions, write_course
from tests.jobs.conftest import GATED, MarkedCourse, RUNAWAY, marked, use_marked_metric
from tests.jobs.live import Server, Worker, scoring_processes, upload
from tests.jobs.test_server import close_readers, reader, rows, unfinished, wait_until

COMPETITION = "c1-hw1"
STUDENTS = ("s@x.edu", "t@x.edu")
STOP_SECONDS = 10  # how soon SIGTERM must stop a process that is scoring a runaway file


def build_site(tmp_path: Path, database_url: str) -> tuple[MarkedCourse, dict[str, str]]:
    """Course c1 with the marked metric (tests/jobs/conftest.py) and two students with API keys, in the data
    folder the processes of the test share."""
    course = write_course(tmp_path / "courses")
    (course / "course.toml").write_text((course / "course.toml").read_text().replace("daily_limit = 5",
                                                                                      "daily_limit = 100"))
    gate, tally = tmp_path / "gate", tmp_path / "tally.txt"
    use_marked_metric(course / "hw1", gate, tally)
    rt = make_runtime(data_dir=tmp_path / "data", database_url=database_url)
    try:
        with rt.db.session() as session:
            load_course(session, rt.settings, course)
            c1 = get_course(session, "c1")
            people = [users.add_user(session, email, c1, "student") for email in STUDENTS]
            keys = {person.email: users.issue_api_key(session, person) for person in people}
            site = MarkedCourse(get_competition(session, COMPETITION).id, tuple(p.id for p in people), gate, tally)
    finally:
        rt.db.dispose()
    tally.unlink(missing_ok=True)
    return site, keys


@pytest.fixture
def site(tmp_path, database_url):
    processes: list[Server] = []

    def start(kind=Worker, *args: str, log: str = "worker.log", **env: str) -> Server:
        process = kind(tmp_path / "data", tmp_path / log, database_url, args=args, extra_env=env).start()
        processes.append(process)
        return process

    marked_course, keys = build_site(tmp_path, database_url)
    yield marked_course, keys, start
    for process in processes:
        process.stop()
    close_readers()


def receive(tmp_path: Path, database_url: str, site: MarkedCourse, texts: list[tuple[str, int]]) -> list[int]:
    """Uploads received (queued) through the services, as a web process with --no-scoring records them."""
    rt = make_runtime(data_dir=tmp_path / "data", database_url=database_url)
    try:
        return [site.upload(rt, text, student).id for text, student in texts]
    finally:
        rt.db.dispose()


def metric_calls(text: str) -> tuple[str, str]:
    """What the marked metric records for one scoring of `text`: its Public and its Private predictions."""
    labels = [line.split(",")[1] for line in text.splitlines()[1:]]
    return ",".join(labels[:6]), ",".join(labels[6:18])


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def by_id(server: Server) -> dict[int, tuple]:
    return {row[0]: row for row in rows(server)}


def attempts_of(server: Server, submission_id: int) -> tuple[str, int, str | None]:
    with reader(server.database_url).connect() as connection:
        return tuple(connection.exec_driver_sql(
            f"SELECT status, attempts, claimed_by FROM submissions WHERE id = {int(submission_id)}").one())


def error_of(server: Server, submission_id: int) -> str:
    with reader(server.database_url).connect() as connection:
        return connection.exec_driver_sql(f"SELECT error FROM submissions WHERE id = {int(submission_id)}").scalar()


def scoring_child(process: Server) -> bool:
    """The process (or one of its gunicorn workers) has a scoring process running: a child of a fork server."""
    return bool(scoring_processes(process.process.pid))


def test_workers_score_what_a_server_without_scoring_receives_each_upload_exactly_once(site):
    marked_course, keys, start = site
    server = start(Server, "--no-scoring", log="server.log")
    quick = {"PODIUM_QUEUE_POLL_SECONDS": "0.1", "PODIUM_SCORING_WORKERS": "1"}
    workers = [start(Worker, log=f"worker-{n}.log", **quick) for n in range(2)]
    assert wait_until(lambda: all(scoring_child(worker) for worker in workers))  # both ready to score
    # A gated upload first: the worker that claims it is held in its one slot, so the other one must score what
    # follows, however the machine schedules the two. The gate opens once the other has scored one, and from then
    # on the two race for every claim.
    gated = ("gated", STUDENTS[0], marked(GATED))
    assert upload(server.port, COMPETITION, gated[1], keys[gated[1]], gated[2].encode(), gated[0])[0] == 202
    assert wait_until(lambda: all(row[6] for row in rows(server) if row[1] == "gated")), rows(server)
    texts = [(f"up-{n:02d}", STUDENTS[n % 2], predictions(correct=set(range(n % N_ROWS)) | {19 - n % 7}))
             for n in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda t: upload(server.port, COMPETITION, t[1], keys[t[1]], t[2].encode(), t[0]),
                                texts))
    assert [status for status, _ in answers] == [202] * len(texts)
    assert wait_until(lambda: any(row[2] == "scored" for row in rows(server) if row[1] != "gated")), rows(server)
    marked_course.open_gate()
    assert wait_until(lambda: unfinished(server) == 0, every=0.1), rows(server)

    texts.append(gated)
    final = {row[1]: row for row in rows(server)}
    assert sorted(final) == sorted(description for description, _, _ in texts)
    for description, _, text in texts:
        right = [line.split(",")[1] == str(int(line.split(",")[0]) % 3) for line in text.splitlines()[1:]]
        assert final[description][2] == "scored"
        assert final[description][3:5] == (sum(right[:6]) / 6, sum(right[6:18]) / 12)
    # Scored by the workers only, both of them, and each upload exactly once: the metric ran once on the Public
    # rows and once on the Private rows of each upload, and never more.
    scorers = Counter(int(row[6].split(":")[1]) for row in final.values())
    assert set(scorers) == {worker.process.pid for worker in workers}
    calls = Counter(line.split(" ", 1)[1] for line in marked_course.scorings())
    assert calls == Counter(split for _, _, text in texts for split in metric_calls(text))
    logs = "".join(process.log.read_text() for process in (server, *workers))
    assert "was taken over" not in logs and "Traceback" not in logs


def test_a_server_killed_twice_while_scoring_a_runaway_file_fails_it_and_scores_the_rest(site, tmp_path,
                                                                                        database_url):
    marked_course, _, start = site
    poison, *normal = receive(tmp_path, database_url, marked_course,
                              [(marked(RUNAWAY), 0), *((predictions(correct=set(range(n))), n % 2) for n in range(6))])
    env = {"PODIUM_SCORING_WORKERS": "1", "PODIUM_SCORING_ATTEMPTS": "2"}  # one slot: the poison blocks it
    for attempt in (1, 2):
        worker = start(Worker, **env)
        assert wait_until(lambda: attempts_of(worker, poison)[:2] == ("scoring", attempt) and scoring_child(worker))
        children = descendants(worker.process)
        worker.kill(signal.SIGKILL)
        # The attempt dies with its server: nothing keeps running the runaway file.
        assert wait_until(lambda: all(gone(child) for child in children)), children
        assert all(by_id(worker)[n][2] == "queued" for n in normal)  # held up behind the poison, oldest first
    worker = start(Worker, **env)
    assert wait_until(lambda: unfinished(worker) == 0, every=0.1), rows(worker)
    final = by_id(worker)
    assert attempts_of(worker, poison)[:2] == ("failed", 3)  # failed at its third claim, without scoring it
    assert error_of(worker, poison) == attempts.gave_up_message(2)
    assert all(final[n][2] == "scored" for n in normal)


@pytest.mark.parametrize("kind, args", [(Worker, ()), (Server, ()), (Server, ("--workers", "2"))],
                         ids=["podium worker", "podium run", "podium run --workers 2"])
def test_sigterm_stops_a_process_scoring_a_runaway_file_at_once_and_gives_the_attempt_back(site, tmp_path,
                                                                                          database_url, kind, args):
    marked_course, _, start = site
    [poison] = receive(tmp_path, database_url, marked_course, [(marked(RUNAWAY), 0)])
    process = start(kind, *args)
    assert wait_until(lambda: attempts_of(process, poison)[:2] == ("scoring", 1) and scoring_child(process))
    children = descendants(process.process)
    process.process.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    try:
        code = process.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_SECONDS} s after SIGTERM:\n{process.log.read_text()}")
    print(f"stopped {time.monotonic() - stopping:.1f} s after SIGTERM")
    assert code == 0
    assert attempts_of(process, poison) == ("queued", 0, None)  # back in the queue, the attempt not counted
    assert wait_until(lambda: all(gone(child) for child in children))
    assert marked_course.scorings() == []
