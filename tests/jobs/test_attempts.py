"""Each scoring attempt runs in a child process within a time and a memory budget: a runaway file, a gzip bomb or a
file that kills its scoring process fails with a message the student can act on, never holds the queue, and never
costs the server its memory; everything else is scored. The queue takes turns between students."""
from __future__ import annotations

import gzip
import io
from dataclasses import replace

import psutil

from podium import attempts
from podium.jobs import ScoringPool
from podium.models import Status, Submission
from podium.runtime import Runtime
from podium.services import submissions
from tests.conftest import N_ROWS, predictions
from tests.jobs.conftest import CRASH, GATED, HOG, RUNAWAY, marked
from tests.jobs.test_pool import WAIT, wait_for

MB = 2**20


def with_jobs(rt: Runtime, **changes) -> Runtime:
    """The test's runtime with other background settings (as PODIUM_SCORING_* would give)."""
    return Runtime(settings=replace(rt.settings, jobs=replace(rt.settings.jobs, **changes)), db=rt.db)


def stored(rt, *subs) -> list[Submission]:
    with rt.db.session() as session:
        return [session.get(Submission, sub.id) for sub in subs]


def wide_header(columns: int = 2_000_000) -> str:
    """The poison of the finding: a header of millions of columns, and the rows the competition expects."""
    return "id,label," + ",".join(f"c{i}" for i in range(columns)) + "\n" + "".join(f"{i},0\n" for i in range(N_ROWS))


