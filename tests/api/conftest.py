"""Fixtures for the API tests: a course with people in every role and their API keys, the app with its real
background scoring pool, a live server on 127.0.0.1, and the unmodified `kaggle==1.6.17` CLI in its own venv."""
from __future__ import annotations

import base64
import fcntl
import io
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from podium.models import Status, Submission
from podium.services import submissions, users
from podium.services.courses import get_competition, get_course, load_course
from podium.web import create_app
from tests.conftest import predictions, write_course

REPO = Path(__file__).resolve().parents[2]
KAGGLE_VERSION = "1.6.17"
KAGGLE_VENV = REPO / ".venv" / f"kaggle-{KAGGLE_VERSION}"  # .venv/ is git-ignored and removed by `make clean`
WAIT_SECONDS = 60


@dataclass(frozen=True)
class Person:
    email: str
    key: str
    id: int
    name: str = ""

    @property
    def auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.email}:{self.key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@dataclass
class World:
    comp_id: int
    public_id: str
    people: dict[str, Person] = field(default_factory=dict)

    def __getattr__(self, role: str) -> Person:
        if role.startswith("_") or role == "people":
            raise AttributeError(role)
        try:
            return self.people[role]
        except KeyError:
            raise AttributeError(role) from None


PEOPLE = [
    # role in the tests, email, course, course role, name, leaderboard name
    ("student", "student@c1.test", "c1", "student", "Stu Dent", "Overfitter"),
    ("other", "other@c1.test", "c1", "student", "Oth Er", "Underfitter"),
    ("staff", "ta@c1.test", "c1", "staff", "Tea Assistant", ""),
    ("instructor", "prof@c1.test", "c1", "instructor", "Pro Fessor", ""),
    ("outsider", "outsider@c2.test", "c2", "student", "Out Sider", "Stranger"),
]


@pytest.fixture
def now(worlds) -> datetime:
    """The instant the world's schedule was written against (the run's worlds are built at it)."""
    return worlds.now


def build_world(rt, folder: Path, now: datetime) -> World:
    """Course c1 (hw1: open, on time in 3 days, late window 4 days more, daily limit 5) with two students, a TA
    and an instructor; course c2 (hw9) with an outsider; everyone has an API key."""
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(folder / "courses", now=now))
        load_course(session, rt.settings, write_course(folder / "other", slug="c2", competition="hw9", now=now))
        world = World(comp_id=get_competition(session, "c1-hw1").id, public_id="c1-hw1")
        for role, email, course, course_role, name, board_name in PEOPLE:
            user = users.add_user(session, email, get_course(session, course), course_role, name=name,
                                  leaderboard_name=board_name)
            key = users.issue_api_key(session, user)
            session.flush()
            world.people[role] = Person(email, key, user.id, name)
    return world


@pytest.fixture
def world(rt, worlds, tmp_path, world_database) -> World:
    """A copy of the world `build_world` made once for the run; its course folders in tmp_path."""
    return worlds.copy_into(rt, tmp_path, "api world", build_world)


@pytest.fixture
def closed(rt, tmp_path, world) -> str:
    """Course c3: competition hw0 closed 33 days ago; the student is enrolled in it too."""
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(tmp_path / "closed", slug="c3", competition="hw0",
                                                       now=datetime.now(timezone.utc) - days(40)))
        users.add_user(session, world.student.email, get_course(session, "c3"), "student")
    return "c3-hw0"


@pytest.fixture
def app(rt):
    app = create_app(runtime=rt)
    app.config["TESTING"] = True
    pool = app.extensions["podium.scoring"]
    yield app
    pool.shutdown(wait=True)


@pytest.fixture
def client(app):
    return app.test_client()


def submit_scored(rt, world: World, person: Person, text: str = predictions(), *, at: datetime | None = None,
                  comp_id: int | None = None) -> int:
    """A submission recorded and scored through the services (no HTTP), for tests about reading."""
    sub = submissions.receive(rt.db, rt.settings, comp_id or world.comp_id, person.id, io.BytesIO(text.encode()),
                              "pred.csv", at=at)
    scored = submissions.score(rt.db, rt.settings, sub.id)
    assert scored is not None and scored.status in (Status.scored, Status.failed)
    return sub.id


def wait_until_done(rt, submission_id: int, timeout: float = WAIT_SECONDS) -> Submission:
    """The submission once the background pool has scored it (or failed it)."""
    deadline = time.monotonic() + timeout
    while True:
        with rt.db.session() as session:
            sub = session.get(Submission, submission_id)
        if sub.status in (Status.scored, Status.failed):
            return sub
        if time.monotonic() > deadline:
            raise AssertionError(f"submission {submission_id} is still {sub.status.value} after {timeout} s")
        time.sleep(0.05)


# --- a live server and the real Kaggle CLI ---------------------------------------------------------------


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free port of 127.0.0.1, in a thread of the test process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="podium-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def ensure_kaggle_cli() -> Path:
    """The `kaggle` command of kaggle==1.6.17 in its own virtualenv, created once and then reused.

    The client is installed unmodified from PyPI; a lock lets parallel test runs share one installation.
    """
    ready = KAGGLE_VENV / ".ready"
    command = KAGGLE_VENV / "bin" / "kaggle"
    if ready.is_file() and command.is_file():
        return command
    KAGGLE_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(KAGGLE_VENV.parent / f".kaggle-{KAGGLE_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.is_file() and command.is_file():
            return command
        shutil.rmtree(KAGGLE_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(KAGGLE_VENV)], check=True)
        subprocess.run([str(KAGGLE_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"kaggle=={KAGGLE_VERSION}"], check=True)
        ready.write_text(KAGGLE_VERSION)
    return command


@pytest.fixture(scope="session")
def kaggle_command() -> Path:
    return ensure_kaggle_cli()


@dataclass
class KaggleCli:
    command: Path
    endpoint: str
    config_dir: Path
    cwd: Path

    def run(self, *args: str, who: Person, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
        env.update(KAGGLE_API_ENDPOINT=self.endpoint, KAGGLE_USERNAME=who.email, KAGGLE_KEY=who.key,
                   KAGGLE_CONFIG_DIR=str(self.config_dir), NO_PROXY="127.0.0.1,localhost",
                   no_proxy="127.0.0.1,localhost", PYTHONIOENCODING="utf-8")
        return subprocess.run([str(self.command), *args], env=env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture
def kaggle(kaggle_command, live_server, tmp_path) -> KaggleCli:
    config_dir = tmp_path / "kaggle-config"
    config_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    return KaggleCli(kaggle_command, live_server, config_dir, work)


def days(n: float) -> timedelta:
    return timedelta(days=n)
