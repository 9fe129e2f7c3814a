"""What Kaggle CLI uploads sent and never handed in may keep on disk: a cap per student on the bytes waiting (at the
ticket, and again at the upload), and the deletion of a file once its ticket expired, by the scheduler's clean-up
and when the same student asks for a new ticket."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from podium.config import load_settings
from podium.jobs import BackgroundJobs, ScoringPool
from podium.models import UploadTicket
from podium.services import upload_tickets
from tests.api.test_kaggle_api import error, finish, put, ticket
from tests.conftest import predictions

TEXT = predictions()
SIZE = len(TEXT.encode())


def cap_staged_bytes(rt, n_bytes: int) -> None:
    rt.settings = replace(rt.settings, storage=replace(rt.settings.storage, staged_bytes=n_bytes))


def staged_files(rt) -> list:
    folder = upload_tickets.staging_dir(rt.settings)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def send_without_handing_in(client, person, text: str = TEXT):
    """Steps 1 and 2 of `kaggle competitions submit`, as a command interrupted before its hand-in leaves them;
    the ticket's answer (the refusal when it is refused)."""
    issued = ticket(client, person, text)
    if issued.status_code == 200:
        assert put(client, issued.get_json()["createUrl"], text.encode()).status_code == 200
    return issued


def age_tickets(rt, by: timedelta) -> None:
    """Move every ticket back in time, as if it had been issued and sent `by` ago."""
    with rt.db.session() as session:
        for row in session.scalars(select(UploadTicket)):
            row.created_at, row.expires_at = row.created_at - by, row.expires_at - by
            row.received_at = row.received_at and row.received_at - by


