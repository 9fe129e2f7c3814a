"""The scoring pool: recovery picks up queued and lapsed work and leaves live claims alone; leases are renewed."""
from __future__ import annotations

import threading
import time
from concurrent.futures import wait

from podium.jobs import ScoringPool
from podium.models import Status, Submission
from podium.services import submissions
from tests.conftest import predictions
from tests.jobs.conftest import hours_ago, upload

WAIT = 60  # seconds: a bound for waiting, never a measure


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


def test_a_submission_handed_twice_to_a_pool_is_scored_once(rt, ids, monkeypatch):
    sub = upload(rt, ids)
    gate, runs = threading.Event(), []
    real = submissions._run_scorer

    def gated(settings, *job):
        runs.append(job)
        gate.wait(WAIT)
        return real(settings, *job)

    monkeypatch.setattr(submissions, "_run_scorer", gated)
    pool = ScoringPool(rt, workers=2)
    try:
        first, second = pool.submit(sub.id), pool.submit(sub.id)
        recovered = pool.recover()  # it is queued or being scored here: recovery hands back the same work
        gate.set()
        assert first.result(WAIT).status == Status.scored
        assert second is first and all(f is first for f in recovered)
    finally:
        pool.shutdown()
    assert len(runs) == 1


def test_a_long_scoring_keeps_its_claim_by_renewing_the_lease(rt, ids, monkeypatch):
    sub = upload(rt, ids)
    release, started = threading.Event(), threading.Event()
    real = submissions._run_scorer

    def long_scorer(settings, *job):
        started.set()
        release.wait(WAIT)
        return real(settings, *job)

    monkeypatch.setattr(submissions, "_run_scorer", long_scorer)
    pool = ScoringPool(rt, workers=1, lease_seconds=1.5)  # renewed every 0.5 s
    try:
        future = pool.submit(sub.id)
        assert started.wait(WAIT)
        # For three lease lengths, a rival keeps trying to take the submission over; the renewals keep it ours.
        rival_wins, deadline = [], time.monotonic() + 4.5
        while time.monotonic() < deadline:
            with rt.db.session() as session:
                if submissions.claim(session, sub.id, worker="rival:1:aa"):
                    rival_wins.append(True)
            time.sleep(0.1)
        release.set()
        assert future.result(WAIT).status == Status.scored
    finally:
        release.set()
        pool.shutdown()
    assert rival_wins == []
    with rt.db.session() as session:
        assert session.get(Submission, sub.id).claimed_by == pool.worker


def test_shutdown_with_cancel_leaves_unstarted_uploads_queued(rt, ids, monkeypatch):
    subs = [upload(rt, ids) for _ in range(3)]
    gate, started = threading.Event(), threading.Event()
    real = submissions._run_scorer

    def gated(settings, *job):
        started.set()
        gate.wait(WAIT)
        return real(settings, *job)

    monkeypatch.setattr(submissions, "_run_scorer", gated)
    pool = ScoringPool(rt, workers=1)
    for sub in subs:
        pool.submit(sub.id)
    assert started.wait(WAIT)
    threading.Timer(0.2, gate.set).start()
    pool.shutdown(wait=True, cancel_pending=True)
    with rt.db.session() as session:
        statuses = [session.get(Submission, s.id).status for s in subs]
    assert statuses == [Status.scored, Status.queued, Status.queued]


def test_a_scoring_that_breaks_down_goes_back_to_the_queue_for_the_next_pass(rt, ids, monkeypatch):
    sub = upload(rt, ids)
    real, calls = submissions._store_outcome, []

    def flaky_store(session, *args):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("disk I/O error")
        return real(session, *args)

    monkeypatch.setattr(submissions, "_store_outcome", flaky_store)
    pool = ScoringPool(rt, workers=1)
    try:
        first = pool.submit(sub.id)
        assert isinstance(first.exception(WAIT), OSError)
        with rt.db.session() as session:
            back = session.get(Submission, sub.id)
            assert (back.status, back.claimed_by) == (Status.queued, None)
        [again] = pool.recover()
        assert again.result(WAIT).status == Status.scored
    finally:
        pool.shutdown()
