"""POLICY.md section 10, one test per worked example, numbers written out.

Course defaults unless said; higher-is-better metric; cutoffs A 0.80, B 0.70, C 0.60, D 0.50, F 0.10.
"""
from datetime import timedelta

import pytest

from podium.rules import (
    Cutoffs,
    CoursePolicy,
    Schedule,
    base,
    bonus,
    chronological,
    classify,
    days_late,
    grade_course,
    optimal,
)
from tests.rules.helpers import NY, POLICY_CUTOFFS, at, candidates, competition, sub


def test_example_1_interpolation_between_cutoffs_and_below_f():
    assert base(0.75, POLICY_CUTOFFS, True) == pytest.approx(80 + 20 * (0.75 - 0.70) / (0.80 - 0.70))
    assert base(0.75, POLICY_CUTOFFS, True) == pytest.approx(90)
    assert base(0.30, POLICY_CUTOFFS, True) == pytest.approx(0 + 40 * (0.30 - 0.10) / (0.50 - 0.10))
    assert base(0.30, POLICY_CUTOFFS, True) == pytest.approx(20)
    assert base(0.05, POLICY_CUTOFFS, True) == 0


def test_example_2_bonus_interpolates_between_a_and_the_class_best():
    best = 0.90
    assert base(0.85, POLICY_CUTOFFS, True) + bonus(0.85, POLICY_CUTOFFS, best, 5, True) == pytest.approx(
        100 + 5 * 0.05 / 0.10)
    assert base(0.85, POLICY_CUTOFFS, True) + bonus(0.85, POLICY_CUTOFFS, best, 5, True) == pytest.approx(102.5)
    assert base(0.90, POLICY_CUTOFFS, True) + bonus(0.90, POLICY_CUTOFFS, best, 5, True) == 105


def test_example_2_through_the_whole_course():
    """The same numbers when the class best comes from another student's counted on-time submission."""
    comp = competition()
    ontime = comp.schedule.ontime
    subs = [sub("ann", ontime - timedelta(days=20), 0.85), sub("bob", ontime - timedelta(days=20), 0.90)]
    grades = grade_course(CoursePolicy(), [comp], {comp.slug: subs})
    assert grades["ann"].grade("hw1p2").final == pytest.approx(102.5)
    assert grades["bob"].grade("hw1p2").final == pytest.approx(105)


def test_example_3_lower_is_better_uses_the_same_formula():
    edit_distance = Cutoffs(A=10, B=15, C=20, D=30)
    assert base(12, edit_distance, higher_is_better=False) == pytest.approx(80 + 20 * (12 - 15) / (10 - 15))
    assert base(12, edit_distance, higher_is_better=False) == pytest.approx(92)


def example_4_student():
    hw1 = candidates("hw1", 10, on_time=70, after={2: 72})
    hw2 = candidates("hw2", 30, on_time=40, after={7: 90})
    return [hw1, hw2]


def test_example_4_chronological_slack_then_late_once_slack_runs_out():
    result = chronological(example_4_student(), budget=7)
    hw1, hw2 = result.grades
    assert (hw1.window, hw1.final, hw1.slack_used, hw1.slack_remaining) == ("slack", 72, 2, 5)
    assert (hw2.window, hw2.days_late, hw2.slack_used) == ("late", 7, 0)  # 7 > 5
    assert hw2.final == pytest.approx(0.9 * 90) == pytest.approx(81)
    assert result.total == pytest.approx(72 + 81) == pytest.approx(153)


def test_example_5_optimal_keeps_the_slack_for_hw2():
    result = optimal(example_4_student(), budget=7)
    hw1, hw2 = result.grades
    assert (hw1.window, hw1.final, hw1.slack_used) == ("on_time", 70, 0)
    assert (hw2.window, hw2.final, hw2.slack_used) == ("slack", 90, 7)
    assert result.total == 70 + 90 == 160
    assert hw2.slack_remaining == 0


def test_example_6_early_rule_costs_ten_percent():
    comp = competition(schedule=Schedule.from_local(
        NY, opens="2019-09-04 00:00:00", early="2019-09-15 23:59:59", ontime="2019-09-29 23:59:59",
        late="2019-10-06 23:59:59"))
    first_after_early = sub("ann", at("2019-09-16 00:00:00"), 0.75)  # base 90, one second after early
    grade = grade_course(CoursePolicy(), [comp], {comp.slug: [first_after_early]})["ann"].grade("hw1p2")
    assert grade.raw == pytest.approx(90)
    assert grade.early_penalty is True
    assert grade.final == pytest.approx(0.9 * 90) == pytest.approx(81)


def test_example_7_one_day_and_one_second_late_is_two_days():
    ontime = at("2019-09-29 23:59:59")
    t = at("2019-10-01 00:00:00")
    assert t - ontime == timedelta(days=1, seconds=1)
    assert days_late(t, ontime) == 2
    schedule = Schedule.from_local(NY, opens="2019-09-04 00:00:00", ontime="2019-09-29 23:59:59",
                                   late="2019-10-06 23:59:59")
    assert classify(t, schedule, tz=NY).days_late == 2
