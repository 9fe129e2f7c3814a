"""The leaderboards service (POLICY.md section 8): who ranks, on which submissions, with which names and scores."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from podium.errors import Forbidden, PodiumError
from podium.models import Submission, utcnow
from podium.services import leaderboards
from podium.services.courses import get_competition
from tests.api.conftest import days, submit_scored
from tests.conftest import predictions


def boards(rt, world):
    with rt.db.session() as session:
        comp = get_competition(session, world.public_id)
        return leaderboards.public_board(session, comp), leaderboards.private_board(session, comp)


def test_the_public_board_takes_every_scored_submission_but_the_private_one_only_counted_on_time_ones(
        rt, world, now):
    submit_scored(rt, world, world.student, predictions(set(range(6, 12))))  # public 0, private 0.5, on time
    submit_scored(rt, world, world.student, predictions(), at=now + days(4))  # after the on-time deadline: 1, 1
    public, private = boards(rt, world)
    assert [(r.name, r.score, r.entries) for r in public] == [("Overfitter", 1.0, 2)]
    assert [(r.name, r.score) for r in private] == [("Overfitter", 0.5)]


def test_ties_rank_the_earlier_submission_first_on_full_precision(rt, world, now):
    submit_scored(rt, world, world.other, predictions(set(range(3))), at=now - days(1))
    submit_scored(rt, world, world.student, predictions(set(range(3))), at=now - days(2))
    public, _ = boards(rt, world)
    assert [(r.rank, r.name) for r in public] == [(1, "Overfitter"), (2, "Underfitter")]
    assert public[0].shown_score == "0.50000" and public[0].score == 0.5


def test_practice_failed_and_staff_submissions_never_rank(rt, world):
    practice = submit_scored(rt, world, world.student)
    submit_scored(rt, world, world.other, "id,label\n")  # fails: no score
    submit_scored(rt, world, world.staff)
    with rt.db.session() as session:
        session.execute(update(Submission).where(Submission.id == practice).values(practice=True))
    public, private = boards(rt, world)
    assert public == [] and private == []


def test_a_students_marked_submission_is_what_the_private_board_ranks(rt, world):
    best = submit_scored(rt, world, world.student, predictions())  # private 1.0
    marked = submit_scored(rt, world, world.student, predictions(set(range(6, 9))))  # private 0.25
    with rt.db.session() as session:
        session.execute(update(Submission).where(Submission.id == marked).values(selected=True))
    public, private = boards(rt, world)
    assert public[0].submission_id == best and private[0].submission_id == marked and private[0].score == 0.25


def test_the_board_is_chosen_by_name_and_the_private_one_waits_for_release(rt, world):
    submit_scored(rt, world, world.student)
    with rt.db.session() as session:
        comp = get_competition(session, world.public_id)
        assert leaderboards.default_board(comp) == "public"
        assert leaderboards.board_for(session, comp, "public", staff=False)[0].name == "Overfitter"
        with pytest.raises(Forbidden):
            leaderboards.board_for(session, comp, "private", staff=False)
        assert leaderboards.board_for(session, comp, "private", staff=True)[0].email == world.student.email
        with pytest.raises(PodiumError) as unknown:
            leaderboards.board_for(session, comp, "final", staff=True)
        assert unknown.value.code == 400
        comp.released_at = utcnow()
        assert leaderboards.default_board(comp) == "private"
        assert leaderboards.board_for(session, comp, "private", staff=False)[0].score == 1.0


def test_scores_are_shown_with_the_competitions_precision(rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(4))))  # public 4/6
    with rt.db.session() as session:
        comp = get_competition(session, world.public_id)
        comp.display_precision = 2
        [row] = leaderboards.public_board(session, comp)
    assert row.shown_score == "0.67" and row.score == pytest.approx(4 / 6)
