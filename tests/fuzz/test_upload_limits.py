"""Oversized and decompression-bomb uploads through each door a file comes in by: the site's form, the REST API and
the Kaggle API. Too large is a 413 that keeps nothing; a bomb small enough to upload fails when scored, with the
limit in its message, and takes nothing away from what the student submitted before.

The REST API's 413s (over the setting, and over the server's request limit) and the Kaggle ticket's are in
tests/api; the parser's own limits are in tests/scoring.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from podium.models import Status, Submission
from podium.runtime import Runtime
from podium.services import users
from podium.services.courses import get_course
from podium.web import create_app
from tests.api.conftest import now, wait_until_done, world  # noqa: F401 (fixtures)
from tests.conftest import predictions
from tests.web.helpers import PASSWORD, Browser

CID = "c1-hw1"
LIMIT = 1_000_000  # bytes; also the decompression limit, as in production


@pytest.fixture
def small(rt):
    """The app over the test's database with a 1 MB upload limit, scoring in its real background pool."""
    app = create_app(runtime=Runtime(settings=replace(rt.settings, max_upload_bytes=LIMIT), db=rt.db))
    app.test_client_class = Browser
    app.config["TESTING"] = True
    yield app
    app.extensions["podium.scoring"].shutdown(wait=True)


def gzip_bomb(n_bytes: int) -> bytes:
    """A gzip stream of a header and `n_bytes` of zeros: a few kilobytes that inflate to `n_bytes`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0" * (1 << 20)
    parts = [compressor.compress(b"id,label\n")] + [compressor.compress(chunk) for _ in range(n_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def zip_bomb(n_bytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("p.csv", "w") as member:
            for _ in range(n_bytes // 1_000_000):
                member.write(b"0" * 1_000_000)
    return buffer.getvalue()


def count_submissions(rt) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission))


def stored_uploads(rt) -> list:
    return [p for p in rt.settings.uploads_dir.rglob("*") if p.is_file()] if rt.settings.uploads_dir.exists() else []


def api_upload(client, person, content: bytes, name: str):
    return client.post(f"/api/competitions/{CID}/submissions", headers=person.auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name)})


@pytest.mark.parametrize("accept_json", [False, True])
def test_the_sites_form_refuses_a_file_over_the_limit_with_a_413_and_keeps_nothing(rt, world, small, accept_json):
    with rt.db.session() as session:
        users.add_user(session, "formstudent@c1.test", get_course(session, "c1"), "student", password=PASSWORD)
    browser = small.test_client()
    browser.signed_in_as("formstudent@c1.test")
    # Under the server's request limit (the setting plus a megabyte for the form), over the setting itself.
    content = predictions().encode() + b"\n" * (LIMIT + 10 - len(predictions()))
    headers = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"} if accept_json else {}
    response = browser.form(f"/competitions/{CID}/submit", {"file": (io.BytesIO(content), "big.csv")},
                            content_type="multipart/form-data", headers=headers)
    assert response.status_code == 413
    message = response.get_json()["message"] if accept_json else response.get_data(as_text=True)
    assert "larger than the 1 MB limit; compress it (.csv.gz or .zip)" in message
    assert count_submissions(rt) == 0 and stored_uploads(rt) == []


@pytest.mark.parametrize("bomb, name, said", [
    (gzip_bomb(50_000_000), "pred.csv.gz", "The file decompresses to more than 1 MB (reading stopped there); "
                                           "the limit is 1 MB."),
    (zip_bomb(50_000_000), "pred.zip", "The CSV file in the zip archive (`p.csv`) is 50 MB uncompressed; the limit "
                                       "is 1 MB."),
])
def test_a_bomb_through_the_rest_api_fails_with_the_limit_and_loses_nothing(rt, world, small, bomb, name, said):
    assert len(bomb) < 100_000  # under the upload limit by far: only decompressing shows what it is
    client = small.test_client()
    first = api_upload(client, world.student, predictions().encode(), "good.csv")
    assert first.status_code == 202
    assert wait_until_done(rt, first.get_json()["id"]).status == Status.scored
    second = api_upload(client, world.student, bomb, name)
    assert second.status_code == 202
    failed = wait_until_done(rt, second.get_json()["id"])
    assert (failed.status, failed.error) == (Status.failed, said)
    shown = client.get(f"/api/submissions/{failed.id}", headers=world.student.auth).get_json()
    assert (shown["status"], shown["error"]) == ("failed", said)
    # The accepted submission still counts: scored, and the student's row on the board.
    assert wait_until_done(rt, first.get_json()["id"]).public_score == 1.0
    board = client.get(f"/api/competitions/{CID}/leaderboard", headers=world.student.auth).get_json()
    assert [row["score"] for row in board["entries"] if row["name"] == "Overfitter"] == [1.0]


def test_a_bomb_through_the_kaggle_api_is_refused_with_the_limit_at_once(rt, world, small):
    client = small.test_client()
    bomb = zip_bomb(50_000_000)
    ticket = client.post(f"/api/v1/competitions/{CID}/submissions/url/{len(bomb)}/1700000000",
                         data={"fileName": "pred.zip"}, headers=world.student.auth, content_type="multipart/form-data")
    assert ticket.status_code == 200, ticket.get_data(as_text=True)
    url = ticket.get_json()["createUrl"].replace("http://localhost", "")
    assert client.put(url, data=bomb).status_code == 200
    answer = client.post(f"/api/v1/competitions/submissions/submit/{CID}", headers=world.student.auth,
                         data={"blobFileTokens": ticket.get_json()["token"], "submissionDescription": "bomb"},
                         content_type="multipart/form-data")
    assert answer.status_code == 422
    said = answer.get_json()["message"]
    assert ("could not be scored: The CSV file in the zip archive (`p.csv`) is 50 MB uncompressed; the limit is "
            "1 MB.") in said
    assert "does not count against the daily limit" in said  # a failed upload is given back


def test_a_kaggle_put_over_the_servers_request_limit_is_a_json_413(rt, world, small):
    client = small.test_client()
    ticket = client.post(f"/api/v1/competitions/{CID}/submissions/url/100/1700000000", data={"fileName": "p.csv"},
                         headers=world.student.auth, content_type="multipart/form-data")
    url = ticket.get_json()["createUrl"].replace("http://localhost", "")
    response = client.put(url, data=b"0" * (LIMIT + 1_000_001))  # over the setting and the form's allowance
    assert response.status_code == 413 and response.is_json
    assert "larger than the 1 MB limit" in response.get_json()["message"]
    assert count_submissions(rt) == 0
