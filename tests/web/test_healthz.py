"""/healthz: 200 when the database takes a write and the upload folders take a file, 503 with the reason when
either does not; no sign-in, no session cookie. The broken databases are real: a PostgreSQL socket that does not
exist, a SQLite file in a folder that does not, a SQLite file removed under an app that had been answering from
it, and a database whose write lock another connection holds; the broken folders are files where folders should be."""
from __future__ import annotations

import shutil

import pytest

from podium.models import Submission
from podium.services.upload_tickets import staging_dir
from podium.web import create_app
from tests.outages import files_under, replaced_by_a_file, write_locked

pytestmark = pytest.mark.usefixtures("short_lock_waits")


def test_healthz_answers_ok_without_sign_in_after_asking_the_database(rt):
    client = create_app(runtime=rt).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "uploads": "ok", "scoring_in_hand": 0}
    assert "Set-Cookie" not in response.headers


def test_the_probes_leave_nothing_behind(rt):
    client = create_app(runtime=rt).test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert files_under(rt.settings.data_dir / "uploads") == files_under(staging_dir(rt.settings)) == set()
    with rt.db.session() as session:
        assert session.query(Submission).count() == 0


def test_healthz_is_503_while_another_connection_holds_the_write_lock(rt):
    client = create_app(runtime=rt).test_client()
    with write_locked(rt.settings.database_url):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["database"], body["uploads"]) == ("unavailable", "locked", "ok")
    # The probe waits less than a request would (1 s here, and at most 2 s whatever the lock timeout).
    assert body["reason"].startswith("the database could not take a write within 1 s (")
    assert body["reason"].endswith("another connection holds a write lock; end the command or transaction that "
                                   "holds it")
    assert client.get("/healthz").status_code == 200  # the lock given back, and the probe's own too


@pytest.mark.parametrize("folder", ["uploads", "staging"])
def test_healthz_is_503_when_an_upload_folder_cannot_take_a_file(rt, folder):
    client = create_app(runtime=rt).test_client()
    path = rt.settings.data_dir / folder
    with replaced_by_a_file(path):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["database"], body["uploads"]) == ("unavailable", "ok", "not writable")
    assert body["reason"] == (f"uploads cannot be stored: {path} is not writable: {path} is a file, not a folder; "
                              "make it a folder that the user running Podium can write to, on a disk with free "
                              "space")
    assert client.get("/healthz").status_code == 200


def test_healthz_is_503_with_the_reason_when_the_postgresql_socket_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    url = f"postgresql+psycopg://podium@/podium?host={tmp_path / 'no-server-here'}"
    response = create_app(database_url=url).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["database"] == "unreachable"
    assert body["reason"].startswith("the database did not answer: ")
    assert str(tmp_path / "no-server-here") in body["reason"]


def test_healthz_is_503_when_the_sqlite_folder_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    gone = tmp_path / "removed" / "podium.db"
    response = create_app(database_url=f"sqlite:///{gone}").test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == f"the SQLite database file {gone} is gone"


def test_healthz_turns_503_when_the_sqlite_file_is_removed_under_a_running_app(tmp_path, monkeypatch):
    """The pooled connection would still answer `SELECT 1` from the deleted file; health must not say ok."""
    data = tmp_path / "data"
    monkeypatch.setenv("PODIUM_DATA_DIR", str(data))
    database = tmp_path / "db" / "podium.db"
    database.parent.mkdir()
    app = create_app(database_url=f"sqlite:///{database}")
    app.extensions["podium"].db.upgrade()
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    shutil.rmtree(database.parent)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == f"the SQLite database file {database} is gone"
    app.extensions["podium"].db.dispose()
