"""/healthz: 200 when the database answers, 503 with the reason when it does not; no sign-in, no session cookie.
The broken databases are real: a PostgreSQL socket that does not exist, a SQLite file in a folder that does not, and
a SQLite file removed under an app that had been answering from it."""
from __future__ import annotations

import shutil

from podium.web import create_app


def test_healthz_answers_ok_without_sign_in_after_asking_the_database(rt):
    client = create_app(runtime=rt).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "scoring_in_hand": 0}
    assert "Set-Cookie" not in response.headers


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
