"""A course whose competition requires code (POLICY.md section 12), as a world (tests/worlds.py): course c1 with
`hw1` ([code] required, a starter file, the code deadline two days after `late`), two students, a TA; and course
c2 with its own TA and student, for the attacks from another course."""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from podium.models import Role
from podium.runtime import Runtime
from podium.services import code, submissions
from podium.services.courses import get_competition, get_course, load_course
from podium.services.users import add_user
from tests.conftest import N_ROWS, predictions, write_course
from tests.worlds import CompetitionWorld

CODE_WORLD = "code course"
CID = "c1-hw1"
STUDENTS = ("ada@example.edu", "bo@example.edu")
TA = "ta@example.edu"
OTHER_TA = "ta2@example.edu"
OTHER_STUDENT = "zed@example.edu"
PASSWORD = "correct horse battery"
STARTER = "import numpy as np\n\ndef load_data(path):\n    return np.load(path)\n"


def write_code_course(root: Path, now: datetime, *, required: bool = True, extra: str = "") -> Path:
    folder = write_course(root, now=now, extra_evaluation="")
    toml = folder / "hw1" / "competition.toml"
    (folder / "hw1" / "starter.py").write_text(STARTER)
    defaults = {"required": "true" if required else "false", "starter": '["starter.py"]', "max_mb": "1"}
    lines = [f"{key} = {value}" for key, value in defaults.items() if f"{key} =" not in extra]
    toml.write_text(toml.read_text() + "\n[code]\n" + "\n".join([*lines, extra]) + "\n")
    return folder


def build_code_world(rt: Runtime, folder: Path, now: datetime) -> CompetitionWorld:
    c1 = write_code_course(folder / "courses", now)
    c2 = write_course(folder / "other", now=now, slug="c2")
    users = {}
    with rt.db.session() as session:
        load_course(session, rt.settings, c1)
        load_course(session, rt.settings, c2)
        course, other = get_course(session, "c1"), get_course(session, "c2")
        for email, where, role in ((STUDENTS[0], course, Role.student), (STUDENTS[1], course, Role.student),
                                   (TA, course, Role.staff), (OTHER_TA, other, Role.staff),
                                   (OTHER_STUDENT, other, Role.student)):
            users[email] = add_user(session, email, where, role, password=PASSWORD, name=email.split("@")[0].title()).id
        comp_id = get_competition(session, CID).id
    for email, right in ((STUDENTS[0], set(range(N_ROWS))), (STUDENTS[1], set(range(0, N_ROWS, 2)))):
        sub = submissions.receive(rt.db, rt.settings, comp_id, users[email], io.BytesIO(predictions(right).encode()),
                                  "predictions.csv")
        submissions.score(rt.db, rt.settings, sub.id)
    return CompetitionWorld(now=now, cid=CID, comp_id=comp_id, users=users)


def copy_code_world(worlds, rt: Runtime, tmp_path: Path) -> CompetitionWorld:
    return worlds.copy_into(rt, tmp_path, CODE_WORLD, build_code_world)


def upload(rt: Runtime, world: CompetitionWorld, email: str, data: bytes = b"print('mine')\n", name: str = "main.py",
           at: datetime | None = None):
    return code.receive_code(rt.db, rt.settings, world.comp_id, world.users[email], io.BytesIO(data), name, at=at)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
