"""Fixtures for the background-work tests: a loaded course with one student, uploads, a finished process's pid."""
from __future__ import annotations

import io
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from podium.models import Submission
from podium.services import submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import predictions


@pytest.fixture
def ids(rt, course_dir):
    """(competition id, student id) in a loaded course."""
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        student = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
        return get_competition(session, "c1-hw1").id, student.id


def upload(rt, ids, text: str = predictions()) -> Submission:
    return submissions.receive(rt.db, rt.settings, *ids, io.BytesIO(text.encode()), "pred.csv")


def hours_ago(n: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=n)


@pytest.fixture(scope="session")
def dead_holder() -> str:
    """The holder name of a process of this host that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    return f"{socket.gethostname()}:{int(child.stdout)}:0badc0de"
