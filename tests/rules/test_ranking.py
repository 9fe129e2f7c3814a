"""Leaderboards and position cutoffs (POLICY.md sections 6 and 8)."""
import re
from datetime import timedelta
from fractions import Fraction

import pytest

from podium.rules import (
    NOT_YET,
    OUT_OF_ORDER,
    Cutoffs,
    Ungraded,
    check_cutoffs,
    cutoffs_on_board,
    parse_position,
    private_leaderboard,
    public_leaderboard,
    rank_at_position,
    resolve_cutoffs,
    value_at_position,
)
from tests.rules.helpers import at, sub

T = at("2019-09-20 12:00:00")
H = timedelta(hours=1)


def board(entries):
    return [(e.rank, e.student, e.submission_id, e.score) for e in entries]


def test_public_board_takes_each_students_best_public_score():
    subs = [sub("ann", T, 0.1, public=0.70, id=1), sub("ann", T + H, 0.1, public=0.90, id=2),
            sub("bob", T, 0.1, public=0.80, id=3)]
    assert board(public_leaderboard(subs, True)) == [(1, "ann", 2, 0.90), (2, "bob", 3, 0.80)]


def test_public_board_ranks_ties_by_the_earlier_submission_with_distinct_ranks():
    subs = [sub("ann", T + H, 0.1, public=0.9, id=1), sub("bob", T, 0.1, public=0.9, id=2),
            sub("cat", T, 0.1, public=0.8, id=3)]
    assert board(public_leaderboard(subs, True)) == [(1, "bob", 2, 0.9), (2, "ann", 1, 0.9), (3, "cat", 3, 0.8)]


def test_a_students_tie_is_represented_by_their_earlier_submission():
    subs = [sub("ann", T + H, 0.1, public=0.9, id=1), sub("ann", T, 0.1, public=0.9, id=2)]
    assert board(public_leaderboard(subs, True)) == [(1, "ann", 2, 0.9)]


def test_ranking_uses_full_precision():
    subs = [sub("ann", T, 0.1, public=0.8000001, id=1), sub("bob", T - H, 0.1, public=0.8, id=2)]
    assert [e.student for e in public_leaderboard(subs, True)] == ["ann", "bob"]


def test_lower_is_better_board():
    subs = [sub("ann", T, 3, public=3, id=1), sub("bob", T, 2, public=2, id=2)]
    assert [e.student for e in public_leaderboard(subs, False)] == ["bob", "ann"]


def test_practice_and_unscored_submissions_are_never_on_a_board():
    subs = [sub("ann", T, 0.99, id=1, practice=True), sub("bob", T, None, id=2), sub("cat", T, 0.5, id=3)]
    assert [e.student for e in public_leaderboard(subs, True)] == ["cat"]


def test_private_board_ranks_private_scores_of_the_given_counted_submissions():
    counted = [sub("ann", T, 0.7, public=0.9, id=1), sub("bob", T, 0.8, public=0.1, id=2)]
    assert board(private_leaderboard(counted, True)) == [(1, "bob", 2, 0.8), (2, "ann", 1, 0.7)]


@pytest.mark.parametrize("text, p", [("top 10%", Fraction(1, 10)), ("TOP 12.5 %", Fraction(1, 8)),
                                     (" top 100% ", Fraction(1))])
def test_parse_position(text, p):
    assert parse_position(text) == p


@pytest.mark.parametrize("text", ["top 0%", "top 120%", "10%", "top ten%", "bottom 10%"])
def test_bad_positions_are_refused(text):
    with pytest.raises(ValueError):
        parse_position(text)


def test_rank_at_position_is_the_exact_ceiling():
    assert rank_at_position(Fraction(1, 10), 30) == 3  # 0.1 * 30 in floats would give 4
    assert rank_at_position(Fraction(1, 10), 31) == 4
    assert rank_at_position(Fraction(1, 10), 5) == 1
    assert rank_at_position(Fraction(1), 7) == 7


def test_value_at_position_reads_the_private_board():
    counted = [sub(f"s{i}", T, i / 10, id=i) for i in range(1, 11)]  # 0.1 .. 1.0
    entries = private_leaderboard(counted, True)
    assert value_at_position(parse_position("top 20%"), entries) == 0.9
    with pytest.raises(ValueError, match="no student"):
        value_at_position(parse_position("top 20%"), [])


