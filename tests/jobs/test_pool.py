"""The scoring pool: recovery picks up queued and lapsed work and leaves live claims alone; leases are renewed."""
from __future__ import annotations

import time
from concurrent.futures import wait

import psutil

from podium.jobs import ScoringPool
from podium.models import Status, Submission
from podium.services import submissions
from tests.conftest import predictions
from tests.jobs.conftest import GATED, hours_ago, marked, upload

WAIT = 60  # seconds: a bound for waiting, never a measure


def wait_for(condition, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def status_of(rt, submission_id: int) -> Status:
    with rt.db.session() as session:
        return session.get(Submission, submission_id).status


def child_of(pool: ScoringPool) -> psutil.Process:
    """The one scoring process a one-slot pool runs."""
    [pid] = pool.process_ids()
    return psutil.Process(pid)


def test_recovery_scores_queued_and_lapsed_submissions_but_not_live_claims(rt, ids, dead_holder):
    queued = upload(rt, ids, predictions(correct=set(range(6))))
    expired = upload(rt, ids, predictions(correct=set(range(18))))
    orphaned = upload(rt, ids)
    live = upload(rt, ids)
    with rt.db.session() as session:
        submissions.claim(session, expired.id, worker="gone:9:aa", lease_seconds=60, now=hours_ago(2))
        submissions.claim(session, orphaned.id, worker=dead_holder, lease_seconds=3600)
        submissions.claim(session, live.id, worker="busy:7:bb", lease_seconds=3600)
    pool = ScoringPool(rt, workers=2)
    try:
        futures = pool.recover()
        done, not_done = wait(futures, timeout=WAIT)
        assert not not_done
    finally:
        pool.shutdown()
    assert sorted(f.result().id for f in futures) == [queued.id, expired.id, orphaned.id]
    with rt.db.session() as session:
        rows = {s.id: s for s in session.query(Submission)}
    assert [rows[i].status for i in (queued.id, expired.id, orphaned.id)] == [Status.scored] * 3
    assert (rows[queued.id].public_score, rows[queued.id].private_score) == (1.0, 0.0)
    assert (rows[expired.id].public_score, rows[expired.id].private_score) == (1.0, 1.0)
    assert all(rows[i].claimed_by == pool.worker for i in (queued.id, expired.id, orphaned.id))
    assert rows[live.id].status == Status.scoring and rows[live.id].claimed_by == "busy:7:bb"


def test_a_submission_handed_twice_to_a_pool_is_scored_once(rt, marked_course):
    sub = marked_course.upload(rt, marked(GATED))
    pool = ScoringPool(rt, workers=2)
    try:
        first, second = pool.submit(sub.id), pool.submit(sub.id)
        recovered = pool.recover()  # it is queued or being scored here: recovery hands back the same work
        marked_course.open_gate()
        assert first.result(WAIT).status == Status.scored
        assert second is first and all(f is first for f in recovered)
    finally:
        pool.shutdown()
    assert len(marked_course.scorings()) == 2  # one scoring: the metric ran on the Public rows and the Private rows


def test_a_long_scoring_keeps_its_claim_by_renewing_the_lease(rt, marked_course):
    sub = marked_course.upload(rt, marked(GATED))
    pool = ScoringPool(rt, workers=1, lease_seconds=1.5)  # renewed every 0.5 s
    try:
        future = pool.submit(sub.id)
        assert wait_for(lambda: status_of(rt, sub.id) == Status.scoring)
        # For three lease lengths, a rival keeps trying to take the submission over; the renewals keep it ours.
        rival_wins, deadline = [], time.monotonic() + 4.5
        while time.monotonic() < deadline:
            with rt.db.session() as session:
                if submissions.claim(session, sub.id, worker="rival:1:aa"):
                    rival_wins.append(True)
            time.sleep(0.1)
        marked_course.open_gate()
        assert future.result(WAIT).status == Status.scored
    finally:
        marked_course.open_gate()
        pool.shutdown()
    assert rival_wins == []
    with rt.db.session() as session:
        assert session.get(Submission, sub.id).claimed_by == pool.worker


def test_a_clean_shutdown_stops_the_attempt_at_once_and_gives_everything_back_uncounted(rt, marked_course):
    running = marked_course.upload(rt, marked(GATED))
    waiting = [marked_course.upload(rt) for _ in range(2)]
    pool = ScoringPool(rt, workers=1)
    futures = [pool.submit(sub.id) for sub in (running, *waiting)]
    assert wait_for(lambda: status_of(rt, running.id) == Status.scoring and pool.process_ids())
    child = child_of(pool)
    pool.shutdown(wait=True, cancel_pending=True)  # the gate never opens: only a kill ends this attempt
    with rt.db.session() as session:
        rows = [session.get(Submission, s.id) for s in (running, *waiting)]
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [(Status.queued, 0, None)] * 3
    assert not child.is_running()
    assert futures[0].result().status == Status.queued and all(f.cancelled() for f in futures[1:])
    assert marked_course.scorings() == []


def test_a_scoring_that_breaks_down_goes_back_to_the_queue_counted(rt, ids, monkeypatch):
    sub = upload(rt, ids)
    real, calls = submissions._store_outcome, []

    def flaky_store(session, *args, **options):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("disk I/O error")
        return real(session, *args, **options)

    monkeypatch.setattr(submissions, "_store_outcome", flaky_store)
    pool = ScoringPool(rt, workers=1)
    try:
        first = pool.submit(sub.id)
        assert isinstance(first.exception(WAIT), OSError)
        with rt.db.session() as session:
            back = session.get(Submission, sub.id)
            assert (back.status, back.claimed_by, back.attempts) == (Status.queued, None, 1)
        [again] = pool.recover()
        assert again.result(WAIT).status == Status.scored
    finally:
        pool.shutdown()
    with rt.db.session() as session:
        assert session.get(Submission, sub.id).attempts == 2
