"""The REST upload and the Kaggle CLI's three steps when Podium cannot store an upload: the database's write lock
held by another connection (on PostgreSQL, a lock on the table the step writes), or an upload folder unable to
take a file. Each answers a JSON 503 with Retry-After and a message that says to try again shortly, keeps nothing,
and goes through once the outage is over; a Kaggle ticket is not used up by a failed step, so the client sends
the same step again with the same token."""
from __future__ import annotations

import io

import pytest

from podium.errors import DatabaseUnavailable
from podium.models import Submission, UploadTicket
from podium.services import users
from podium.services.upload_tickets import staging_dir
from tests.api.openapi_check import assert_matches_openapi
from tests.api.test_kaggle_api import finish, put, ticket
from tests.conftest import predictions
from tests.outages import files_under, replaced_by_a_file, write_locked

pytestmark = pytest.mark.usefixtures("short_lock_waits")

CID = "c1-hw1"
TEXT = predictions()
BUSY = "Podium's database is busy with another write at the moment, so nothing was recorded. Try again shortly."
NO_STORAGE = "Podium cannot store files at the moment, so nothing was kept. Try again shortly."


def unavailable(response, message: str, path: str, method: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"code": 503, "message": message}
    assert response.headers["Retry-After"] == "30"
    assert_matches_openapi(response, path, method)


def stored(rt) -> dict:
    """What the server keeps of uploads: rows, and the files of the uploads and staging folders."""
    with rt.db.session() as session:
        return {"submissions": session.query(Submission).count(),
                "tickets": sorted((t.received_at is not None, t.used_at is not None, t.submission_id)
                                  for t in session.query(UploadTicket)),
                "uploads": files_under(rt.settings.uploads_dir), "staged": files_under(staging_dir(rt.settings))}


def rest_upload(client, person):
    return client.post(f"/api/competitions/{CID}/submissions", headers=person.auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(TEXT.encode()), "pred.csv"), "description": "kept or not"})


# --- the REST API ------------------------------------------------------------------------------------------


def test_a_rest_upload_while_the_database_is_locked_is_a_503_that_keeps_nothing(client, rt, world):
    before = stored(rt)
    with write_locked(rt.settings.database_url):
        refused = rest_upload(client, world.student)
    unavailable(refused, BUSY, "/api/competitions/{cid}/submissions", "post")
    assert stored(rt) == before
    assert rest_upload(client, world.student).status_code == 202


def test_a_rest_upload_the_uploads_folder_cannot_take_is_a_503_that_keeps_nothing(client, rt, world):
    before = stored(rt)
    with replaced_by_a_file(rt.settings.uploads_dir):
        refused = rest_upload(client, world.student)
    unavailable(refused, NO_STORAGE, "/api/competitions/{cid}/submissions", "post")
    assert stored(rt) == before
    assert rest_upload(client, world.student).status_code == 202


def test_a_database_that_cannot_answer_is_not_taken_for_a_wrong_key(rt, world):
    """Else an outage would answer 401 "the key is wrong" and count a failed attempt against the caller."""
    with write_locked(rt.settings.database_url, "users", "ACCESS EXCLUSIVE"), rt.db.session() as session:
        with pytest.raises(DatabaseUnavailable):
            users.authenticate_key(session, world.student.email, world.student.key)
    with rt.db.session() as session:
        assert users.authenticate_key(session, world.student.email, world.student.key).id == world.student.id


# --- the Kaggle CLI: ticket, PUT, hand-in ------------------------------------------------------------------

TICKET = "/api/v1/competitions/{cid}/submissions/url/{contentLength}/{lastModifiedDateUtc}"
PUT = "/api/v1/uploads/{token}"
HAND_IN = "/api/v1/competitions/submissions/submit/{cid}"


def hand_in_works(client, rt, world, issued: dict, *, put_again: bool) -> None:
    """The same ticket goes through after the outage: its file sent (again, when the PUT failed) and handed in."""
    if put_again:
        assert put(client, issued["createUrl"], TEXT.encode()).status_code == 200
    done = finish(client, world.student, issued["token"])
    assert done.status_code == 200, done.get_data(as_text=True)
    with rt.db.session() as session:
        sub = session.get(Submission, done.get_json()["ref"])
        assert rt.settings.located(sub.file_path).read_text() == TEXT
    assert files_under(staging_dir(rt.settings)) == set()  # the staged file is gone once handed in


def test_a_ticket_while_the_database_is_locked_is_a_503_and_no_ticket(client, rt, world):
    before = stored(rt)
    with write_locked(rt.settings.database_url, "upload_tickets"):
        refused = ticket(client, world.student, TEXT)
    unavailable(refused, BUSY, TICKET, "post")
    assert stored(rt) == before
    assert ticket(client, world.student, TEXT).status_code == 200


@pytest.mark.parametrize("folder", ["uploads", "staging"])
def test_no_ticket_while_an_upload_folder_cannot_take_the_file(client, rt, world, folder):
    before = stored(rt)
    with replaced_by_a_file(rt.settings.data_dir / folder):
        refused = ticket(client, world.student, TEXT)
    unavailable(refused, NO_STORAGE, TICKET, "post")
    assert stored(rt) == before


def test_a_put_while_the_database_is_locked_is_a_503_and_the_same_url_takes_the_file_afterwards(client, rt, world):
    issued = ticket(client, world.student, TEXT).get_json()
    before = stored(rt)
    with write_locked(rt.settings.database_url, "upload_tickets"):
        refused = put(client, issued["createUrl"], TEXT.encode())
    unavailable(refused, BUSY, PUT, "put")
    assert stored(rt) == before
    hand_in_works(client, rt, world, issued, put_again=True)


def test_a_put_the_staging_folder_cannot_take_is_a_503_and_the_same_url_takes_the_file_afterwards(client, rt, world):
    issued = ticket(client, world.student, TEXT).get_json()
    before = stored(rt)
    with replaced_by_a_file(staging_dir(rt.settings)):
        refused = put(client, issued["createUrl"], TEXT.encode())
    unavailable(refused, NO_STORAGE, PUT, "put")
    assert stored(rt) == before
    hand_in_works(client, rt, world, issued, put_again=True)


def test_a_hand_in_while_the_database_is_locked_is_a_503_and_the_same_token_is_handed_in_afterwards(client, rt,
                                                                                                   world):
    issued = ticket(client, world.student, TEXT).get_json()
    assert put(client, issued["createUrl"], TEXT.encode()).status_code == 200
    before = stored(rt)
    with write_locked(rt.settings.database_url, "submissions"):
        refused = finish(client, world.student, issued["token"])
    unavailable(refused, BUSY, HAND_IN, "post")
    assert stored(rt) == before  # the staged file among it, and the ticket not used
    hand_in_works(client, rt, world, issued, put_again=False)


def test_a_hand_in_the_uploads_folder_cannot_take_is_a_503_and_the_same_token_is_handed_in_afterwards(client, rt,
                                                                                                     world):
    issued = ticket(client, world.student, TEXT).get_json()
    assert put(client, issued["createUrl"], TEXT.encode()).status_code == 200
    before = stored(rt)
    with replaced_by_a_file(rt.settings.uploads_dir):
        refused = finish(client, world.student, issued["token"])
    unavailable(refused, NO_STORAGE, HAND_IN, "post")
    assert stored(rt) == before
    hand_in_works(client, rt, world, issued, put_again=False)
