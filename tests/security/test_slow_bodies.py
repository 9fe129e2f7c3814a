"""No transaction is open while a request body arrives (issue: one slow client held SQLite's write lock for every
other request). Every route that takes a body is sent one through a stream that notes, at each read, how many
database connections the process has in use: there must be none. tests/jobs/test_slow_clients.py shows the effect
on a real server: a trickled upload while other people are served."""
from __future__ import annotations

import base64
import io
import json

import pytest
from sqlalchemy import func, select

from podium.models import Submission
from podium.services import users
from podium.slow_clients import BODY_IN_MEMORY_BYTES, WholeBodiesFirst
from tests.web.helpers import Browser

BODY = b"--x\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nslow\r\n--x--\r\n"
MULTIPART = "multipart/form-data; boundary=x"
VALUES = {"cid": "c1-hw1", "slug": "c1", "n": 1, "user_id": 1, "token": "t", "contentLength": "10",
          "lastModifiedDateUtc": "1700000000", "rest": "x", "ticket": "t", "key_id": 1, "extension_id": 1,
          "entry_id": 1, "filename": "x", "name": "x", "fileName": "x"}


class WatchedBody(io.BytesIO):
    """A request body that records, at each read, the database connections checked out of the pool."""

    def __init__(self, data: bytes, pool):
        super().__init__(data)
        self.pool = pool
        self.in_use_at_reads: list[int] = []

    def read(self, size=-1):
        self.in_use_at_reads.append(self.pool.checkedout())
        return super().read(size)

    def readline(self, size=-1):
        self.in_use_at_reads.append(self.pool.checkedout())
        return super().readline(size)

    def readinto(self, buffer):
        self.in_use_at_reads.append(self.pool.checkedout())
        return super().readinto(buffer)


def routes_with_bodies(app) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            values = {arg: VALUES.get(arg, 1) for arg in rule.arguments}
            found.append((rule.endpoint, method, rule.build(values, append_unknown=False)[1]))
    return found


def api_credentials(rt, email: str | None) -> dict[str, str]:
    if email is None:
        return {"Authorization": "Basic " + base64.b64encode(b"nobody@c1.test:wrong").decode()}
    with rt.db.session() as session:
        key = users.issue_api_key(session, users.get_user(session, email))
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()}


@pytest.mark.parametrize("signed_in_as", ["student@c1.test", "prof@c1.test", None])
def test_no_route_reads_its_body_while_holding_a_database_connection(app, rt, course, signed_in_as):
    routes = routes_with_bodies(app)
    assert len(routes) > 20  # the page forms, the REST API and the Kaggle routes
    credentials = api_credentials(rt, signed_in_as)
    read = []
    for endpoint, method, url in routes:
        client: Browser = app.test_client()
        if signed_in_as:
            client.signed_in_as(signed_in_as)
        body = WatchedBody(BODY, rt.db.engine.pool)
        client.open(url, method=method, input_stream=body, content_type=MULTIPART, content_length=len(BODY),
                    headers=credentials if url.startswith("/api/") else {})
        assert all(n == 0 for n in body.in_use_at_reads), (endpoint, body.in_use_at_reads)
        if body.in_use_at_reads:
            read.append(endpoint)
    # Every route but the Kaggle client's raw upload (its view streams the body after its short transaction, and a
    # made-up ticket is refused before) read the body.
    assert {e for e, _, _ in routes} - set(read) <= {"kaggle.upload"}


def test_a_body_that_cannot_be_spooled_answers_503_and_keeps_nothing(app, rt, course, monkeypatch, tmp_path):
    """Werkzeug spools a large uploaded file to the temporary folder while reading the body; when that folder
    cannot take it (full, gone), the student hears to try again, not a server error."""
    big = b"id,label\n" + b"1,2\n" * 200_000  # beyond Werkzeug's in-memory size: spooled to disk
    body = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="pred.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n" + big + b"\r\n--x--\r\n")
    credentials = api_credentials(rt, "student@c1.test")
    before = submissions_stored(rt)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "no-such-folder"))
    response = app.test_client().post("/api/competitions/c1-hw1/submissions", headers=credentials, data=body,
                                      content_type=MULTIPART)
    assert response.status_code == 503 and "Try again shortly" in response.get_json()["message"]
    assert response.headers["Retry-After"]
    assert submissions_stored(rt) == before


def submissions_stored(rt) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission))


def test_the_servers_body_buffering_answers_503_when_the_temporary_folder_cannot_take_a_body(monkeypatch, tmp_path):
    """gunicorn's worker reads each body whole before Podium sees it (podium/slow_clients.py); when the temporary
    folder refuses the spooled file, the answer is the same 503 as the application's, not a server error."""
    reached = []
    buffered = WholeBodiesFirst(lambda environ, start_response: reached.append(environ) or [], max_bytes=10**9)
    body = b"x" * (BODY_IN_MEMORY_BYTES + 1)  # beyond what is kept in memory: spooled to a file
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "no-such-folder"))
    answered = []
    environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1"}
    payload = b"".join(buffered(environ, lambda status, headers: answered.append((status, dict(headers)))))
    [(status, headers)] = answered
    assert status.startswith("503") and headers["Retry-After"] and not reached
    assert "Try again shortly" in json.loads(payload)["message"]
