"""A whole course from plain submissions: grade_course and the private leaderboard's input."""
from datetime import timedelta

import pytest

from podium.rules import (
    CoursePolicy,
    Extension,
    Schedule,
    counted_on_time,
    explain,
    grade_course,
    private_leaderboard,
)
from tests.rules.helpers import NY, competition, sub

DAY = timedelta(days=1)


def two_homeworks():
    hw1 = competition("hw1", Schedule.from_local(NY, opens="2019-09-04 00:00:00", early="2019-09-15 23:59:59",
                                                 ontime="2019-09-29 23:59:59", late="2019-10-06 23:59:59"))
    hw2 = competition("hw2", Schedule.from_local(NY, opens="2019-10-01 00:00:00", early="2019-10-10 23:59:59",
                                                 ontime="2019-10-20 23:59:59", late="2019-10-27 23:59:59"))
    return hw1, hw2


def test_every_enrolled_student_gets_a_row_even_without_submissions():
    hw1, hw2 = two_homeworks()
    grades = grade_course(CoursePolicy(), [hw1, hw2], {}, students=["ann"])
    assert [g.window for g in grades["ann"].grades] == ["none", "none"]
    assert grades["ann"].total == 0


def test_slack_is_shared_across_homeworks_in_ontime_order():
    hw1, hw2 = two_homeworks()
    subs = {
        "hw1": [sub("ann", hw1.schedule.early, 0.75), sub("ann", hw1.schedule.ontime + 5 * DAY, 0.80)],
        "hw2": [sub("ann", hw2.schedule.early, 0.60), sub("ann", hw2.schedule.ontime + 3 * DAY, 0.80)],
    }
    grades = grade_course(CoursePolicy(), [hw2, hw1], subs)["ann"]
    assert [(g.competition, g.window, g.slack_used, g.slack_remaining) for g in grades.grades] == [
        ("hw1", "slack", 5, 2), ("hw2", "late", 0, 2)]
    assert grades.total == pytest.approx(100 + 90)
    optimal = grade_course(CoursePolicy(), [hw1, hw2], subs, slack_policy="optimal")["ann"]
    assert [(g.window, g.slack_used) for g in optimal.grades] == [("on_time", 0), ("slack", 3)]
    assert optimal.total == pytest.approx(90 + 100)


def test_external_ledger_shrinks_the_budget():
    hw1, _ = two_homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.early, 0.5), sub("ann", hw1.schedule.ontime + 3 * DAY, 0.8)]}
    grade = grade_course(CoursePolicy(), [hw1], subs, ledger={"ann": 5})["ann"].grade("hw1")
    assert (grade.window, grade.d_avail, grade.slack_remaining) == ("late", 2, 2)


def test_extension_moves_deadlines_spends_no_slack_and_earns_the_bonus():
    hw1, _ = two_homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.early, 0.5), sub("ann", hw1.schedule.ontime + 2 * DAY, 0.9),
                    sub("bob", hw1.schedule.early, 0.85)]}
    extensions = {("hw1", "ann"): Extension(delta=3 * DAY)}
    grades = grade_course(CoursePolicy(), [hw1], subs, extensions=extensions)
    ann, bob = grades["ann"].grade("hw1"), grades["bob"].grade("hw1")
    assert (ann.window, ann.slack_used, ann.final) == ("on_time", 0, 105)
    assert bob.final == pytest.approx(100 + 5 * 0.05 / 0.10)  # ann's 0.90 is the class best


def test_extended_early_deadline_is_the_one_the_early_rule_checks():
    hw1, _ = two_homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.early + DAY, 0.75)]}
    plain = grade_course(CoursePolicy(), [hw1], subs)["ann"].grade("hw1")
    extended = grade_course(CoursePolicy(), [hw1], subs,
                            extensions={("hw1", "ann"): Extension(delta=2 * DAY)})["ann"].grade("hw1")
    assert (plain.early_penalty, extended.early_penalty) == (True, False)


def test_class_best_comes_from_counted_on_time_submissions_only():
    hw1, _ = two_homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.early, 0.85),
                    sub("bob", hw1.schedule.early, 0.95, public=0.1),  # not counted: bob's K=1 best public wins
                    sub("bob", hw1.schedule.early + DAY, 0.81, public=0.9),
                    sub("cat", hw1.schedule.ontime + DAY, 0.99)]}  # after the deadline: no effect on best
    grades = grade_course(CoursePolicy(max_selected=1), [hw1], subs)
    assert grades["ann"].grade("hw1").final == 105
    assert grades["bob"].grade("hw1").bonus == pytest.approx(5 * 0.01 / 0.05)


def test_private_leaderboard_from_counted_on_time_submissions():
    hw1, _ = two_homeworks()
    subs = [sub("ann", hw1.schedule.early, 0.85, public=0.5), sub("ann", hw1.schedule.early + DAY, 0.95, public=0.1),
            sub("bob", hw1.schedule.early, 0.90), sub("cat", hw1.schedule.ontime + DAY, 0.99)]
    entries = private_leaderboard(counted_on_time(hw1, CoursePolicy(max_selected=1), subs), True)
    assert [(e.student, e.score) for e in entries] == [("bob", 0.90), ("ann", 0.85)]


def test_explanations_come_with_the_remaining_slack():
    hw1, _ = two_homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.ontime + 2 * DAY, 0.75, id=812)]}
    grade = grade_course(CoursePolicy(), [hw1], subs)["ann"].grade("hw1")
    assert explain(grade) == ("Counted: submission 812 (slack, 2 days late), private 0.7500, base 90.0; "
                              "no early submission, so x0.9 = 81.0; 5 slack days remain.")


def test_course_policy_is_validated_and_built_from_a_policy_table():
    p = CoursePolicy.from_mapping("America/New_York", {"slack_days": 5, "points": {"B": 85}})
    assert (p.slack_days, p.points.B, p.points.A) == (5, 85, 100)
    with pytest.raises(ValueError, match="slack_policy"):
        CoursePolicy(slack_policy="greedy")
    with pytest.raises(ValueError, match="late_factor"):
        CoursePolicy(late_factor=1.5)
    with pytest.raises(ValueError, match="time zone"):
        CoursePolicy(timezone="Nowhere/Town")
