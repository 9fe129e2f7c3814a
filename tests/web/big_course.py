"""A course of 400 students for the staff tables: built once per run as a world (tests/worlds.py), copied into each
test that asks for it.

Course `big`, with an instructor, a TA and 400 students enrolled by one roster import (the service the People page
and `podium users import` call). Two competitions:
- hw0, closed (opened 30 days ago, early -25 d, on time -20 d, late -15 d): students 0..299 have a scored on-time
  submission, private score (i % 11) / 10 against cutoffs A 0.9 .. D 0.5 without F, so every score under 0.5 grades
  a real 0; students i % 3 == 0 of them submitted after the early deadline only; students 0..9 also uploaded after
  the on-time deadline (day -17); students 300..399 have nothing (a real 0: closed, nothing counted). Student 1 has a
  5-day extension (their day -17 upload is on time); student 399 a 30-day one (hw0 is still open for them).
- hw1, open (write_course's: early passed 5 days ago, on time in 3 days): students 0..199 have a scored submission,
  the others nothing yet ("not yet").
Students' names are "Student NNN" numbered in another order than their emails, so name and email sorts differ.
60 slack ledger entries are recorded (students 0..59, 1 day each, note autolab-part-N).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from podium.models import Status, Submission, User
from podium.services import courses, extensions, slack, users
from tests.conftest import wallclock, write_course
from tests.web.helpers import PASSWORD

STUDENTS = 400
SLUG = "big"
INSTRUCTOR = "prof@big.test"
TA = "ta@big.test"


def email(i: int) -> str:
    return f"student{i:03d}@big.test"


def name(i: int) -> str:
    """A permutation of the numbers 1..400 (7919 is prime to 400), so that sorting by name is not sorting by email."""
    return f"Student {(i * 7919) % STUDENTS + 1:03d}"


def private_score(i: int) -> float:
    return (i % 11) / 10


@dataclass(frozen=True)
class BigCourse:
    slug: str
    closed: str  # public id of hw0
    open: str  # public id of hw1
    closed_id: int
    open_id: int
    user_ids: tuple[int, ...]  # by student number
    instructor: str = INSTRUCTOR
    ta: str = TA

    def email(self, i: int) -> str:
        return email(i)


def write_big_course(root: Path, now: datetime) -> Path:
    folder = write_course(root, now=now, slug=SLUG, competition="hw1")
    shutil.copytree(folder / "hw1", folder / "hw0")
    toml = folder / "hw0" / "competition.toml"
    text = toml.read_text().replace('slug = "hw1"', 'slug = "hw0"').replace("Homework hw1", "Homework hw0")
    schedule = {"opens": 30, "early": 25, "ontime": 20, "late": 15}
    lines = []
    for line in text.splitlines():
        key = line.strip().split(" =")[0]
        if key in schedule and line.strip().startswith(f"{key} = \""):
            line = f'{key} = "{wallclock(now - timedelta(days=schedule[key]))}"'
        lines.append(line)
    toml.write_text("\n".join(lines) + "\n")
    return folder


def build_big_course(rt, folder: Path, now: datetime) -> BigCourse:
    with rt.db.session() as session:
        courses.load_course(session, rt.settings, write_big_course(folder / "courses", now))
        course = courses.get_course(session, SLUG)
        users.add_user(session, INSTRUCTOR, course, "instructor", name="Course Instructor", password=PASSWORD)
        users.add_user(session, TA, course, "staff", name="Course Assistant", password=PASSWORD)
        roster = "email,name\n" + "".join(f"{email(i)},{name(i)}\n" for i in range(STUDENTS))
        users.import_roster(session, course, roster, actor="setup")
        by_email = dict(session.query(User.email, User.id).filter(User.email.like("%@big.test")).all())
        ids = tuple(by_email[email(i)] for i in range(STUDENTS))
        hw0, hw1 = (next(c for c in course.competitions if c.slug == slug) for slug in ("hw0", "hw1"))
        rows = []
        for i in range(300):
            at = now - timedelta(days=22 if i % 3 == 0 else 27)
            rows.append(_row(hw0.id, ids[i], at, private_score(i)))
            if i < 10:
                rows.append(_row(hw0.id, ids[i], now - timedelta(days=17), private_score(i)))
        for i in range(200):
            rows.append(_row(hw1.id, ids[i], now - timedelta(days=1), private_score(i + 3)))
        session.execute(insert(Submission), rows)
        extensions.grant(session, hw0, session.get(User, ids[1]), days=5, reason="flu", actor="setup")
        extensions.grant(session, hw0, session.get(User, ids[399]), days=30, reason="leave", actor="setup")
        slack.import_ledger(session, course, "email,days,note\n" + "".join(
            f"{email(i)},1,autolab-part-{i}\n" for i in range(60)), actor="setup")
        return BigCourse(SLUG, hw0.public_id, hw1.public_id, hw0.id, hw1.id, ids)


def _row(comp_id: int, user_id: int, at: datetime, score: float) -> dict:
    return {"competition_id": comp_id, "user_id": user_id, "submitted_at": at, "file_path": "-",
            "file_name": f"u{user_id}.csv", "sha256": "-", "size_bytes": 1, "status": Status.scored,
            "public_score": score, "private_score": score, "scored_at": at + timedelta(seconds=30)}
