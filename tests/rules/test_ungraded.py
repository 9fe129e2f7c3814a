"""POLICY.md section 11, position cutoffs that give no values, as examples.

"Position cutoffs not yet resolvable (no counted on-time submission yet): that competition's rows have window `none`
and no grade; every other competition is graded as usual. Cutoffs that come out out of order once positions are
resolved make that competition's grades unavailable with the reason shown to staff, never the whole course's."

Decisions the examples pin down: a competition without grades spends no slack day (the slack chain goes on to the
next competition with the days it had), has no early penalty, and adds nothing to the total, which is then the total
over the graded competitions.
"""
from dataclasses import replace
from datetime import timedelta

import pytest

from podium.rules import (
    NONE,
    NOT_YET,
    OUT_OF_ORDER,
    CoursePolicy,
    Schedule,
    Ungraded,
    counted_on_time,
    cutoffs_on_board,
    explain,
    grade_course,
    private_leaderboard,
)
from tests.rules.helpers import NY, competition, sub

DAY = timedelta(days=1)
POSITIONS = {"A": "top 10%", "B": 0.70, "C": 0.60, "D": 0.50}


def homeworks():
    hw1 = competition("hw1", Schedule.from_local(NY, opens="2019-09-04 00:00:00", early="2019-09-15 23:59:59",
                                                 ontime="2019-09-29 23:59:59", late="2019-10-06 23:59:59"))
    hw2 = competition("hw2", Schedule.from_local(NY, opens="2019-10-01 00:00:00", early="2019-10-10 23:59:59",
                                                 ontime="2019-10-20 23:59:59", late="2019-10-27 23:59:59"))
    return hw1, hw2


def with_positions(comp, spec, policy, subs):
    """What a service does: read the positions off the private board of counted on-time submissions."""
    board = private_leaderboard(counted_on_time(comp, policy, subs), comp.higher_is_better)
    resolved = cutoffs_on_board(spec, board, comp.higher_is_better)
    if isinstance(resolved, Ungraded):
        return replace(comp, cutoffs=None, ungraded=resolved)
    return replace(comp, cutoffs=resolved)


def test_no_counted_on_time_submission_yet_means_no_grade_and_the_rest_as_usual():
    """hw1's A is "top 10%" and nobody submitted hw1 on time: hw1 has window none and no grade for anyone, while
    hw2 is graded exactly as in a course without hw1."""
    policy = CoursePolicy()
    hw1, hw2 = homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.ontime + DAY, 0.9)],  # late only: it is on no private board
            "hw2": [sub("ann", hw2.schedule.early, 0.75), sub("bob", hw2.schedule.early, 0.65)]}
    hw1 = with_positions(hw1, POSITIONS, policy, subs["hw1"])
    assert hw1.ungraded.kind == NOT_YET
    course = grade_course(policy, [hw1, hw2], subs, students=["ann", "bob", "cat"])
    alone = grade_course(policy, [hw2], subs, students=["ann", "bob", "cat"])
    for student in ("ann", "bob", "cat"):
        row = course[student].grade("hw1")
        assert (row.window, row.graded, row.final, row.slack_used, row.early_penalty) == (NONE, False, 0.0, 0, False)
        assert row.ungraded == hw1.ungraded and explain(row) == hw1.ungraded.reason
        assert course[student].grade("hw2") == alone[student].grade("hw2")
        assert course[student].total == alone[student].total
        assert course[student].ungraded == (row,)
    assert course["ann"].grade("hw2").final == 90  # base(0.75), no bonus: the class best 0.75 is below A 0.80


@pytest.mark.parametrize("slack_policy", ["chronological", "optimal"])
def test_the_slack_chain_goes_past_a_competition_without_grades(slack_policy):
    """ann's hw1 submission is 6 days late and takes 6 of her 7 slack days while hw1 has grades; without them it
    takes none, and her 5-days-late hw2 submission is slack instead of late. (She has no early submission: x0.9.)"""
    policy = CoursePolicy()
    hw1, hw2 = homeworks()
    subs = {"hw1": [sub("ann", hw1.schedule.ontime + 6 * DAY - timedelta(hours=1), 0.9)],
            "hw2": [sub("ann", hw2.schedule.ontime + 5 * DAY - timedelta(hours=1), 0.8)]}
    with_hw1 = grade_course(policy, [hw1, hw2], subs, slack_policy=slack_policy)["ann"]
    if slack_policy == "chronological":
        assert [(g.window, g.slack_used) for g in with_hw1.grades] == [("slack", 6), ("late", 0)]
    graded = grade_course(policy, [replace(hw1, cutoffs=None, ungraded=Ungraded(NOT_YET, "not yet")), hw2], subs,
                          slack_policy=slack_policy)["ann"]
    hw1_row, hw2_row = graded.grades
    assert (hw1_row.window, hw1_row.graded, hw1_row.slack_used, hw1_row.slack_remaining) == (NONE, False, 0, 7)
    assert (hw2_row.window, hw2_row.slack_used, hw2_row.slack_remaining) == ("slack", 5, 2)
    assert hw2_row.final == pytest.approx(90)
    assert (graded.slack_used, graded.slack_remaining) == (5, 2) and graded.total == pytest.approx(90)


def test_cutoffs_out_of_order_make_that_competition_ungraded_and_not_the_course():
    """hw1: A = "top 10%" comes out at 0.55, below B = 0.70. Its grades are unavailable with the reason; hw2 is
    graded as usual."""
    policy = CoursePolicy()
    hw1, hw2 = homeworks()
    subs = {"hw1": [sub(f"s{i}", hw1.schedule.early, 0.55 - i / 100) for i in range(10)],
            "hw2": [sub("s0", hw2.schedule.early, 0.85)]}
    hw1 = with_positions(hw1, POSITIONS, policy, subs["hw1"])
    assert hw1.ungraded.kind == OUT_OF_ORDER and "A = 'top 10%' (0.55) is below B = 0.7" in hw1.ungraded.reason
    course = grade_course(policy, [hw1, hw2], subs)
    assert all(not course[f"s{i}"].grade("hw1").graded for i in range(10))
    assert course["s0"].grade("hw2").final == 105 and course["s0"].total == 105


def test_once_a_counted_on_time_submission_exists_the_competition_is_graded():
    policy = CoursePolicy()
    hw1, _ = homeworks()
    subs = [sub("ann", hw1.schedule.early, 0.9), sub("bob", hw1.schedule.early, 0.6)]
    hw1 = with_positions(hw1, POSITIONS, policy, subs)
    assert hw1.ungraded is None and hw1.cutoffs.A == 0.9  # top 10% of 2 students: rank 1
    grades = grade_course(policy, [hw1], {"hw1": subs})
    # ann is at A exactly, so no bonus (POLICY.md section 4); bob at C.
    assert (grades["ann"].grade("hw1").final, grades["bob"].grade("hw1").final) == (100, 60)


def test_students_read_a_neutral_reason():
    staff = Ungraded(OUT_OF_ORDER, "on the private leaderboard the cutoffs are out of order: A = 'top 10%' (0.5512) "
                                   "is below B = 0.7")
    assert staff.reason == f"No grades: {staff.why}"
    reason = staff.for_students()
    assert reason.kind == OUT_OF_ORDER and reason.reason.startswith("Not available yet")
    assert reason.why == "" and "0.55" not in reason.reason and "top" not in reason.reason
    assert Ungraded(NOT_YET, "x").for_students().reason.startswith("No grade yet")
