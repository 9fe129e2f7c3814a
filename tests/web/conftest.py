"""Fixtures for the web tests: a loaded course with people in every role, an app whose scoring runs inline, and a
test client that signs in and sends forms with their CSRF token like a browser does."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from podium.services import users
from podium.services.courses import get_course, load_course
from podium.web import create_app
from tests.conftest import write_course
from tests.web.big_course import BigCourse, build_big_course
from tests.web.helpers import PASSWORD, Browser, InlineScoring


@pytest.fixture
def now(worlds) -> datetime:
    """The instant the course's schedule was written against (the run's worlds are built at it)."""
    return worlds.now


@dataclass
class Course:
    slug: str
    comp_id: int
    public_id: str
    student: str = "student@c1.test"
    other: str = "other@c1.test"
    staff: str = "ta@c1.test"
    instructor: str = "prof@c1.test"
    outsider: str = "outsider@c2.test"


def build_course(rt, folder: Path, now: datetime) -> Course:
    """Course c1 (competition hw1: open now, early passed 5 days ago, on time in 3 days, late 4 days after) with a
    student, a second student, a TA and an instructor; an outsider is enrolled in another course."""
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(folder / "courses", now=now))
        load_course(session, rt.settings, write_course(folder / "other", slug="c2", competition="hw9", now=now))
        c1, c2 = get_course(session, "c1"), get_course(session, "c2")
        users.add_user(session, "student@c1.test", c1, "student", name="Stu Dent", leaderboard_name="Overfitter",
                       password=PASSWORD)
        users.add_user(session, "other@c1.test", c1, "student", name="Oth Er", leaderboard_name="Underfitter",
                       password=PASSWORD)
        users.add_user(session, "ta@c1.test", c1, "staff", name="Tea Assistant", password=PASSWORD)
        users.add_user(session, "prof@c1.test", c1, "instructor", name="Pro Fessor", password=PASSWORD)
        users.add_user(session, "outsider@c2.test", c2, "student", name="Out Sider", password=PASSWORD)
        comp = c1.competitions[0]
        return Course(slug="c1", comp_id=comp.id, public_id=comp.public_id)


@pytest.fixture
def course(rt, worlds, tmp_path, world_database) -> Course:
    """A copy of the course world `build_course` made once for the run; its course folders in tmp_path."""
    return worlds.copy_into(rt, tmp_path, "web course", build_course)


@pytest.fixture
def app(rt):
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.extensions["podium.scoring"] = InlineScoring(rt)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app) -> Browser:
    return app.test_client()


@pytest.fixture
def as_student(app, course) -> Browser:
    browser = app.test_client()
    browser.signed_in_as(course.student)
    return browser


@pytest.fixture
def as_other(app, course) -> Browser:
    browser = app.test_client()
    browser.signed_in_as(course.other)
    return browser


@pytest.fixture
def as_staff(app, course) -> Browser:
    browser = app.test_client()
    browser.signed_in_as(course.staff)
    return browser


@pytest.fixture
def as_instructor(app, course) -> Browser:
    browser = app.test_client()
    browser.signed_in_as(course.instructor)
    return browser


@pytest.fixture
def as_outsider(app, course) -> Browser:
    browser = app.test_client()
    browser.signed_in_as(course.outsider)
    return browser


@pytest.fixture
def big(rt, worlds, tmp_path, world_database) -> BigCourse:
    """A copy of the course of 400 students (tests/web/big_course.py) made once for the run."""
    return worlds.copy_into(rt, tmp_path, "course of 400", build_big_course)


@pytest.fixture
def big_staff(app, big) -> Browser:
    return app.test_client().signed_in_as(big.ta)


@pytest.fixture
def big_instructor(app, big) -> Browser:
    return app.test_client().signed_in_as(big.instructor)
