"""Public boards show leaderboard names only, and the kept ranking follows every change to the submissions."""
from __future__ import annotations

import io

from podium.services import leaderboards, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from tests.conftest import predictions


def scored(rt, comp_id, user_id, text):
    sub = submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(text.encode()), "p.csv")
    return submissions.score(rt.db, rt.settings, sub.id)


def board(rt):
    with rt.db.session() as session:
        return leaderboards.public_board(session, get_competition(session, "c1-hw1"))


def test_names_are_leaderboard_names_and_the_board_follows_every_change(rt, course_dir):
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        course = get_course(session, "c1")
        ada = users.add_user(session, "ada@x.edu", course, "student", name="Ada Real")
        bo = users.add_user(session, "bo@x.edu", course, "student", name="Bo Real", leaderboard_name="bo-bot")
        comp_id = get_competition(session, "c1-hw1").id
    scored(rt, comp_id, ada.id, predictions({0, 1, 2}))
    scored(rt, comp_id, bo.id, predictions({0, 1}))
    first = board(rt)
    assert [(r.name, r.score) for r in first] == [(f"Student {ada.id}", 0.5), ("bo-bot", 1 / 3)]
    assert all("Real" not in r.name and "@" not in r.name for r in first)

    scored(rt, comp_id, bo.id, predictions())
    assert [r.name for r in board(rt)] == ["bo-bot", f"Student {ada.id}"]

    # A solution fix and a rescore move the scores without any new submission: the board follows.
    solution = course_dir / "hw1/solution.csv"
    solution.write_text(solution.read_text().replace("\n3,0,Public\n", "\n3,1,Public\n"))
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
    submissions.rescore_competition(rt.db, rt.settings, comp_id)
    assert [(r.name, r.score) for r in board(rt)] == [("bo-bot", 5 / 6), (f"Student {ada.id}", 4 / 6)]
