"""Retrying an upload is safe: with the same Idempotency-Key the REST API answers with the submission the first
attempt made, and records nothing new; the key is per student and competition and names one file only."""
from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from podium.models import Submission
from tests.api.conftest import wait_until_done
from tests.api.test_rest import CID, assert_error
from tests.conftest import predictions


def upload(client, person, text: str = predictions(), *, key: str | None = None):
    headers = dict(person.auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/competitions/{CID}/submissions", data={"file": (io.BytesIO(text.encode()), "p.csv")},
                       headers=headers, content_type="multipart/form-data")


def stored_submissions(rt, person) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission).where(Submission.user_id == person.id))


def uploaded_files(rt) -> list:
    return [p for p in rt.settings.uploads_dir.rglob("*") if p.is_file()]


def test_a_retry_with_the_same_key_answers_with_the_first_submission(client, rt, world):
    key = str(uuid.uuid4())
    first = upload(client, world.student, key=key)
    retry = upload(client, world.student, key=key)
    assert first.status_code == retry.status_code == 202
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert stored_submissions(rt, world.student) == 1
    assert len(uploaded_files(rt)) == 1  # the retried bytes are not kept


def test_the_replay_reports_the_score_once_scored(client, rt, world):
    key = str(uuid.uuid4())
    first = upload(client, world.student, predictions(set(range(3))), key=key).get_json()
    wait_until_done(rt, first["id"])
    retry = upload(client, world.student, predictions(set(range(3))), key=key).get_json()
    assert retry["status"] == "scored" and retry["public_score"] == 0.5


def test_uploads_without_a_key_or_with_new_keys_are_new_submissions(client, rt, world):
    ids = {upload(client, world.student).get_json()["id"] for _ in range(2)}
    ids |= {upload(client, world.student, key=str(uuid.uuid4())).get_json()["id"] for _ in range(2)}
    assert len(ids) == 4 and stored_submissions(rt, world.student) == 4


def test_a_retry_is_answered_even_once_the_daily_limit_is_reached(client, rt, world):
    keys = [str(uuid.uuid4()) for _ in range(5)]  # the course allows 5 a day
    answers = [upload(client, world.student, key=key) for key in keys]
    assert all(answer.status_code == 202 for answer in answers)
    assert_error(upload(client, world.student, key=str(uuid.uuid4())), 429)
    retry = upload(client, world.student, key=keys[-1])
    assert retry.status_code == 202 and retry.get_json()["id"] == answers[-1].get_json()["id"]
    assert stored_submissions(rt, world.student) == 5


def test_a_key_reused_for_another_file_is_refused_and_nothing_is_kept(client, rt, world):
    key = str(uuid.uuid4())
    first = upload(client, world.student, predictions(), key=key).get_json()
    body = assert_error(upload(client, world.student, predictions(set()), key=key), 409, "different file", key)
    assert f"submission {first['id']}" in body["message"]
    assert stored_submissions(rt, world.student) == 1 and len(uploaded_files(rt)) == 1


def test_keys_belong_to_one_student(client, rt, world):
    a = upload(client, world.student, key="homework-1").get_json()
    b = upload(client, world.other, key="homework-1").get_json()
    assert a["id"] != b["id"]
    assert stored_submissions(rt, world.student) == stored_submissions(rt, world.other) == 1


def test_a_key_that_is_not_printable_ascii_or_too_long_is_refused_with_what_to_send(client, rt, world):
    for bad in ("x" * 101, "clé"):
        assert_error(upload(client, world.student, key=bad), 400, "Idempotency-Key", "UUID")
    assert stored_submissions(rt, world.student) == 0 and uploaded_files(rt) == []


def test_retries_racing_each_other_record_one_submission(app, rt, world):
    key = str(uuid.uuid4())

    def attempt(_):
        return upload(app.test_client(), world.student, key=key)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.get_json()["id"] for answer in answers}) == 1
    assert sum(answer.headers.get("Idempotent-Replayed") == "true" for answer in answers) == 5
    assert stored_submissions(rt, world.student) == 1
