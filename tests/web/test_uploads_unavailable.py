"""The submit page when Podium cannot store an upload: the database's write lock held by another connection, or
the uploads folder unable to take a file. The answer is 503 with Retry-After and a message that says to try again
shortly, in the page and in the JSON its script reads; nothing is kept; and the same upload goes through once the
outage is over."""
from __future__ import annotations

import io

import pytest

from podium.models import Submission
from tests.conftest import predictions
from tests.outages import files_under, replaced_by_a_file, write_locked
from tests.web.helpers import page

pytestmark = pytest.mark.usefixtures("short_lock_waits")

SCRIPT = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
ACCEPTED = {False: 302, True: 202}


def upload(browser, course, csrf_token: str, *, script: bool):
    return browser.post(f"/competitions/{course.public_id}/submit",
                        data={"csrf_token": csrf_token, "description": "ensemble of three",
                              "file": (io.BytesIO(predictions().encode()), "preds.csv")},
                        content_type="multipart/form-data", headers=SCRIPT if script else {})


def message_of(response, script: bool) -> str:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    return response.get_json()["message"] if script else page(response).replace("&#39;", "'")


def what_is_kept(rt) -> tuple[int, set]:
    with rt.db.session() as session:
        return session.query(Submission).count(), files_under(rt.settings.uploads_dir)


@pytest.mark.parametrize("script", [False, True], ids=["form", "script"])
def test_an_upload_while_the_database_is_locked_is_a_503_that_keeps_nothing(rt, app, as_student, course, script):
    token = as_student.csrf_token()  # before the lock: the page that carries it reads the database too
    before = what_is_kept(rt)
    with write_locked(rt.settings.database_url):
        refused = upload(as_student, course, token, script=script)
    message = message_of(refused, script)
    assert "Podium's database is busy with another write" in message and "Try again shortly." in message
    assert what_is_kept(rt) == before
    assert app.extensions["podium.scoring"].submitted == []
    assert upload(as_student, course, token, script=script).status_code == ACCEPTED[script]
    assert what_is_kept(rt)[0] == before[0] + 1


@pytest.mark.parametrize("script", [False, True], ids=["form", "script"])
def test_an_upload_the_uploads_folder_cannot_take_is_a_503_that_keeps_nothing(rt, app, as_student, course, script):
    token = as_student.csrf_token()
    before = what_is_kept(rt)
    with replaced_by_a_file(rt.settings.uploads_dir):
        refused = upload(as_student, course, token, script=script)
    message = message_of(refused, script)
    assert "Podium cannot store files at the moment" in message and "Try again shortly." in message
    if not script:  # the form comes back with what the student typed
        assert "ensemble of three" in message
    assert what_is_kept(rt) == before
    assert app.extensions["podium.scoring"].submitted == []
    assert upload(as_student, course, token, script=script).status_code == ACCEPTED[script]
    assert what_is_kept(rt)[0] == before[0] + 1
