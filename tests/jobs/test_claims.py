"""Claims with leases: one claimer wins, a lapsed claim can be taken over, a stale worker cannot write."""
from __future__ import annotations

import threading

from podium import attempts
from podium.models import Status, Submission
from podium.services import leases, submissions
from tests.conftest import predictions
from tests.jobs.conftest import hours_ago, upload


def state(rt, sub_id: int) -> Submission:
    with rt.db.session() as session:
        return session.get(Submission, sub_id)


def test_of_many_racing_claimers_exactly_one_wins(rt, ids):
    sub = upload(rt, ids)
    start, wins = threading.Barrier(8), []

    def claimer(n: int) -> None:
        start.wait()
        with rt.db.session() as session:
            if submissions.claim(session, sub.id, worker=f"host{n}:1:aa"):
                wins.append(n)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    stored = state(rt, sub.id)
    assert stored.status == Status.scoring and stored.claimed_by == f"host{wins[0]}:1:aa"
    assert stored.lease_until > hours_ago(0)


def test_a_live_claim_cannot_be_taken_over(rt, ids):
    sub = upload(rt, ids)
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id, worker="a:1:aa")
    with rt.db.session() as session:
        assert not submissions.claim(session, sub.id, worker="b:1:bb")
    assert state(rt, sub.id).claimed_by == "a:1:aa"


def test_a_claim_whose_lease_ran_out_can_be_taken_over(rt, ids):
    sub = upload(rt, ids)
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id, worker="a:1:aa", lease_seconds=60, now=hours_ago(1))
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id, worker="b:1:bb")
    assert state(rt, sub.id).claimed_by == "b:1:bb"


def test_a_claim_of_a_dead_process_of_this_host_is_taken_over_at_once(rt, ids, dead_holder):
    sub = upload(rt, ids)
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id, worker=dead_holder, lease_seconds=3600)
    assert leases.holder_is_dead(dead_holder) and not leases.holder_is_dead(leases.this_process())
    with rt.db.session() as session:
        assert submissions.pending_ids(session) == [sub.id]
        assert submissions.claim(session, sub.id, worker="b:1:bb")


def test_a_stale_worker_cannot_overwrite_the_result_of_the_one_that_took_over(rt, ids):
    sub = upload(rt, ids, predictions(correct=set(range(10))))
    taken_over = []

    def slow_attempt(job):
        # Worker A, while it scores: its lease runs out and B takes over and finishes.
        taken_over.append(submissions.score(rt.db, rt.settings, sub.id, worker="b:1:bb"))
        return attempts.Refused("A's late and wrong verdict")

    assert submissions.score(rt.db, rt.settings, sub.id, worker="a:1:aa", lease_seconds=1e-6,
                             attempt=slow_attempt) is None
    assert taken_over[0] is not None and taken_over[0].status == Status.scored
    stored = state(rt, sub.id)
    assert stored.status == Status.scored and stored.error is None and stored.claimed_by == "b:1:bb"
    assert stored.public_score == 1.0 and stored.private_score == 4 / 12 and stored.lease_until is None


def test_only_the_holder_renews_its_claims(rt, ids):
    first, second = upload(rt, ids), upload(rt, ids)
    with rt.db.session() as session:
        submissions.claim(session, first.id, worker="a:1:aa", lease_seconds=60, now=hours_ago(1))
        submissions.claim(session, second.id, worker="b:1:bb", lease_seconds=60, now=hours_ago(1))
    with rt.db.session() as session:
        assert submissions.renew(session, [first.id, second.id], "a:1:aa", 600) == 1
    with rt.db.session() as session:
        assert submissions.pending_ids(session) == [second.id]


def test_rescoring_claims_scored_submissions_again(rt, ids):
    sub = submissions.score(rt.db, rt.settings, upload(rt, ids).id)
    assert submissions.score(rt.db, rt.settings, sub.id) is None  # scored: not claimable for plain scoring
    again = submissions.score(rt.db, rt.settings, sub.id, rescore=True)
    assert again.status == Status.scored and again.scored_at >= sub.scored_at
