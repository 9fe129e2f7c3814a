"""The security tests run on the web tests' world: course c1 (competition hw1) with two students, a TA and an
instructor, and an outsider enrolled in course c2 (tests/web/conftest.py). `people` adds what the authorisation
matrix needs: everyone's API key, a scored submission of each student and of the outsider, and extensions."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from podium.services import code, extensions, users
from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.web.conftest import (Course, app, as_instructor, as_other, as_outsider, as_staff, as_student,  # noqa: F401
                                build_course, client, now)
from tests.web.helpers import record

# The roles of the matrix, in the order a test visits them: refusals first, so an allowed change made by a later
# role cannot turn an earlier refusal into an accident of order.
ROLES = ("anonymous", "outsider", "other", "student", "staff", "instructor")
EMAIL = {"student": "student@c1.test", "other": "other@c1.test", "staff": "ta@c1.test", "instructor": "prof@c1.test",
         "outsider": "outsider@c2.test"}
# Text only its author (and the course's staff) may see.
SECRET = {"student": "A-secret-description", "other": "B-secret-description", "outsider": "C2-secret-description"}


@dataclass
class People:
    course: Course
    ids: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    subs: dict[str, int] = field(default_factory=dict)   # one scored submission per student, by role
    code: dict[str, int] = field(default_factory=dict)   # one code upload of the student's, by role
    c2_extension: int = 0

    def basic(self, role: str) -> dict[str, str]:
        token = base64.b64encode(f"{EMAIL[role]}:{self.keys[role]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


def build_people(rt, folder: Path, now: datetime) -> People:
    """The web tests' course (build_course) with everyone's API key, a scored submission of each student and of
    the outsider, and an extension in course c2."""
    world = People(build_course(rt, folder, now))
    with rt.db.session() as session:
        for role, email in EMAIL.items():
            user = users.get_user(session, email)
            world.ids[role] = user.id
            world.keys[role] = users.issue_api_key(session, user)
    world.subs["student"] = record(rt, world.course.comp_id, EMAIL["student"], predictions(),
                                   description=SECRET["student"])
    world.subs["other"] = record(rt, world.course.comp_id, EMAIL["other"], predictions(set(range(10))),
                                 description=SECRET["other"])
    with rt.db.session() as session:
        c2_comp = get_competition(session, "c2-hw9").id
    world.subs["outsider"] = record(rt, c2_comp, EMAIL["outsider"], predictions(), description=SECRET["outsider"])
    with rt.db.session() as session:
        outsider = users.get_user(session, EMAIL["outsider"])
        ext = extensions.grant(session, get_competition(session, "c2-hw9"), outsider, days=1, reason="c2 business",
                               actor="cli")
        session.flush()
        world.c2_extension = ext.id
    # hw1 collects code (POLICY.md section 12), as a [code] table would say; optional, so that grades, finalisation
    # and release are those the other security tests expect.
    with rt.db.session() as session:
        hw1 = get_competition(session, world.course.public_id)
        hw1.code_deadline = hw1.late + timedelta(days=2)
        hw1.code_settings = {"required": False, "max_mb": 1.0, "kinds": [".py", ".zip"], "starter": []}
    world.code["student"] = code.receive_code(rt.db, rt.settings, world.course.comp_id, world.ids["student"],
                                              io.BytesIO(b"# " + SECRET["student"].encode()), "a.py").id
    return world


@pytest.fixture
def people(rt, worlds, tmp_path, world_database) -> People:
    """A copy of the world `build_people` made once for the run; its course folders in tmp_path."""
    return worlds.copy_into(rt, tmp_path, "security people", build_people)


@pytest.fixture
def course(people) -> Course:
    """The course of `people`: the security tests that use both get one world, not two."""
    return people.course
