"""Fixtures for the background-work tests: a loaded course with one student, uploads, a finished process's pid."""
from __future__ import annotations

import io
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from podium.models import Submission
from podium.services import submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import N_ROWS, predictions, write_course


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


# --- a competition whose metric misbehaves on request ----------------------------------------------------

# A Kaggle-style metric that scores accuracy, records each call in a tally file (which process, which predictions),
# and misbehaves when every prediction is one marker label: runs away (7), eats memory (8), kills its own process
# (9), or waits for a gate file to appear (6).
MARKED_METRIC = textwrap.dedent("""
    import os
    import signal
    import time
    from pathlib import Path

    import numpy as np

    GATE, TALLY = Path({gate!r}), Path({tally!r})


    def score(solution, submission, row_id_column_name):
        solution = solution.sort_values(row_id_column_name)
        labels = submission.sort_values(row_id_column_name)["label"].to_numpy()
        if (labels == 7).all():
            time.sleep(3600)
        if (labels == 8).all():
            hog = np.ones(2**30 // 8)  # 1 GB, every page written
            time.sleep(3600)
        if (labels == 9).all():
            os.kill(os.getpid(), signal.SIGKILL)
        if (labels == 6).all():
            deadline = time.monotonic() + 120
            while not GATE.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        with TALLY.open("a") as tally:
            tally.write(f"{{os.getpid()}} {{','.join(map(str, labels.tolist()))}}\\n")
        return float((solution["label"].to_numpy() == labels).mean())
""")
RUNAWAY, HOG, CRASH, GATED = 7, 8, 9, 6


def marked(label: int, rows: range = range(N_ROWS)) -> str:
    """An upload whose every prediction is `label`."""
    return "id,label\n" + "".join(f"{i},{label}\n" for i in rows)


def use_marked_metric(competition: Path, gate: Path, tally: Path) -> None:
    (competition / "metric.py").write_text(MARKED_METRIC.format(gate=str(gate), tally=str(tally)))
    toml = competition / "competition.toml"
    toml.write_text(toml.read_text().replace('metric = "accuracy"',
                                             'metric = "custom:metric.py"\nhigher_is_better = true'))


@dataclass
class MarkedCourse:
    """Course c1 (daily limit 100) with the marked metric and two students, s@x.edu and t@x.edu."""

    comp_id: int
    students: tuple[int, int]
    gate: Path
    tally: Path

    def upload(self, rt, text: str = predictions(), student: int = 0) -> Submission:
        return submissions.receive(rt.db, rt.settings, self.comp_id, self.students[student],
                                   io.BytesIO(text.encode()), "pred.csv")

    def open_gate(self) -> None:
        self.gate.touch()

    def scorings(self) -> list[str]:
        """One line per metric call (two per scoring: Public and Private rows), `pid predictions`."""
        return self.tally.read_text().splitlines() if self.tally.exists() else []


@pytest.fixture
def marked_course(rt, tmp_path) -> MarkedCourse:
    course = write_course(tmp_path / "courses")
    (course / "course.toml").write_text((course / "course.toml").read_text().replace("daily_limit = 5",
                                                                                      "daily_limit = 100"))
    gate, tally = tmp_path / "gate", tmp_path / "tally.txt"
    use_marked_metric(course / "hw1", gate, tally)
    with rt.db.session() as session:
        load_course(session, rt.settings, course)
        c1 = get_course(session, "c1")
        students = tuple(users.add_user(session, email, c1, "student").id for email in ("s@x.edu", "t@x.edu"))
        comp_id = get_competition(session, "c1-hw1").id
    tally.unlink(missing_ok=True)  # what loading the course scored (the sample submission) is no upload
    return MarkedCourse(comp_id, students, gate, tally)
