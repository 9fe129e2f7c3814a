"""Slack days across the course: budget, chronological and optimal policies (POLICY.md section 5)."""
import pytest

from podium.rules import chronological, grade_student, optimal, slack_budget
from tests.rules.helpers import candidates


def slack_list(result):
    return [g.slack_used for g in result.grades]


def test_budget_is_s_minus_the_external_ledger_never_negative():
    assert slack_budget(7) == 7
    assert slack_budget(7, 3) == 4
    assert slack_budget(7, 9) == 0


def test_competitions_are_taken_in_ontime_order_then_slug():
    later = candidates("b-late", 20, after={3: 90})
    earlier = candidates("z-early", 10, after={3: 90})
    same_day = candidates("a-same", 10, after={3: 90})
    result = chronological([later, earlier, same_day], budget=6)
    assert [g.competition for g in result.grades] == ["a-same", "z-early", "b-late"]
    assert slack_list(result) == [3, 3, 0]
    assert [g.slack_remaining for g in result.grades] == [3, 0, 0]
    assert result.grades[2].window == "late"


def test_chronological_d_avail_is_what_remains_and_zero_when_not_eligible():
    hw0 = candidates("hw0", 1, after={1: 100}, slack_eligible=False)
    hw1 = candidates("hw1", 2, after={2: 100})
    result = chronological([hw0, hw1], budget=7)
    assert [(g.window, g.d_avail, g.slack_used) for g in result.grades] == [("late", 0, 0), ("slack", 7, 2)]


def test_slack_remaining_after_each_competition():
    items = [candidates("a", 1, after={2: 90}), candidates("b", 2, on_time=90), candidates("c", 3, after={1: 90})]
    result = chronological(items, budget=7)
    assert [g.slack_remaining for g in result.grades] == [5, 5, 4]
    assert (result.slack_used, result.slack_remaining) == (3, 4)


def test_total_is_the_weighted_sum_of_finals():
    items = [candidates("a", 1, on_time=80, weight=0.5), candidates("b", 2, on_time=60, weight=2.0)]
    assert chronological(items, 7).total == pytest.approx(0.5 * 80 + 2.0 * 60)
    assert optimal(items, 7).total == pytest.approx(160)


def test_optimal_ties_go_to_fewer_slack_days_in_total():
    # hw1: on-time 80 or slack 80 (1 day): same total, so no slack is spent.
    result = optimal([candidates("hw1", 1, on_time=80, after={1: 80})], budget=7)
    assert (result.grades[0].window, result.slack_used) == ("on_time", 0)


def test_optimal_ties_between_equal_day_totals_go_to_the_lexicographically_smallest_list():
    # Either competition can turn 85 into 90 with 2 days (late would give 81), and the budget covers only one:
    # [0, 2] < [2, 0], so the days go to the later competition.
    items = [candidates("hw1", 1, on_time=85, after={2: 90}), candidates("hw2", 2, on_time=85, after={2: 90})]
    result = optimal(items, budget=2)
    assert result.total == 175
    assert slack_list(result) == [0, 2]


def test_optimal_prefers_more_points_over_fewer_days():
    items = [candidates("hw1", 1, on_time=70, after={1: 71})]
    assert slack_list(optimal(items, budget=7)) == [1]


def test_optimal_totals_within_1e_9_count_as_equal():
    items = [candidates("hw1", 1, on_time=80, after={3: 80 + 1e-12})]
    result = optimal(items, budget=7)
    assert (result.grades[0].window, result.slack_used) == ("on_time", 0)


def test_optimal_may_grade_an_after_submission_late_to_keep_its_slack_days():
    # hw1's 1-day submission as slack (90) vs late (81); hw2's 3-day submission is worth far more as slack.
    items = [candidates("hw1", 1, after={1: 90}), candidates("hw2", 2, on_time=0, after={3: 100})]
    result = optimal(items, budget=3)
    assert [(g.window, g.slack_used) for g in result.grades] == [("late", 0), ("slack", 3)]
    assert result.total == pytest.approx(81 + 100)
    assert chronological(items, budget=3).total == pytest.approx(90 + 90)


def test_optimal_uses_a_dominated_slack_option_never():
    # 4 days for 85 is worse than 2 days for 88: with 4 days available optimal still spends only 2.
    result = optimal([candidates("hw1", 1, on_time=60, after={2: 88, 4: 85})], budget=4)
    assert slack_list(result) == [2]


def test_optimal_with_no_budget_has_no_slack():
    result = optimal([candidates("hw1", 1, on_time=50, after={1: 100})], budget=0)
    assert result.grades[0].window == "late"
    assert result.grades[0].final == pytest.approx(90)


def test_optimal_with_nothing_submitted_is_zero_everywhere():
    result = optimal([candidates("hw1", 1), candidates("hw2", 2)], budget=7)
    assert [g.window for g in result.grades] == ["none", "none"]
    assert result.total == 0


def test_grade_student_dispatches_on_the_policy_name():
    items = [candidates("hw1", 1, on_time=70, after={2: 72}), candidates("hw2", 2, on_time=40, after={7: 90})]
    assert grade_student(items, 7, "chronological").total == pytest.approx(153)
    assert grade_student(items, 7, "optimal").total == pytest.approx(160)
    with pytest.raises(ValueError, match="slack_policy"):
        grade_student(items, 7, "greedy")