def gzip_bomb(size: int = 190 * 10**6) -> bytes:
    """A gzip of a few hundred KB that inflates to one value of `size` bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as stream:
        stream.write(b"id,label\n0,")
        chunk = b"1" * 10**6
        for _ in range(size // len(chunk)):
            stream.write(chunk)
    return out.getvalue()


def resident() -> int:
    return psutil.Process().memory_info().rss


def test_runaway_files_fail_with_a_message_and_never_cost_the_server_its_memory(rt, marked_course):
    rt = with_jobs(rt, scoring_seconds=2, scoring_memory_mb=400)
    normal = [marked_course.upload(rt, predictions(correct=set(range(n)))) for n in (6, 12, 18)]
    pool = ScoringPool(rt, workers=2)
    # The memory hog is scored beside them with a clock it cannot run out, so that only its memory can stop it: a
    # scoring process runs niced, and on a busy machine it could get too little CPU in 2 s to reach 400 MB and be
    # stopped by the clock instead.
    hog_pool = ScoringPool(with_jobs(rt, scoring_seconds=WAIT), workers=1)
    try:
        # Warm: the pools' threads and processes are running before the server's memory is measured.
        assert pool.submit(normal[0].id).result(WAIT).status == Status.scored
        hog_pool.start()
        before = resident()
        bomb = marked_course.upload(rt, "")
        bomb_path = rt.settings.located(stored(rt, bomb)[0].file_path)
        bomb_path.write_bytes(gzip_bomb())
        assert bomb_path.stat().st_size < 500_000
        poison = [marked_course.upload(rt, text) for text in (marked(RUNAWAY), wide_header(), marked(HOG))]
        futures = [*(pool.submit(sub.id) for sub in (*poison[:2], bomb, *normal[1:])), hog_pool.submit(poison[2].id)]
        outcomes = [future.result(WAIT) for future in futures]
        after = resident()
    finally:
        pool.shutdown()
        hog_pool.shutdown()
    runaway, header, hog = outcomes[0], outcomes[1], outcomes[-1]
    assert runaway.status == Status.failed and runaway.error == attempts.too_slow_message(pool.budget)
    assert "took more than 2 s to score" in runaway.error and "columns of the sample submission" in runaway.error
    assert hog.status == Status.failed and hog.error == attempts.too_large_message(hog_pool.budget)
    assert "needed more than 400 MB of memory" in hog.error
    # The header of millions of columns and the bomb: stopped by a budget, or refused by the reader, with a message.
    for sub in (header, outcomes[2]):
        assert sub.status == Status.failed and sub.error and "Traceback" not in sub.error
    assert [sub.status for sub in stored(rt, *normal)] == [Status.scored] * 3
    assert [(s.public_score, s.private_score) for s in stored(rt, *normal)] == [(1.0, 0.0), (1.0, 0.5), (1.0, 1.0)]
    assert after - before < 50 * MB, f"the server grew by {(after - before) / MB:.0f} MB"


def test_a_file_that_kills_its_scoring_process_fails_after_the_allowed_attempts(rt, marked_course):
    rt = with_jobs(rt, scoring_attempts=2)
    crash = marked_course.upload(rt, marked(CRASH))
    normal = [marked_course.upload(rt, predictions(correct=set(range(n)))) for n in (6, 18)]
    pool = ScoringPool(rt, workers=1)
    try:
        first = pool.submit(crash.id)
        futures = [pool.submit(sub.id) for sub in normal]
        assert first.result(WAIT).status == Status.queued  # the first attempt counted, the file handed out again
        assert all(future.result(WAIT).status == Status.scored for future in futures)
        assert wait_for(lambda: stored(rt, crash)[0].status == Status.failed)
    finally:
        pool.shutdown()
    [failed] = stored(rt, crash)
    assert failed.attempts == 2 and failed.error == attempts.gave_up_message(2)
    assert "tried to score this file 2 times" in failed.error and "sample submission" in failed.error
    assert len(marked_course.scorings()) == 4  # the two normal uploads, Public and Private rows each


def test_a_submission_whose_claims_keep_ending_without_a_result_fails_at_its_next_claim(rt, marked_course,
                                                                                        dead_holder):
    sub = marked_course.upload(rt)
    for _ in range(2):  # two servers killed while scoring it
        with rt.db.session() as session:
            assert submissions.claim(session, sub.id, worker=dead_holder, lease_seconds=3600)
    with rt.db.session() as session:
        assert submissions.pending_ids(session) == [sub.id]
    done = submissions.score(rt.db, rt.settings, sub.id)
    assert (done.status, done.attempts, done.error) == (Status.failed, 3, attempts.gave_up_message(2))
    assert marked_course.scorings() == []  # not scored a third time
    again = submissions.score(rt.db, rt.settings, sub.id, rescore=True)  # a rescore starts the count afresh
    assert (again.status, again.attempts) == (Status.scored, 1)


def test_the_queue_takes_each_students_first_upload_before_anyones_second(rt, marked_course):
    a = [marked_course.upload(rt, student=0) for _ in range(3)]
    b = [marked_course.upload(rt, student=1) for _ in range(2)]
    with rt.db.session() as session:
        assert submissions.pending_ids(session) == [a[0].id, b[0].id, a[1].id, b[1].id, a[2].id]
        # A student with an upload being scored elsewhere comes after the others.
        assert submissions.claim(session, b[0].id, worker="busy:7:bb", lease_seconds=3600)
    with rt.db.session() as session:
        assert submissions.pending_ids(session) == [a[0].id, a[1].id, b[1].id, a[2].id]


def test_one_students_twenty_uploads_do_not_hold_up_anothers_single_upload(rt, marked_course):
    first = marked_course.upload(rt, marked(GATED), student=0)
    rest = [marked_course.upload(rt, predictions(correct=set(range(n))), student=0) for n in range(19)]
    other = marked_course.upload(rt, student=1)
    pool = ScoringPool(rt, workers=1)
    try:
        futures = [pool.submit(sub.id) for sub in (first, *rest, other)]  # in the order they arrived
        marked_course.open_gate()
        assert all(future.result(WAIT).status == Status.scored for future in futures)
    finally:
        pool.shutdown()
    order = [sub.id for sub in sorted(stored(rt, first, *rest, other), key=lambda s: s.scored_at)]
    assert order[:3] == [first.id, other.id, rest[0].id]


def test_a_rescore_from_the_staff_pages_stops_a_runaway_file_too(rt, marked_course):
    from podium.web.tasks import Rescores

    rt = with_jobs(rt, scoring_seconds=1)
    runaway, normal = marked_course.upload(rt, marked(RUNAWAY)), marked_course.upload(rt)
    rescores = Rescores(rt)
    assert rescores.start(marked_course.comp_id, actor="prof@x.edu")
    rescores.wait(marked_course.comp_id, timeout=WAIT)
    progress = rescores.progress(marked_course.comp_id)
    assert (progress.running, progress.error, progress.counts) == (False, None, {"scored": 1, "failed": 1,
                                                                                 "skipped": 0})
    runaway, normal = stored(rt, runaway, normal)
    assert runaway.error == attempts.too_slow_message(attempts.Budget.of(1, rt.settings.jobs.scoring_memory_mb))
    assert (normal.status, normal.public_score) == (Status.scored, 1.0)
