"""Receiving and scoring submissions: durability, windows, the daily limit under concurrency, exactly-once claims."""
from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from podium.errors import PodiumError, Refused
from podium.models import Competition, Status, Submission, User
from podium.services import competitions, selection, submissions, users
from podium.services.courses import get_competition, get_course, load_course
from podium.services.submissions import UploadTooLarge
from tests.conftest import predictions, write_course


@pytest.fixture
def ids(rt, course_dir):
    """(competition id, student id) in a loaded course whose daily limit is 5."""
    with rt.db.session() as session:
        load_course(session, rt.settings, course_dir)
        student = users.add_user(session, "s@x.edu", get_course(session, "c1"), "student")
        return get_competition(session, "c1-hw1").id, student.id


def upload(rt, ids, text: str = predictions(), **kwargs) -> Submission:
    return submissions.receive(rt.db, rt.settings, *ids, io.BytesIO(text.encode()), "pred.csv", **kwargs)


def uploaded_files(rt) -> list[Path]:
    return [p for p in rt.settings.uploads_dir.rglob("*") if p.is_file()]


def test_an_upload_is_stored_with_its_hash_and_queued(rt, ids):
    text = predictions()
    sub = upload(rt, ids, text, description="  first try ")
    assert sub.status == Status.queued and sub.description == "first try"
    stored = rt.settings.located(sub.file_path)
    assert stored.read_text() == text and rt.settings.uploads_dir in stored.parents
    assert sub.sha256 == hashlib.sha256(text.encode()).hexdigest() and sub.size_bytes == len(text)
    assert abs(sub.submitted_at - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_scoring_claims_a_submission_exactly_once(rt, ids):
    sub = upload(rt, ids)
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id) is True
    with rt.db.session() as session:
        assert submissions.claim(session, sub.id) is False
    assert submissions.score(rt.db, rt.settings, sub.id) is None


def test_score_stores_public_and_private_scores(rt, ids):
    sub = submissions.score(rt.db, rt.settings, upload(rt, ids).id)
    assert sub.status == Status.scored and sub.public_score == 1.0 and sub.private_score == 1.0
    assert sub.rows == 20 and sub.scoring_seconds >= 0 and sub.error is None


def test_a_bad_file_fails_with_a_message_and_keeps_the_upload(rt, ids):
    sub = submissions.score(rt.db, rt.settings, upload(rt, ids, "id,label\n1,2\n").id)
    assert sub.status == Status.failed and "missing" in sub.error.lower()
    assert rt.settings.located(sub.file_path).is_file()


def test_the_daily_limit_holds_under_parallel_uploads(rt, ids):
    def attempt(_):
        try:
            return upload(rt, ids).id
        except Refused as exc:
            return exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    accepted = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(accepted) == 5 and len(refused) == 7
    assert all(r.code == 429 and "5" in r.message for r in refused)
    assert len(uploaded_files(rt)) == 5
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 5


def test_failed_submissions_do_not_count_toward_the_daily_limit(rt, ids):
    for _ in range(5):
        submissions.score(rt.db, rt.settings, upload(rt, ids, "id,label\n").id)
    for _ in range(5):
        upload(rt, ids)
    with pytest.raises(Refused):
        upload(rt, ids)


def test_a_refused_upload_leaves_no_file(rt, ids):
    with pytest.raises(Refused) as info:
        upload(rt, ids, at=datetime.now(timezone.utc) - timedelta(days=30))
    assert "opens at" in info.value.message and "America/New_York" in info.value.message
    assert uploaded_files(rt) == []


def test_an_upload_over_the_size_limit_is_refused_as_413(rt, ids):
    small = rt.settings.__class__(**{**rt.settings.__dict__, "max_upload_bytes": 50})
    with pytest.raises(UploadTooLarge) as info:
        submissions.receive(rt.db, small, *ids, io.BytesIO(predictions().encode()), "pred.csv")
    assert info.value.code == 413 and "limit" in info.value.message
    assert uploaded_files(rt) == []


def test_practice_submissions_after_the_close_when_allowed(rt, tmp_path):
    now = datetime.now(timezone.utc)
    folder = write_course(tmp_path / "old", slug="c9", now=now - timedelta(days=30),
                          extra_competition="allow_practice = true")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        student = users.add_user(session, "p@x.edu", get_course(session, "c9"), "student")
        comp_id = get_competition(session, "c9-hw1").id
    sub = upload(rt, (comp_id, student.id))
    assert sub.practice is True


