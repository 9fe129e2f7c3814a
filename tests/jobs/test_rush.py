"""bench/rush.py's machinery at a tiny size: a real `podium run --workers 2` on the test's database, a few students
uploading from parallel clients on a bunched schedule, and the check of every upload in the database. Only what
must hold on any machine is asserted (no errors, nothing lost or scored twice), never a time."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import rush  # noqa: E402  (bench/rush.py)


def test_a_tiny_rush_is_acknowledged_and_scored_exactly_once(tmp_path, database_url):
    plan = rush.Plan(students=4, uploads=16, seconds=2.0, clients=4, rows=2_000, workers=2)
    outcome = rush.run_rush(plan, tmp_path, database_url)
    assert [a.error for a in outcome.errors] == []
    assert len(outcome.acks) == plan.uploads
    assert outcome.lost == [] and outcome.double_scorings == 0 and outcome.stored_unacknowledged == 0
    assert outcome.scored_after_last_ack is not None  # everything was scored before the bench gave up waiting
    assert len(outcome.received_to_scored) == plan.uploads
    lines = rush.report(outcome, "the test's database")
    assert "PASS  zero errors: 0" in lines and "PASS  zero lost: 0 lost, 0 scored twice" in lines


def test_the_check_finds_an_acknowledged_upload_that_is_missing_unscored_or_scored_wrong():
    attempts = [rush.Attempt(n=n, email="s@x", variant=n % 2, planned=0.0, started=0.0, finished=0.1, status=202,
                             submission_id=10 + n) for n in range(4)]
    expected = [(0.5, 0.25), (0.75, 0.5)]
    rows = [
        (10, "rush-00000", "scored", 0.5, 0.25, None, None),  # right
        (11, "rush-00001", "queued", None, None, None, None),  # never scored
        (12, "rush-00002", "scored", 0.75, 0.5, None, None),  # the other file's scores
        # rush-00003 (id 13) is missing; id 14 was stored without an acknowledgement
        (14, "rush-00099", "scored", 0.5, 0.25, None, None),
    ]
    lost, unacknowledged = rush.check_every_upload(rows, attempts, expected)
    assert [item.split(" ")[0] for item in lost] == ["rush-00001", "rush-00002", "rush-00003"]
    assert unacknowledged == 1


def test_the_send_times_fill_the_rush_and_bunch_towards_the_deadline():
    times = rush.send_times(900, 180.0)
    assert len(times) == 900 and times == sorted(times) and 0 <= times[0] and times[-1] < 180
    first, last = (sum(1 for t in times if lo <= t < hi) for lo, hi in ((0, 60), (120, 180)))
    assert last > 3 * first
