"""The demo class: fictional students and the staff accounts."""
from __future__ import annotations

import re

import pytest

from podium.demo import DEMO_PASSWORD, demo_staff, demo_students

# Names on the course page (seeds/000_...): none of them may appear in demo data.
REAL_NAMES = {"Bhiksha", "Raj", "Petr", "Ermakov", "Artem", "Trunov", "Parth", "Shah", "Kangrui", "Ruan",
              "Scott", "Fahlman", "Pulkit", "Agarwal", "Mike", "Tarr", "Goodfellow", "Bengio", "Courville",
              "Nielsen", "Brownlee", "Rumelhart", "McClelland"}


def test_forty_students_with_numbered_demo_emails(students):
    assert len(students) == 40
    assert [s.email for s in students] == [f"student{n:02d}@demo.podium.test" for n in range(1, 41)]


def test_names_and_handles_are_unique_and_fictional(students):
    names = [s.name for s in students]
    handles = [s.leaderboard_name for s in students]
    assert len(set(names)) == len(names) and len(set(handles)) == len(handles)
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", name) for name in names)
    assert all(re.fullmatch(r"[A-Za-z]+\d*", handle) for handle in handles)
    words = {word for text in names + [s.name for s in demo_staff()] for word in text.split()}
    assert not words & REAL_NAMES
    assert not {name for name in names} & set(handles)


def test_skills_spread_over_the_unit_interval(students):
    skills = [s.skill for s in students]
    assert all(0 < skill < 1 for skill in skills)
    assert max(skills) - min(skills) > 0.3


def test_students_are_fixed_by_the_seed(students):
    assert demo_students(11785) == students
    other = demo_students(1)
    assert [s.name for s in other] != [s.name for s in students]
    assert [s.skill for s in other] != [s.skill for s in students]
    assert [s.email for s in other] == [s.email for s in students]


def test_staff_are_an_instructor_and_a_ta_with_the_demo_password(students):
    staff = demo_staff()
    assert [(p.email, p.role) for p in staff] == [("instructor@demo.podium.test", "instructor"),
                                                  ("ta@demo.podium.test", "staff")]
    assert {p.password for p in staff} == {DEMO_PASSWORD} == {s.password for s in students}
    assert DEMO_PASSWORD == "demo-password"


def test_too_many_students_is_refused():
    with pytest.raises(ValueError, match="students"):
        demo_students(1, count=500)
