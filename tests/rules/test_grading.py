"""One competition's grade from candidates (POLICY.md section 4)."""
from dataclasses import replace
from datetime import timedelta

import pytest

from podium.rules import (
    Counted,
    grade_with_slack,
    missed_early,
    student_candidates,
)
from tests.rules.helpers import POLICY_CUTOFFS, candidates, hw1_schedule, sub

S = hw1_schedule()


def test_best_on_time_wins_when_it_is_highest():
    c = candidates("hw", 0, on_time=95, after={1: 90})
    g = grade_with_slack(c, d_avail=7)
    assert (g.window, g.raw, g.slack_used, g.days_late) == ("on_time", 95, 0, 0)


def test_slack_within_available_days_is_graded_at_base_without_penalty():
    g = grade_with_slack(candidates("hw", 0, on_time=70, after={3: 88}), d_avail=3)
    assert (g.window, g.raw, g.final, g.slack_used, g.days_late) == ("slack", 88, 88, 3, 3)


def test_after_submission_beyond_available_days_is_late():
    g = grade_with_slack(candidates("hw", 0, on_time=70, after={3: 88}), d_avail=2)
    assert (g.window, g.slack_used, g.days_late, g.late_factor) == ("late", 0, 3, 0.9)
    assert g.raw == pytest.approx(79.2)


def test_not_slack_eligible_competition_makes_every_after_submission_late():
    g = grade_with_slack(candidates("hw0", 0, after={1: 100}, slack_eligible=False), d_avail=7)
    assert (g.window, g.slack_used, g.d_avail) == ("late", 0, 0)
    assert g.final == pytest.approx(90)


def test_best_late_among_submissions_slack_cannot_cover_and_best_slack_among_those_it_can():
    c = candidates("hw", 0, after={1: 60, 2: 70, 5: 95})
    g = grade_with_slack(c, d_avail=2)
    # slack: max(60, 70) = 70; late: 0.9 * 95 = 85.5
    assert (g.window, g.days_late) == ("late", 5)
    assert g.raw == pytest.approx(85.5)
    g = grade_with_slack(c, d_avail=5)
    assert (g.window, g.raw, g.slack_used) == ("slack", 95, 5)


def test_tie_prefers_on_time_over_slack():
    g = grade_with_slack(candidates("hw", 0, on_time=80, after={1: 80}), d_avail=7)
    assert (g.window, g.slack_used) == ("on_time", 0)


def test_tie_between_slack_submissions_prefers_the_fewest_days():
    g = grade_with_slack(candidates("hw", 0, after={1: 80, 3: 80}), d_avail=7)
    assert (g.window, g.slack_used) == ("slack", 1)


def test_tie_between_slack_and_late_prefers_slack():
    g = grade_with_slack(candidates("hw", 0, after={2: 90}, late_factor=1.0), d_avail=7)
    assert g.window == "slack"


def test_an_after_submission_within_available_days_is_slack_even_at_base_zero():
    # Section 4 read literally: days_late <= d_avail makes it slack, and slack_used is its days.
    g = grade_with_slack(candidates("hw", 0, after={3: 0}), d_avail=7)
    assert (g.window, g.final, g.slack_used) == ("slack", 0, 3)


def test_nothing_counted_is_window_none_and_zero():
    g = grade_with_slack(candidates("hw", 0, early_missed=True), d_avail=7)
    assert (g.window, g.submission_id, g.raw, g.final, g.slack_used) == ("none", None, 0, 0, 0)
    assert g.early_penalty is False  # nothing to apply it to


def test_early_miss_multiplies_the_raw_grade():
    g = grade_with_slack(candidates("hw", 0, on_time=90, early_missed=True), d_avail=0)
    assert g.early_penalty and g.early_factor == 0.9
    assert (g.raw, g.final) == (90, pytest.approx(81))


def test_early_miss_also_applies_to_a_late_grade():
    g = grade_with_slack(candidates("hw", 0, after={2: 100}, early_missed=True), d_avail=0)
    assert g.final == pytest.approx(0.9 * 0.9 * 100)


def test_missed_early_looks_at_any_scored_submission_at_or_before_early():
    at_early = sub("ann", S.early, 0.1)
    after_early = sub("ann", S.early + timedelta(seconds=1), 0.9)
    failed_before = sub("ann", S.opens, None)
    assert missed_early([at_early], S) is False
    assert missed_early([after_early, failed_before], S) is True
    assert missed_early([], S) is True
    assert missed_early([], replace(S, early=None)) is False


def test_candidates_keep_the_best_on_time_and_the_best_after_per_day():
    on = [sub("ann", S.ontime - timedelta(days=1), 0.75, id=1), sub("ann", S.ontime, 0.85, id=2)]
    after = [sub("ann", S.ontime + timedelta(hours=5), 0.65, id=3),
             sub("ann", S.ontime + timedelta(hours=6), 0.75, id=4),
             sub("ann", S.ontime + timedelta(days=1, hours=1), 0.70, id=5)]
    c = student_candidates(competition="hw", ontime=S.ontime, counted=Counted(tuple(on), tuple(after)),
                           schedule=S, cutoffs=POLICY_CUTOFFS, higher_is_better=True, best=0.90, bonus_points=5,
                           early_missed=False)
    assert c.on_time.submission_id == 2
    assert c.on_time.on_time_grade == pytest.approx(102.5)
    assert [(a.submission_id, a.days_late) for a in c.after] == [(4, 1), (5, 2)]
    assert c.after[0].bonus == 0  # after-deadline submissions never get the bonus


def test_on_time_tie_goes_to_the_earlier_submission():
    on = [sub("ann", S.ontime - timedelta(days=1), 0.75, id=11), sub("ann", S.ontime - timedelta(days=2), 0.75, id=12)]
    c = student_candidates(competition="hw", ontime=S.ontime, counted=Counted(tuple(on), ()), schedule=S,
                           cutoffs=POLICY_CUTOFFS, higher_is_better=True, best=0.75, bonus_points=5,
                           early_missed=False)
    assert c.on_time.submission_id == 12
