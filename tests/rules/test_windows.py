"""Windows, days late and extensions (POLICY.md sections 3 and 7)."""
from datetime import timedelta

import pytest

from podium.rules import Extension, Schedule, classify, days_late, effective_schedule, grading_group
from tests.rules.helpers import NY, at, hw1_schedule

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def test_before_opens_is_refused_naming_the_opening_in_the_course_time_zone():
    s = hw1_schedule()
    result = classify(s.opens - SECOND, s, tz=NY)
    assert result.window == "not_open" and result.refused
    assert result.message == "The competition opens at 2019-09-04 00:00 EDT (America/New_York)."


def test_at_opens_is_on_time_and_early():
    s = hw1_schedule()
    result = classify(s.opens, s, tz=NY)
    assert (result.window, result.is_early, result.refused) == ("on_time", True, False)


def test_early_deadline_is_inclusive():
    s = hw1_schedule()
    assert classify(s.early, s).is_early is True
    assert classify(s.early + SECOND, s).is_early is False
    assert classify(s.early + SECOND, s).window == "on_time"


def test_without_early_deadline_nothing_is_early():
    s = hw1_schedule(early=False)
    assert classify(s.opens, s).is_early is False


def test_ontime_deadline_is_inclusive():
    s = hw1_schedule()
    assert classify(s.ontime, s).window == "on_time"
    after = classify(s.ontime + SECOND, s)
    assert (after.window, after.days_late) == ("after", 1)


def test_late_deadline_is_inclusive_then_closed():
    s = hw1_schedule()
    assert classify(s.late, s).window == "after"
    closed = classify(s.late + SECOND, s, tz=NY)
    assert closed.window == "closed" and closed.refused and not closed.graded
    assert closed.message == "The competition closed at 2019-10-06 23:59:59 EDT (America/New_York)."


def test_practice_after_close_is_accepted_but_never_graded():
    s = hw1_schedule()
    practice = classify(s.late + SECOND, s, allow_practice=True, tz=NY)
    assert practice.window == "practice"
    assert practice.accepted and not practice.refused and not practice.graded
    assert "never graded" in practice.message


@pytest.mark.parametrize("late_by, expected", [
    (timedelta(0), 0),
    (SECOND, 1),
    (timedelta(microseconds=1), 1),
    (DAY - SECOND, 1),
    (DAY, 1),
    (DAY + SECOND, 2),
    (2 * DAY, 2),
    (2 * DAY + timedelta(microseconds=1), 3),
    (7 * DAY, 7),
    (-SECOND, 0),
])
def test_days_late_is_the_ceiling_of_whole_days(late_by, expected):
    ontime = at("2019-09-29 23:59:59")
    assert days_late(ontime + late_by, ontime) == expected


def test_days_late_counts_real_hours_across_the_autumn_change():
    # ontime 23:00 EDT before the 2019-11-03 change: 24 real hours later the clock shows 22:00 EST. The same
    # wall-clock time a day later is 25 real hours, so 2 days: (t - ontime) / 24h counts elapsed time.
    ontime = at("2019-11-02 23:00:00")
    assert days_late(ontime + DAY, ontime) == 1
    assert days_late(at("2019-11-03 22:00:00"), ontime) == 1
    assert days_late(at("2019-11-03 22:00:01"), ontime) == 2
    assert days_late(at("2019-11-03 23:00:00"), ontime) == 2


def test_schedule_out_of_order_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="late is before ontime"):
        Schedule(opens=at("2019-09-04 00:00:00"), early=None, ontime=at("2019-09-29 23:59:59"),
                 late=at("2019-09-28 23:59:59"))
    with pytest.raises(ValueError, match="early must lie between opens and ontime"):
        Schedule(opens=at("2019-09-04 00:00:00"), early=at("2019-09-30 00:00:00"), ontime=at("2019-09-29 23:59:59"),
                 late=at("2019-10-06 23:59:59"))


def test_extension_by_a_duration_moves_early_ontime_and_late_but_not_opens():
    s = hw1_schedule()
    e = effective_schedule(s, Extension(delta=timedelta(days=3)))
    assert e.opens == s.opens
    assert (e.early, e.ontime, e.late) == (s.early + 3 * DAY, s.ontime + 3 * DAY, s.late + 3 * DAY)


def test_extension_turns_a_late_submission_into_an_on_time_one():
    s = hw1_schedule()
    t = s.ontime + 2 * DAY
    assert classify(t, s).window == "after"
    assert classify(t, effective_schedule(s, Extension(delta=2 * DAY))).window == "on_time"


def test_extension_with_explicit_deadlines_replaces_only_those_given():
    s = hw1_schedule()
    new_ontime = at("2019-10-02 23:59:59")
    e = effective_schedule(s, Extension(ontime=new_ontime))
    assert (e.early, e.ontime, e.late) == (s.early, new_ontime, s.late)


def test_explicit_ontime_past_late_also_moves_late():
    s = hw1_schedule()
    new_ontime = at("2019-10-10 23:59:59")
    e = effective_schedule(s, Extension(ontime=new_ontime))
    assert e.ontime == e.late == new_ontime


def test_extension_never_moves_a_deadline_earlier():
    s = hw1_schedule()
    e = effective_schedule(s, Extension(ontime=at("2019-09-20 23:59:59"), late=at("2019-09-21 23:59:59")))
    assert (e.ontime, e.late) == (s.ontime, s.late)


def test_no_extension_keeps_the_schedule():
    s = hw1_schedule()
    assert effective_schedule(s, None) is s


def test_extension_is_a_duration_or_deadlines_not_both():
    with pytest.raises(ValueError, match="not both"):
        Extension(delta=DAY, ontime=at("2019-10-02 23:59:59"))
    with pytest.raises(ValueError, match="negative"):
        Extension(delta=-DAY)


def test_grading_group_follows_the_inclusive_deadlines():
    s = hw1_schedule()
    assert grading_group(s.ontime, s) == "on_time"
    assert grading_group(s.ontime + SECOND, s) == "after"
    assert grading_group(s.late, s) == "after"
    assert grading_group(s.late + SECOND, s) is None
    assert grading_group(s.opens - SECOND, s) == "on_time"  # accepted earlier, then opens moved