def test_uploads_sent_and_never_handed_in_stop_at_the_students_cap(client, rt, world, monkeypatch):
    """The finding: 20 uploads sent and never handed in kept 20 files on disk (100 MB of 5 MB files)."""
    monkeypatch.setenv("PODIUM_STAGED_MB", "1")
    rt.settings = load_settings()  # the test's data dir and database, from the environment the fixture set
    file = "x" * 300_000  # never handed in: its content is never read
    answers = [send_without_handing_in(client, world.student, file) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 3 + [429] * 17
    assert len(staged_files(rt)) == 3
    message = error(answers[-1], 429)
    assert "You have 3 uploads of 0.9 MB sent (or announced) with the Kaggle CLI" in message
    assert "at most 1.0 MB may wait per student: this file of 0.3 MB would pass that" in message
    assert "frees its space at" in message and "Submit page" in message
    wait = int(answers[-1].headers["Retry-After"])
    assert 29 * 60 < wait <= 30 * 60  # until the first of them expires
    assert answers[-1].get_json()["resets_at"].endswith("Z")
    assert send_without_handing_in(client, world.other, file).status_code == 200  # a cap per student


def test_a_ticket_is_refused_with_its_reason_when_the_file_alone_is_larger_than_the_cap(client, rt, world):
    cap_staged_bytes(rt, SIZE - 1)
    message = error(ticket(client, world.student, TEXT), 429)
    assert "is larger than the" in message and "Submit page" in message


def test_the_upload_is_refused_too_when_tickets_taken_together_passed_the_cap(client, rt, world):
    """Two tickets taken before the cap was lowered (as two taken at the same instant could): the second upload
    would pass it, so it is refused before its bytes are stored, and its ticket ends: its announced bytes no longer
    count, and the client, which does not retry a 409, asks for a new ticket when the student runs it again."""
    urls = [ticket(client, world.student, TEXT).get_json()["createUrl"] for _ in range(2)]
    cap_staged_bytes(rt, SIZE)
    assert put(client, urls[0], TEXT.encode()).status_code == 200
    refused = put(client, urls[1], TEXT.encode())
    assert "at most" in error(refused, 409) and "Retry-After" not in refused.headers
    assert len(staged_files(rt)) == 1
    cap_staged_bytes(rt, 2 * SIZE)
    assert "already used" in error(put(client, urls[1], TEXT.encode()), 404)
    assert send_without_handing_in(client, world.student).status_code == 200


def test_a_failed_upload_gives_its_room_back(client, rt, world):
    cap_staged_bytes(rt, SIZE)
    issued = ticket(client, world.student, TEXT).get_json()
    assert "announced" in error(put(client, issued["createUrl"], b"id,label\n"), 400)
    assert send_without_handing_in(client, world.student).status_code == 200


def test_handed_in_uploads_wait_no_more(client, rt, world):
    cap_staged_bytes(rt, SIZE)
    for _ in range(3):
        issued = send_without_handing_in(client, world.student).get_json()
        assert finish(client, world.student, issued["token"]).status_code == 200
    assert staged_files(rt) == []


def test_the_scheduler_deletes_the_files_of_expired_tickets(client, rt, world):
    issued = [send_without_handing_in(client, world.student).get_json() for _ in range(2)]
    assert len(staged_files(rt)) == 2
    age_tickets(rt, upload_tickets.LIFETIME - timedelta(minutes=1))
    jobs = BackgroundJobs(rt, ScoringPool(rt, 1))
    try:
        assert jobs.clean_up_if_leading().staged_files == 0  # not expired yet
        assert len(staged_files(rt)) == 2
        age_tickets(rt, timedelta(minutes=2))
        assert jobs.clean_up_if_leading().staged_files == 2
    finally:
        jobs.shutdown()
        jobs.pool.shutdown()
    assert staged_files(rt) == []
    with rt.db.session() as session:
        assert session.scalars(select(UploadTicket.staged_path)).all() == [None, None]  # the rows stay a day
    assert "expired" in error(finish(client, world.student, issued[0]["token"]), 404)


def test_the_clean_up_runs_in_the_scheduler_lease_holder_only(client, rt, world):
    send_without_handing_in(client, world.student)
    age_tickets(rt, upload_tickets.LIFETIME + timedelta(minutes=1))
    holder, other = (BackgroundJobs(rt, ScoringPool(rt, 1), holder=f"p{n}:1:x") for n in (1, 2))
    try:
        assert holder.leading()
        assert other.clean_up_if_leading() is None
        assert len(staged_files(rt)) == 1
        assert holder.clean_up_if_leading().staged_files == 1
    finally:
        for jobs in (holder, other):
            jobs.shutdown()
            jobs.pool.shutdown()


def test_a_new_ticket_deletes_the_students_own_expired_files_at_once(client, rt, world):
    send_without_handing_in(client, world.student)
    send_without_handing_in(client, world.other)
    age_tickets(rt, upload_tickets.LIFETIME + timedelta(minutes=1))
    cap_staged_bytes(rt, SIZE)  # the expired file no longer counts, and goes
    assert send_without_handing_in(client, world.student).status_code == 200
    with rt.db.session() as session:
        others = session.scalars(select(UploadTicket.id).where(UploadTicket.user_id == world.other.id)).all()
    left = {path.name.split("-")[0] for path in staged_files(rt)}  # files are named <ticket>-<attempt>
    assert set(others) <= left and len(left) == 2  # the classmate's waits for the scheduler; the new one is there


def test_partial_files_of_uploads_cut_off_by_a_kill_are_removed_after_a_day(rt, world):
    folder = upload_tickets.staging_dir(rt.settings)
    folder.mkdir(parents=True, exist_ok=True)
    old, recent = folder / ".incoming-old", folder / ".incoming-recent"
    old.write_bytes(b"id,la")
    recent.write_bytes(b"id,la")
    day_ago = (datetime.now(timezone.utc) - timedelta(days=1, minutes=1)).timestamp()
    os.utime(old, (day_ago, day_ago))
    assert upload_tickets.clean_up(rt.db, rt.settings) == 1
    assert not old.exists() and recent.exists()


def test_no_cap_when_it_is_off(client, rt, world):
    cap_staged_bytes(rt, 0)
    assert [send_without_handing_in(client, world.student).status_code for _ in range(6)] == [200] * 6
