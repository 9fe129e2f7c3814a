"""An extension's duration as staff type it (days or hours) kept to the second, in words, and the time added to an
existing extension for everyone after an outage (POLICY.md section 7)."""
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from podium.rules import Extension, describe_duration, effective_schedule, extended, extension_delta
from tests.rules.helpers import hw1_schedule

HOURS_6 = timedelta(hours=6)


@pytest.mark.parametrize("amount, unit, seconds", [
    (1.00001, "days", 86_401),  # 86,400.864 s: rounded to the nearest second, not cut to 86,400
    (1.5, "days", 129_600),
    (2, "days", 172_800),
    (0.00001, "days", 1),  # 0.864 s: a second
    (6.5, "hours", 23_400),
    (1 / 7200, "hours", 1),  # half a second rounds up
])
def test_amounts_are_kept_to_the_nearest_second(amount, unit, seconds):
    assert extension_delta(amount, unit) == timedelta(seconds=seconds)


@pytest.mark.parametrize("amount, unit, says", [
    (0.000001, "days", "0.000001 days is an extension of less than a second (0.0864 s)"),
    (1e-4, "hours", "0.0001 hours is an extension of less than a second"),
    (0, "days", "must be a positive number of days, not 0"),
    (-1.5, "hours", "must be a positive number of hours, not -1.5"),
    (float("nan"), "days", "not nan"),
    (float("inf"), "days", "not inf"),
    (366, "days", "366 days is more than a year (365 days)"),
    (24 * 366, "hours", "8784 hours is more than a year"),
    (True, "days", "positive number of days"),
])
def test_what_is_no_duration_is_refused_saying_what_to_give(amount, unit, says):
    with pytest.raises(ValueError) as refused:
        extension_delta(amount, unit)
    assert says in str(refused.value)


@given(st.floats(min_value=0.00001, max_value=365, allow_nan=False))
def test_no_whole_second_is_ever_dropped(days):
    kept = extension_delta(days, "days").total_seconds()
    assert abs(kept - days * 86400) <= 0.5 + 1e-6 and kept == int(kept)


@pytest.mark.parametrize("seconds, words", [
    (172_800, "2 days"), (86_401, "1 day 1 second"), (129_600, "1 day 12 hours"), (3600, "1 hour"),
    (23_400, "6 hours 30 minutes"), (59, "59 seconds"),
])
def test_durations_in_words(seconds, words):
    assert describe_duration(timedelta(seconds=seconds)) == words


def test_time_added_for_a_student_without_an_extension_is_a_duration():
    assert extended(hw1_schedule(), None, HOURS_6) == Extension(delta=HOURS_6)


def test_time_added_to_a_duration_makes_it_longer():
    assert extended(hw1_schedule(), Extension(delta=timedelta(days=2)), HOURS_6) == Extension(
        delta=timedelta(days=2, hours=6))


def test_time_added_to_explicit_deadlines_moves_each_of_the_students_deadlines_as_far():
    s = hw1_schedule()
    before = Extension(ontime=s.late + timedelta(days=3))  # on time past the class's late deadline: late moves too
    after = extended(s, before, HOURS_6)
    old, new = effective_schedule(s, before), effective_schedule(s, after)
    assert (new.early, new.ontime, new.late) == (old.early + HOURS_6, old.ontime + HOURS_6, old.late + HOURS_6)
    assert new.opens == s.opens
