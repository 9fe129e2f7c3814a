"""The security tests run on the web tests' world: course c1 (competition hw1) with two students, a TA and an
instructor, and an outsider enrolled in course c2 (tests/web/conftest.py). `people` adds what the authorisation
matrix needs: everyone's API key, a scored submission of each student and of the outsider, and extensions."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pytest

from podium.models import User
from podium.services import extensions, users
from podium.services.courses import get_competition
from tests.conftest import predictions
from tests.web.conftest import (Course, app, as_instructor, as_other, as_outsider, as_staff, as_student,  # noqa: F401
                                cheap_password_hashing, client, course, now)
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
    c2_extension: int = 0

    def basic(self, role: str) -> dict[str, str]:
        token = base64.b64encode(f"{EMAIL[role]}:{self.keys[role]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@pytest.fixture
def people(rt, course) -> People:
    world = People(course)
    with rt.db.session() as session:
        for role, email in EMAIL.items():
            user = users.get_user(session, email)
            world.ids[role] = user.id
            world.keys[role] = users.issue_api_key(session, user)
    world.subs["student"] = record(rt, course.comp_id, EMAIL["student"], predictions(), description=SECRET["student"])
    world.subs["other"] = record(rt, course.comp_id, EMAIL["other"], predictions(set(range(10))),
                                 description=SECRET["other"])
    with rt.db.session() as session:
        c2_comp = get_competition(session, "c2-hw9").id
    world.subs["outsider"] = record(rt, c2_comp, EMAIL["outsider"], predictions(), description=SECRET["outsider"])
    with rt.db.session() as session:
        outsider = session.get(User, world.ids["outsider"])
        ext = extensions.grant(session, get_competition(session, "c2-hw9"), outsider, days=1, reason="c2 business",
                               actor="cli")
        session.flush()
        world.c2_extension = ext.id
    return world