def test_after_the_close_without_practice_is_refused(rt, tmp_path):
    folder = write_course(tmp_path / "old", slug="c8", now=datetime.now(timezone.utc) - timedelta(days=30))
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        student = users.add_user(session, "q@x.edu", get_course(session, "c8"), "student")
        comp_id = get_competition(session, "c8-hw1").id
    with pytest.raises(Refused) as info:
        upload(rt, (comp_id, student.id))
    assert "closed at" in info.value.message


def finalise(rt, comp_id: int, *, release: bool = False) -> None:
    with rt.db.session() as session:
        comp = session.get(Competition, comp_id)
        competitions.finalise(session, comp, actor="prof@x.edu")
        if release:
            competitions.release(session, comp, actor="prof@x.edu", override="released early for the test")


@pytest.mark.parametrize("release", [False, True], ids=["finalised", "released"])
def test_nothing_that_counts_is_recorded_once_the_competition_is_finalised(rt, ids, release):
    """Not by the student while their window is still open, nor by staff recording a backdated submission: after
    finalisation that would be a change needing an audited regrade (POLICY.md section 11)."""
    finalise(rt, ids[0], release=release)
    with pytest.raises(Refused) as student:
        upload(rt, ids)
    assert "finalised" in student.value.message and "not recorded" in student.value.message
    with pytest.raises(Refused) as staff:
        upload(rt, ids, at=datetime.now(timezone.utc) - timedelta(hours=1), recorded_by="prof@x.edu")
    assert "finalised" in staff.value.message and "regrade" in staff.value.message
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
        with pytest.raises(Refused):
            submissions.check_can_submit(session, rt.settings, session.get(Competition, ids[0]),
                                         session.get(User, ids[1]), datetime.now(timezone.utc))
    assert uploaded_files(rt) == []


def test_practice_submissions_are_still_taken_after_finalisation(rt, tmp_path):
    folder = write_course(tmp_path / "old", slug="c9", now=datetime.now(timezone.utc) - timedelta(days=30),
                          extra_competition="allow_practice = true")
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)
        student = users.add_user(session, "p@x.edu", get_course(session, "c9"), "student")
        comp_id = get_competition(session, "c9-hw1").id
    finalise(rt, comp_id, release=True)
    assert upload(rt, (comp_id, student.id)).practice is True


def test_pending_submissions_are_found_for_recovery(rt, ids):
    first, second, live = upload(rt, ids), upload(rt, ids), upload(rt, ids)
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    with rt.db.session() as session:
        submissions.claim(session, second.id, worker="elsewhere:1:ab", lease_seconds=60, now=an_hour_ago)
        submissions.claim(session, live.id, worker="elsewhere:2:cd", lease_seconds=600)
    submissions.score(rt.db, rt.settings, upload(rt, ids).id)
    with rt.db.session() as session:  # the live claim is another worker's business
        assert submissions.pending_ids(session) == [first.id, second.id]


def test_a_very_long_file_name_is_kept_by_its_end_and_the_upload_is_scored(rt, ids):
    name = "run-" + "x" * 400 + ".csv"
    sub = submissions.receive(rt.db, rt.settings, *ids, io.BytesIO(predictions().encode()), name)
    assert len(sub.file_name) == submissions.FILE_NAME_MAX and sub.file_name.endswith("xxx.csv")
    assert len(rt.settings.located(sub.file_path).name.encode()) <= 255
    assert submissions.score(rt.db, rt.settings, sub.id).status == Status.scored


def test_a_description_with_a_nul_character_is_refused_and_nothing_is_kept(rt, ids):
    with pytest.raises(PodiumError, match="description must not contain a NUL character"):
        upload(rt, ids, description="one\x00two")
    assert uploaded_files(rt) == []
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0


def test_parallel_final_marks_never_pass_the_limit_of_two(rt, ids):
    """Each mark reads the student's marks and adds one: done in parallel (two browser tabs, the API), they are
    counted one at a time, or on PostgreSQL two of them could together pass the limit."""
    subs = [submissions.score(rt.db, rt.settings, upload(rt, ids).id).id for _ in range(5)]
    with rt.db.session() as session:
        student = session.get(User, ids[1])
    start = threading.Barrier(len(subs))

    def mark(sub_id: int) -> bool:
        start.wait()
        try:
            with rt.db.session() as session:
                selection.set_mark(session, sub_id, True, by=session.get(User, student.id))
            return True
        except Refused:
            return False

    with ThreadPoolExecutor(max_workers=len(subs)) as pool:
        outcomes = list(pool.map(mark, subs))
    assert outcomes.count(True) == 2
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission).where(Submission.selected)) == 2
