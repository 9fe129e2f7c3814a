"""Deadline reminders (podium.rules.reminders), as examples: a competition that opens on the 1st, with its early
deadline on the 10th and its on-time deadline on the 20th at noon (UTC), late on the 25th."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from podium.rules import Extension, Schedule, effective_schedule
from podium.rules.reminders import EARLY, ON_TIME, Reminder, reminders_due

UTC = timezone.utc
OPENS = datetime(2024, 3, 1, 12, tzinfo=UTC)
EARLY_AT = datetime(2024, 3, 10, 12, tzinfo=UTC)
ONTIME_AT = datetime(2024, 3, 20, 12, tzinfo=UTC)
SCHEDULE = Schedule(opens=OPENS, early=EARLY_AT, ontime=ONTIME_AT, late=datetime(2024, 3, 25, 12, tzinfo=UTC))
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)


def due(t: datetime, schedule: Schedule = SCHEDULE, scored=()) -> list[str]:
    return [r.deadline for r in reminders_due(t, schedule, scored)]


def test_the_early_reminder_is_due_in_the_day_before_the_early_deadline():
    assert due(EARLY_AT - DAY - SECOND) == []  # a second too soon
    assert due(EARLY_AT - DAY) == [EARLY]  # exactly 24 hours before
    assert due(EARLY_AT - SECOND) == [EARLY]  # the last second before it
    assert due(EARLY_AT) == []  # the deadline itself: too late to be a reminder
    assert due(EARLY_AT + SECOND) == []  # passed


def test_the_on_time_reminder_is_due_in_the_day_before_the_on_time_deadline():
    assert due(ONTIME_AT - DAY - SECOND) == []
    assert due(ONTIME_AT - DAY) == [ON_TIME]
    assert due(ONTIME_AT - SECOND) == [ON_TIME]
    assert due(ONTIME_AT) == [] and due(ONTIME_AT + DAY) == []  # nothing for the late deadline


def test_a_scored_submission_at_or_before_the_deadline_means_no_reminder():
    assert due(EARLY_AT - DAY, scored=[OPENS + DAY]) == []
    assert due(ONTIME_AT - DAY, scored=[OPENS + DAY]) == []
    # Received after the early deadline: it misses early (so did the student), but counts for on-time.
    missed_early = [EARLY_AT + SECOND]
    assert due(ONTIME_AT - DAY, scored=missed_early) == []


def test_a_submission_in_the_window_suppresses_the_reminders_after_it():
    # Scored an hour into the early reminder's day: the early reminder was due before it, not after.
    scored = [EARLY_AT - DAY + timedelta(hours=1)]
    assert due(EARLY_AT - DAY + timedelta(minutes=30), scored=[]) == [EARLY]
    assert due(EARLY_AT - timedelta(hours=2), scored=scored) == []


def test_an_extension_moves_both_reminders_with_the_deadlines():
    moved = effective_schedule(SCHEDULE, Extension(delta=timedelta(days=2)))
    assert due(EARLY_AT - DAY, moved) == []  # the class's early reminder is not the student's
    assert due(EARLY_AT + DAY, moved) == [EARLY]  # the day before their own early deadline
    assert due(ONTIME_AT + timedelta(days=1, hours=12), moved) == [ON_TIME]
    [reminder] = reminders_due(EARLY_AT + DAY, moved, [])
    assert reminder == Reminder(EARLY, EARLY_AT + 2 * DAY)


def test_a_moved_deadline_is_a_new_reminder_and_the_same_one_keeps_its_key():
    [before] = reminders_due(EARLY_AT - DAY, SCHEDULE, [])
    [again] = reminders_due(EARLY_AT - SECOND, SCHEDULE, [])
    [moved] = reminders_due(EARLY_AT, effective_schedule(SCHEDULE, Extension(delta=timedelta(hours=6))), [])
    assert before.key == again.key == "early:2024-03-10T12:00:00Z"
    assert moved.key == "early:2024-03-10T18:00:00Z"


def test_no_reminder_before_the_competition_opens():
    soon = Schedule(opens=EARLY_AT - timedelta(hours=6), early=EARLY_AT, ontime=ONTIME_AT, late=ONTIME_AT)
    assert due(EARLY_AT - timedelta(hours=7), soon) == []  # in the day before, but not open yet
    assert due(EARLY_AT - timedelta(hours=6), soon) == [EARLY]  # open: reminded at once


def test_no_early_deadline_no_early_reminder():
    plain = Schedule(opens=OPENS, early=None, ontime=ONTIME_AT, late=ONTIME_AT)
    assert due(ONTIME_AT - DAY, plain) == [ON_TIME]
    assert due(EARLY_AT - DAY, plain) == []


def test_an_early_deadline_at_the_on_time_instant_is_one_reminder():
    same = Schedule(opens=OPENS, early=ONTIME_AT, ontime=ONTIME_AT, late=ONTIME_AT)
    assert reminders_due(ONTIME_AT - DAY, same, []) == [Reminder(ON_TIME, ONTIME_AT, also_early=True)]


def test_deadlines_less_than_a_day_apart_are_both_due():
    close = Schedule(opens=OPENS, early=ONTIME_AT - timedelta(hours=3), ontime=ONTIME_AT, late=ONTIME_AT)
    assert due(ONTIME_AT - timedelta(hours=4), close) == [EARLY, ON_TIME]
    assert due(ONTIME_AT - timedelta(hours=4), close, scored=[OPENS]) == []