def test_check_cutoffs_accepts_values_positions_and_mixes():
    assert check_cutoffs({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5}, True) is None
    assert check_cutoffs({"A": "top 10%", "B": "top 30%", "C": 0.6, "D": 0.5}, True) is None


def test_check_cutoffs_explains_bad_strings_and_order():
    assert check_cutoffs({"A": "best 10%", "B": 0.7, "C": 0.6, "D": 0.5}, True).startswith("cutoff A:")
    assert "cutoff B" in check_cutoffs({"A": "top 30%", "B": "top 10%", "C": 0.6, "D": 0.5}, True)
    assert "cutoff D = 0.65 must be below C = 0.6" in check_cutoffs(
        {"A": "top 10%", "B": 0.7, "C": 0.6, "D": 0.65}, True)


def test_resolve_cutoffs_turns_positions_into_values():
    counted = [sub(f"s{i}", T, i / 10, id=i) for i in range(1, 11)]
    entries = private_leaderboard(counted, True)
    cutoffs = resolve_cutoffs({"A": "top 10%", "B": "top 40%", "C": 0.6, "D": 0.5}, entries, True)
    assert (cutoffs.A, cutoffs.B, cutoffs.C, cutoffs.D, cutoffs.F) == (1.0, 0.7, 0.6, 0.5, None)


def test_resolve_cutoffs_refuses_a_position_on_the_wrong_side_of_a_value():
    counted = [sub(f"s{i}", T, i / 100, id=i) for i in range(1, 11)]  # everyone below 0.11
    entries = private_leaderboard(counted, True)
    with pytest.raises(ValueError, match=re.escape("out of order: A = 'top 10%' (0.1) is below B = 0.7")):
        resolve_cutoffs({"A": "top 10%", "B": 0.7, "C": 0.6, "D": 0.5}, entries, True)


def test_positions_on_an_empty_board_are_not_resolvable_yet():
    result = cutoffs_on_board({"A": "top 10%", "B": "top 40%", "C": 0.6, "D": 0.5}, (), True)
    assert isinstance(result, Ungraded) and result.kind == NOT_YET
    assert "A = 'top 10%', B = 'top 40%' are leaderboard positions" in result.reason
    assert "no student has a counted on-time submission yet" in result.reason


def test_value_cutoffs_need_no_board():
    assert cutoffs_on_board({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5}, (), True) == Cutoffs(0.8, 0.7, 0.6, 0.5)


def test_a_position_past_a_value_names_the_letters_and_the_values():
    """A = "top 10%" comes out at 0.55 while B = 0.70: out of order, and the staff's reason says so with values."""
    counted = [sub(f"s{i}", T, 0.55 - i / 100, id=i) for i in range(10)]  # 0.55 .. 0.46
    result = cutoffs_on_board({"A": "top 10%", "B": 0.7, "C": 0.6, "D": 0.5},
                              private_leaderboard(counted, True), True)
    assert isinstance(result, Ungraded) and result.kind == OUT_OF_ORDER
    assert "A = 'top 10%' (0.55) is below B = 0.7" in result.reason
    assert "resolved: A = 'top 10%' (0.55); B = 0.7; C = 0.6; D = 0.5" in result.reason
    # What students read names no value, and nothing of the board.
    student = result.for_students()
    assert student.kind == OUT_OF_ORDER and student.why == "" and not re.search(r"\d", student.reason)


def test_out_of_order_follows_a_lower_is_better_metric():
    counted = [sub(f"s{i}", T, 20 + i, id=i) for i in range(10)]  # edit distances 20 .. 29: A "top 10%" is 20
    result = cutoffs_on_board({"A": "top 10%", "B": 15, "C": 25, "D": 30}, private_leaderboard(counted, False), False)
    assert result.kind == OUT_OF_ORDER and "A = 'top 10%' (20) is above B = 15" in result.reason
    assert "lower is better" in result.reason


def test_resolved_positions_may_tie():
    counted = [sub("s1", T, 0.9, id=1)]  # one student: every position is their score
    cutoffs = cutoffs_on_board({"A": "top 10%", "B": "top 50%", "C": 0.6, "D": 0.5}, private_leaderboard(counted, True),
                               True)
    assert (cutoffs.A, cutoffs.B) == (0.9, 0.9)
