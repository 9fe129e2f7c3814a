"""Against a real `podium run`: a student who sends an upload slowly holds nobody else back. Before, the view read
the body with its transaction open, and on SQLite every other request waited on that transaction's write lock
until it failed (tests/security/test_slow_bodies.py checks every route in process)."""
from __future__ import annotations

import base64
import http.client
import socket
import time

from tests.jobs.live import multipart, upload
from tests.jobs.test_server import COMPETITION, guesses, site  # noqa: F401 - the fixture

# A bound for each other request, well under SQLite's 30 s busy timeout that they used to wait out: a limit on
# waiting, not a measure of speed.
PATIENCE = 20


def basic(email: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()


def start_slow_request(port: int, path: str, authorization: str, body: bytes, content_type: str) -> socket.socket:
    """A request whose headers and first half of the body are sent; the rest waits for `finish`."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE * 3)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    conn.sendall(head.encode() + body[:len(body) // 2])
    return conn


def finish(conn: socket.socket, body: bytes) -> str:
    conn.sendall(body[len(body) // 2:])
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    conn.close()
    return answer.decode(errors="replace")


def get(port: int, path: str, authorization: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
    try:
        conn.request("GET", path, headers={"Authorization": authorization} if authorization else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_half_sent_upload_and_a_half_sent_kaggle_form_hold_no_one_back(site):  # noqa: F811
    server, keys, labels = site
    server.start()
    slow, other = "s0@x.edu", "s1@x.edu"
    content = guesses(labels, 0.5, seed=3)
    body, content_type = multipart({"description": "slow link"}, "slow.csv", content)
    upload_stalled = start_slow_request(server.port, f"/api/competitions/{COMPETITION}/submissions",
                                        basic(slow, keys[slow]), body, content_type)
    form = b"fileName=slow.csv"
    ticket_stalled = start_slow_request(server.port, f"/api/v1/competitions/{COMPETITION}/submissions/url/10/1",
                                        basic(slow, keys[slow]), form, "application/x-www-form-urlencoded")
    time.sleep(1)  # for the server to take both requests up and wait on their bodies
    # While both wait for the rest of their bodies, everyone else is served: pages, the API, another upload.
    assert get(server.port, "/") == 200
    assert get(server.port, "/api/competitions", basic(other, keys[other])) == 200
    status, answer = upload(server.port, COMPETITION, other, keys[other], guesses(labels, 0.7, seed=4),
                            timeout=PATIENCE)
    assert status == 202, answer
    # And the slow ones are taken when they arrive.
    assert finish(upload_stalled, body).startswith("HTTP/1.1 202")
    assert finish(ticket_stalled, form).startswith("HTTP/1.1 200")
