"""When students may read a private score (POLICY.md section 11): after release, and for a submission received after
an early release, only once its author's own late deadline has passed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from podium import rules

RELEASED = datetime(2019, 10, 1, 12, 0, tzinfo=timezone.utc)
LATE = datetime(2019, 10, 6, 23, 59, 59, tzinfo=timezone.utc)  # the author's late deadline, extension included
SECOND = timedelta(seconds=1)


def test_nothing_is_shown_before_release():
    assert not rules.private_score_shown(RELEASED - SECOND, None, LATE, LATE + timedelta(days=30))


def test_a_submission_received_by_the_release_is_shown_at_once():
    assert rules.private_score_shown(RELEASED - timedelta(days=3), RELEASED, LATE, RELEASED)
    assert rules.private_score_shown(RELEASED, RELEASED, LATE, RELEASED)  # received at the instant of release


def test_one_received_after_an_early_release_waits_for_its_authors_late_deadline():
    received = RELEASED + SECOND
    assert not rules.private_score_shown(received, RELEASED, LATE, received)
    assert not rules.private_score_shown(received, RELEASED, LATE, LATE)  # deadlines are inclusive: still open
    assert rules.private_score_shown(received, RELEASED, LATE, LATE + SECOND)


def test_instants_in_other_zones_compare_as_instants():
    eastern = timezone(timedelta(hours=-4))
    received = (RELEASED + timedelta(hours=1)).astimezone(eastern)
    assert not rules.private_score_shown(received, RELEASED, LATE.astimezone(eastern), LATE)
    assert rules.private_score_shown(received, RELEASED.astimezone(eastern), LATE, (LATE + SECOND).astimezone(eastern))
