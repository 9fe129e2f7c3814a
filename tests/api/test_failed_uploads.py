"""Uploads that cannot be scored: a cap per student, competition and day on how many the server keeps (they do not
count against the daily limit, so that a student can fix a file), and their files removed after some days while
their submissions stay, saying so."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from podium.jobs import BackgroundJobs, ScoringPool
from podium.models import Status, Submission
from podium.services import submissions
from tests.api.conftest import submit_scored
from tests.api.test_kaggle_api import error, ticket
from tests.conftest import predictions
from tests.test_backup import run, sqlite_runtime
from tests.web.helpers import Browser, page

CID = "c1-hw1"
BAD = "id,prediction\n0,1\n"  # the wrong column: "could not be scored"


def upload(client, person, text: str):
    return client.post(f"/api/competitions/{CID}/submissions", headers=person.auth,
                       data={"file": (io.BytesIO(text.encode()), "pred.csv")}, content_type="multipart/form-data")


def stored_uploads(rt) -> list:
    return sorted(p for p in rt.settings.uploads_dir.rglob("*") if p.is_file())


def rows(rt, person) -> list[Submission]:
    with rt.db.session() as session:
        return list(session.scalars(select(Submission).where(Submission.user_id == person.id)
                                    .order_by(Submission.id)))


def test_the_11th_failed_upload_of_a_day_is_refused_with_its_own_message_and_kept_nowhere(client, rt, world):
    """The finding: 15 uploads that could not be scored, against a daily limit of 10, were all accepted and kept.
    The cap is 10 by default (PODIUM_FAILED_UPLOADS_PER_DAY). At the cap an upload is refused outright, never scored
    in the request: scoring belongs to the bounded scoring processes and their fair queue."""
    for _ in range(10):
        submit_scored(rt, world, world.student, BAD)
    refused = upload(client, world.student, BAD)
    message = error(refused, 429)
    assert "10 uploads today" in message and "could not be scored" in message and "not taken" in message
    assert "sample submission" in message and "resets at" in message and "Daily limit" not in message
    assert refused.get_json()["resets_at"] and int(refused.headers["Retry-After"]) > 0
    assert len(rows(rt, world.student)) == 10 and len(stored_uploads(rt)) == 10
    assert error(upload(client, world.student, predictions()), 429) == message  # until the count resets
    assert upload(client, world.other, BAD).status_code == 202  # a cap per student


def test_failed_uploads_stay_outside_the_daily_limit_below_the_cap(client, rt, world):
    """A student fixing a file is not charged for the failures: the daily limit (5 here) counts what scores."""
    for _ in range(9):
        submit_scored(rt, world, world.student, BAD)
    for _ in range(5):
        assert upload(client, world.student, predictions()).status_code == 202
    assert "Daily limit reached" in error(upload(client, world.student, predictions()), 429)


def test_the_kaggle_client_at_the_cap_is_refused_its_ticket_with_the_same_message(client, rt, world):
    for _ in range(10):
        submit_scored(rt, world, world.student, BAD)
    # Refused at the ticket already: the client sends no file bound to be refused at the hand-in.
    message = error(ticket(client, world.student, BAD), 429)
    assert "could not be scored" in message and "not taken" in message
    assert len(rows(rt, world.student)) == 10 and len(stored_uploads(rt)) == 10
    staging = rt.settings.data_dir / "staging"
    assert not staging.exists() or not any(p.is_file() for p in staging.iterdir())


def test_the_submit_page_at_the_cap_shows_the_same_message(app, rt, world):
    for _ in range(10):
        submit_scored(rt, world, world.student, BAD)
    app.test_client_class = Browser
    browser = app.test_client().signed_in_as(world.student.email)
    refused = browser.form(f"/competitions/{CID}/submit", {"file": (io.BytesIO(BAD.encode()), "pred.csv")},
                           content_type="multipart/form-data")
    assert refused.status_code == 429
    assert "could not be scored" in page(refused) and "not taken" in page(refused)
    assert len(rows(rt, world.student)) == 10


def test_uploads_waiting_to_be_scored_do_not_count_toward_the_cap(client, rt, world):
    """They count against the daily limit instead, so at most that many more can fail before the cap refuses."""
    for _ in range(9):
        submit_scored(rt, world, world.student, BAD)
    submissions.receive(rt.db, rt.settings, world.comp_id, world.student.id, io.BytesIO(BAD.encode()), "p.csv")
    assert upload(client, world.student, BAD).status_code == 202
    assert len(rows(rt, world.student)) == 11


def test_staff_are_not_capped(client, rt, world):
    for _ in range(10):
        submit_scored(rt, world, world.staff, BAD)
    assert upload(client, world.staff, BAD).status_code == 202


def test_a_cap_of_zero_keeps_every_failed_upload(client, rt, world):
    rt.settings = replace(rt.settings, storage=replace(rt.settings.storage, failed_uploads_per_day=0))
    for _ in range(10):
        submit_scored(rt, world, world.student, BAD)
    assert upload(client, world.student, BAD).status_code == 202


# --- failed files removed after their keeping time -------------------------------------------------------


def failed_days_ago(rt, world, days: float) -> int:
    sub_id = submit_scored(rt, world, world.student, BAD)
    with rt.db.session() as session:
        scored_at = session.get(Submission, sub_id).scored_at
        session.execute(update(Submission).where(Submission.id == sub_id)
                        .values(scored_at=scored_at - timedelta(days=days)))
    return sub_id


def clean_up(rt):
    jobs = BackgroundJobs(rt, ScoringPool(rt, 1))
    try:
        return jobs.clean_up_if_leading()
    finally:
        jobs.shutdown()
        jobs.pool.shutdown()


def test_a_failed_file_is_removed_after_the_keeping_time_and_its_submission_stays(app, client, rt, world):
    """Seven days by default (PODIUM_FAILED_FILE_DAYS)."""
    old = failed_days_ago(rt, world, 7.01)
    recent = failed_days_ago(rt, world, 6.9)
    good = submit_scored(rt, world, world.student, predictions())
    with rt.db.session() as session:  # a scored file is never removed, however old
        sub = session.get(Submission, good)
        sub.scored_at -= timedelta(days=30)
    paths = {sub.id: rt.settings.located(sub.file_path) for sub in rows(rt, world.student)}
    assert clean_up(rt).failed_files == 1
    assert not paths[old].exists() and paths[recent].exists() and paths[good].exists()
    with rt.db.session() as session:
        kept = session.get(Submission, old)
        assert kept.status == Status.failed and "`label`" in kept.error and kept.file_removed_at is not None
    listed = client.get(f"/api/submissions/{old}", headers=world.student.auth).get_json()
    assert listed["file_removed_at"].endswith("Z") and "`label`" in listed["error"]
    message = error(client.get(f"/api/submissions/{old}/file", headers=world.student.auth), 410)
    assert f"The file of submission {old} (pred.csv) was removed on" in message
    assert "kept 7 days" in message and "`label`" in message
    assert client.get(f"/api/submissions/{recent}/file", headers=world.student.auth).status_code == 200
    app.test_client_class = Browser
    browser = app.test_client().signed_in_as(world.student.email)
    download = browser.get(f"/submissions/{old}/file")
    assert download.status_code == 410 and "was removed on" in page(download)
    shown = page(browser.get(f"/submissions/{old}"))
    assert "removed" in shown and f'/submissions/{old}/file"' not in shown
    assert clean_up(rt).failed_files == 0  # once


def test_a_rescore_leaves_a_submission_whose_file_was_removed_as_it_failed(rt, world):
    old = failed_days_ago(rt, world, 8)
    clean_up(rt)
    counts = submissions.rescore_competition(rt.db, rt.settings, world.comp_id)
    assert counts["skipped"] == 1
    with rt.db.session() as session:
        sub = session.get(Submission, old)
        assert sub.status == Status.failed and "`label`" in sub.error


def test_failed_files_are_kept_for_ever_when_the_keeping_time_is_zero(rt, world):
    rt.settings = replace(rt.settings, storage=replace(rt.settings.storage, failed_file_days=0))
    old = failed_days_ago(rt, world, 400)
    assert clean_up(rt).failed_files == 0
    [sub] = rows(rt, world.student)
    assert sub.id == old and rt.settings.located(sub.file_path).is_file()


def test_a_course_with_a_removed_file_is_exported_and_imported_with_the_row_alone(rt, world, tmp_path):
    old = failed_days_ago(rt, world, 8)
    kept = submit_scored(rt, world, world.student, predictions())
    clean_up(rt)
    archive = tmp_path / "c1.zip"
    exported = run(rt, "export", "c1", "-o", archive)
    assert exported.exit_code == 0, exported.stderr
    target = sqlite_runtime(tmp_path / "restored")
    try:
        imported = run(target, "import", archive)
        assert imported.exit_code == 0, imported.stderr
        with target.db.session() as session:
            restored = {sub.sha256: sub for sub in session.scalars(select(Submission))}
        with rt.db.session() as session:
            removed, scored = session.get(Submission, old), session.get(Submission, kept)
        assert restored[removed.sha256].file_removed_at == removed.file_removed_at
        assert restored[removed.sha256].status == Status.failed and restored[removed.sha256].error == removed.error
        assert target.settings.located(restored[scored.sha256].file_path).is_file()
    finally:
        target.db.dispose()
