"""A course for the integrity report, as a world (tests/worlds.py): course c1 with `hw1` ([code] required, a
starter file every student received, 240 rows of which 180 Private, three labels), ten students who each uploaded
code and predictions written alone (generated from a seeded RNG), among them the planted copies:

- COPIER's code is ORIGINAL's renamed (every variable renamed, a comment added), in a zip with the starter file;
- PREDICTION_COPIER's predictions are PREDICTION_ORIGINAL's with 8 rows changed;
- SHARER uploaded SHARED_WITH's prediction file as it is (before their own);
- STARTER_A and STARTER_B both kept the starter file beside their own code.

Plus a TA of the course, and a TA and a student of course c2 for the attacks from another course.
"""
from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from podium.models import Role
from podium.runtime import Runtime
from podium.services import code, submissions
from podium.services.courses import get_competition, get_course, load_course
from podium.services.users import add_user
from tests.conftest import write_course
from tests.integrity.generated import STARTER, copied_with_changes, labels, program, renamed, zipped
from tests.worlds import CompetitionWorld

INTEGRITY_WORLD = "integrity course"
CID = "c1-hw1"
STUDENTS = tuple(f"s{i}@example.edu" for i in range(10))
ORIGINAL, COPIER = STUDENTS[2], STUDENTS[7]
PREDICTION_ORIGINAL, PREDICTION_COPIER = STUDENTS[3], STUDENTS[8]
SHARED_WITH, SHARER = STUDENTS[5], STUDENTS[6]
STARTER_A, STARTER_B = STUDENTS[0], STUDENTS[4]
NOTEBOOK_WRITER = STUDENTS[9]
TA, OTHER_TA, OTHER_STUDENT = "ta@example.edu", "ta2@example.edu", "zed@example.edu"
PASSWORD = "correct horse battery"
ROWS, PUBLIC, CLASSES = 240, 60, 3


def write_integrity_course(root: Path, now: datetime, truth: np.ndarray) -> Path:
    folder = write_course(root, now=now)
    comp = folder / "hw1"
    usage = ["Public"] * PUBLIC + ["Private"] * (ROWS - PUBLIC)
    (comp / "solution.csv").write_text("id,label,Usage\n" + "".join(
        f"{i},{truth[i]},{usage[i]}\n" for i in range(ROWS)))
    (comp / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},0\n" for i in range(ROWS)))
    (comp / "starter.py").write_text(STARTER)
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text() + '\n[code]\nrequired = true\nstarter = ["starter.py"]\n')
    return folder


def csv_of(labels_: np.ndarray) -> bytes:
    return ("id,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels_))).encode()


def notebook(source: str) -> bytes:
    import json

    cells = [{"cell_type": "markdown", "source": ["# Homework 1\n"]}]
    cells += [{"cell_type": "code", "source": part, "outputs": []} for part in source.split("\n\n\n")]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def student_uploads() -> tuple[np.ndarray, dict[str, tuple[str, bytes]], dict[str, list[bytes]]]:
    """The truth, each student's code upload (name, bytes) and prediction files (in upload order)."""
    rng = random.Random(17)
    codes = {email: program(rng, 2500) for email in STUDENTS}
    codes[COPIER] = renamed(codes[ORIGINAL])
    truth, guesses = labels(seed=17, students=len(STUDENTS), rows=ROWS, classes=CLASSES)
    by_email = {email: guesses[i] for i, email in enumerate(STUDENTS)}
    by_email[PREDICTION_COPIER] = copied_with_changes(by_email[PREDICTION_ORIGINAL], 8, seed=18, classes=CLASSES)
    uploads = {email: ("main.py", text.encode()) for email, text in codes.items()}
    uploads[COPIER] = ("work.zip", zipped({"work/starter.py": STARTER, "work/main.py": codes[COPIER]}))
    for email in (STARTER_A, STARTER_B):
        uploads[email] = ("code.zip", zipped({"starter.py": STARTER, "model.py": codes[email],
                                              "data/train.csv": "a,b\n1,2\n"}))
    uploads[NOTEBOOK_WRITER] = ("hw1.ipynb", notebook(codes[NOTEBOOK_WRITER]))
    files = {email: [csv_of(by_email[email])] for email in STUDENTS}
    files[SHARER] = [csv_of(by_email[SHARED_WITH]), csv_of(by_email[SHARER])]
    return truth, uploads, files


def build_integrity_world(rt: Runtime, folder: Path, now: datetime) -> CompetitionWorld:
    truth, uploads, files = student_uploads()
    c1 = write_integrity_course(folder / "courses", now, truth)
    c2 = write_course(folder / "other", now=now, slug="c2")
    users = {}
    with rt.db.session() as session:
        load_course(session, rt.settings, c1)
        load_course(session, rt.settings, c2)
        course, other = get_course(session, "c1"), get_course(session, "c2")
        people = [(e, course, Role.student) for e in STUDENTS] + [
            (TA, course, Role.staff), (OTHER_TA, other, Role.staff), (OTHER_STUDENT, other, Role.student)]
        for email, where, role in people:
            users[email] = add_user(session, email, where, role, password=PASSWORD,
                                    name=email.split("@")[0].upper()).id
        comp_id = get_competition(session, CID).id
    for n, email in enumerate(STUDENTS):
        for k, data in enumerate(files[email]):
            at = now - timedelta(hours=10 - k, minutes=n)
            sub = submissions.receive(rt.db, rt.settings, comp_id, users[email], io.BytesIO(data), "sub.csv", at=at)
            submissions.score(rt.db, rt.settings, sub.id)
        name, data = uploads[email]
        code.receive_code(rt.db, rt.settings, comp_id, users[email], io.BytesIO(data), name,
                          at=now - timedelta(hours=1, minutes=n))
    return CompetitionWorld(now=now, cid=CID, comp_id=comp_id, users=users)


def copy_integrity_world(worlds, rt: Runtime, tmp_path: Path) -> CompetitionWorld:
    return worlds.copy_into(rt, tmp_path, INTEGRITY_WORLD, build_integrity_world)
