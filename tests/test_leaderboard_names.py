"""Leaderboard names belong to the enrolment and are unique per course after NFKC normalisation and case folding;
characters that hide or reorder text are refused (POLICY.md section 8)."""
from __future__ import annotations

import pytest

from podium.errors import PodiumError
from podium.services import accounts, users
from podium.services.courses import get_course, load_course
from tests.conftest import write_course


@pytest.fixture
def two_courses(rt, tmp_path):
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(tmp_path / "a"))
        load_course(session, rt.settings, write_course(tmp_path / "b", slug="c2", competition="hw9"))
        c1, c2 = get_course(session, "c1"), get_course(session, "c2")
        for email in ("ada@x.edu", "bo@x.edu"):
            users.add_user(session, email, c1, "student")
        users.add_user(session, "ada@x.edu", c2, "student")
    return rt


def rename(rt, email: str, slug: str, name: str) -> None:
    with rt.db.session() as session:
        accounts.set_leaderboard_name(session, users.get_user(session, email), get_course(session, slug), name)


@pytest.mark.parametrize("taken, again", [("Gradient Ascent", "gradient ASCENT"),
                                          ("Gradient Ascent", "\uff27radient \uff21scent"),  # fullwidth G and A
                                          ("Stra\u00dfe", "STRASSE"),
                                          ("caf\u00e9", "cafe\u0301")])  # é, and e with a combining acute
def test_a_second_student_cannot_take_a_name_another_has_in_the_course(two_courses, taken, again):
    rename(two_courses, "ada@x.edu", "c1", taken)
    with pytest.raises(PodiumError) as refused:
        rename(two_courses, "bo@x.edu", "c1", again)
    assert "Another student of c1" in refused.value.message and "c1" in refused.value.message
    with two_courses.db.session() as session:
        assert users.get_user(session, "bo@x.edu").leaderboard_name_in(get_course(session, "c1").id) == ""


def test_a_student_may_keep_their_own_name_in_another_case(two_courses):
    rename(two_courses, "ada@x.edu", "c1", "Gradient Ascent")
    rename(two_courses, "ada@x.edu", "c1", "GRADIENT ascent")
    with two_courses.db.session() as session:
        ada = users.get_user(session, "ada@x.edu")
        assert ada.leaderboard_name_in(get_course(session, "c1").id) == "GRADIENT ascent"


@pytest.mark.parametrize("hostile, named", [("evil\u202etxt.exe", "U+202E"),   # right-to-left override
                                            ("zero\u200bwidth", "U+200B"),     # zero-width space
                                            ("bell\x07", "U+0007"),            # a control character
                                            ("line\u2028break", "U+2028"),     # a line separator
                                            ("\u00a8umlaut", "space")])        # NFKC makes it " \u0308umlaut"
def test_hidden_and_reordering_characters_are_refused_with_what_to_fix(two_courses, hostile, named):
    with pytest.raises(PodiumError) as refused:
        rename(two_courses, "ada@x.edu", "c1", hostile)
    assert named in refused.value.message
    with two_courses.db.session() as session:
        assert users.get_user(session, "ada@x.edu").leaderboard_name_in(get_course(session, "c1").id) == ""


def test_the_same_person_has_another_name_in_another_course(two_courses):
    rename(two_courses, "ada@x.edu", "c1", "Overfitter")
    rename(two_courses, "ada@x.edu", "c2", "Underfitter")
    rename(two_courses, "bo@x.edu", "c1", "Bo")
    with two_courses.db.session() as session:
        ada = users.get_user(session, "ada@x.edu")
        c1, c2 = get_course(session, "c1"), get_course(session, "c2")
        assert (ada.leaderboard_name_in(c1.id), ada.leaderboard_name_in(c2.id)) == ("Overfitter", "Underfitter")
        assert [(e.user.email, e.leaderboard_name) for e in c2.enrolments] == [("ada@x.edu", "Underfitter")]


def test_a_name_taken_in_one_course_is_free_in_another(two_courses):
    rename(two_courses, "bo@x.edu", "c1", "Overfitter")
    rename(two_courses, "ada@x.edu", "c2", "overfitter")
    with two_courses.db.session() as session:
        assert users.get_user(session, "ada@x.edu").leaderboard_name_in(get_course(session, "c2").id) == "overfitter"
