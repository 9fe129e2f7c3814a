"""The web server itself, against a real `podium run`: gunicorn by default, answers that name no server version,
slow or stalled clients that never take the request threads, and `--debug` as the development server with Flask's
debugger and reloader, its background work in the serving process. (SIGTERM during a request: test_server.py.)"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time

import pytest

from podium.config import DEFAULT_SERVER_THREADS, DEFAULT_SERVER_WORKERS
from podium.jobs import DEADLINE_LEASE
from podium.runtime import make_runtime
from podium.services import leases
from podium.slow_clients import MAX_HEAD_BYTES
from tests.jobs.live import WAIT, Server, pid_of
from tests.jobs.test_server import wait_until

SLOW_CLIENTS = 200
# A sign-in form whose body is announced longer than what is sent: the form is read only once it has all come.
FORM_HEAD = (b"POST /sign-in HTTP/1.1\r\nHost: podium\r\nContent-Type: application/x-www-form-urlencoded\r\n"
             b"Content-Length: 1000\r\n\r\n")


@pytest.fixture
def start(tmp_path, database_url):
    """Start `podium run ARGS` with extra environment variables, on the test's database; killed at the end."""
    servers: list[Server] = []

    def start_server(*args: str, **env: str) -> Server:
        server = Server(tmp_path / "data", tmp_path / f"server-{len(servers)}.log", database_url, args=args,
                        extra_env=env)
        servers.append(server)
        return server.start()

    yield start_server
    for server in servers:
        server.stop()


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes; what the server answers before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def partial_request(port: int, start: bytes = b"GET /healthz HT") -> socket.socket:
    """A connection that has sent the beginning of a request line and nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(start)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def trickle(sock: socket.socket, data: bytes, every: float = 0.2) -> bytes:
    """Send `data` a byte at a time, never pausing as long as a second, until the server answers or closes the
    connection; returns its answer (b"" when it closed without one)."""
    deadline = time.monotonic() + WAIT
    for byte in data:
        if time.monotonic() > deadline:
            break
        sock.settimeout(every)
        try:
            answer = sock.recv(65536)
            return answer
        except TimeoutError:
            pass
        except ConnectionResetError:
            return b""
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return b""
    raise AssertionError("the server let a client trickle for as long as it liked")


def threads_of(pids: set[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)


def scheduler_pid(server: Server) -> int | None:
    """The process holding the deadline scheduler's lease, None when nobody holds it."""
    rt = make_runtime(data_dir=server.data_dir, database_url=server.database_url)
    try:
        with rt.db.session() as session:
            lease = leases.holder_of(session, DEADLINE_LEASE)
            return pid_of(lease.holder) if lease else None
    finally:
        rt.db.dispose()


def test_podium_run_serves_with_gunicorn_and_names_no_server_version(start):
    server = start()
    assert wait_until(lambda: len(server.worker_pids()) == DEFAULT_SERVER_WORKERS), "no gunicorn workers forked"
    for path, status in (("/sign-in", 200), ("/no-such-page", 404)):
        answered, headers, _ = get(server.port, path)
        assert (answered, headers["Server"]) == (status, "podium")
    # gunicorn's own answer to a request it cannot read names no server at all.
    answer = exchange(server.port, b"NOT A REQUEST\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"\r\nserver:" not in answer.lower()
    assert "development server" not in server.log.read_text()


def test_slow_clients_take_no_thread_and_a_normal_client_is_still_answered(start):
    server = start(PODIUM_REQUEST_HEAD_SECONDS="600")  # the slow clients are not dropped during the test
    assert wait_until(lambda: len(server.worker_pids()) == DEFAULT_SERVER_WORKERS)
    processes = {server.process.pid, *server.worker_pids()}
    threads_before = threads_of(processes)
    slow = [partial_request(server.port) for _ in range(SLOW_CLIENTS)]
    try:
        # Accepted after every slow client (the listen queue is first come, first served), and answered while
        # all of them still hold their connections.
        status, _, body = get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert not any(closed_by_server(sock) for sock in slow)
        # At most the request threads the workers were given, however many clients wait.
        assert threads_of(processes) <= threads_before + DEFAULT_SERVER_WORKERS * DEFAULT_SERVER_THREADS < SLOW_CLIENTS
    finally:
        for sock in slow:
            sock.close()


def test_a_client_that_trickles_or_stalls_its_request_is_cut_off(start):
    server = start(PODIUM_REQUEST_HEAD_SECONDS="1", PODIUM_CLIENT_STALL_SECONDS="1")
    # A request head sent a byte at a time is dropped once its time is up, although bytes keep coming.
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        assert trickle(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 1000) == b""
    # A head larger than any browser sends is refused at once.
    answer = exchange(server.port, b"GET /healthz HTTP/1.1\r\nX-Large: " + b"a" * MAX_HEAD_BYTES)
    assert answer.startswith(b"HTTP/1.1 431 ")
    # A body that stops coming is answered 408, rather than waited for.
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(FORM_HEAD + b"email=")
        assert sock.recv(65536).startswith(b"HTTP/1.1 408 ")
    # So is a body that keeps coming, a byte at a time, far slower than any real connection.
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(FORM_HEAD)
        assert trickle(sock, b"email=" + b"a" * 994).startswith(b"HTTP/1.1 408 ")
    assert get(server.port, "/healthz")[0] == 200


def test_debug_serves_with_the_development_server_and_reloads_with_the_background_work(start, tmp_path):
    watched = tmp_path / "watched"  # on the server's import path: the reloader watches its Python files
    watched.mkdir()
    (watched / "reload_probe.py").write_text("VERSION = 1\n")
    import_path = os.pathsep.join(filter(None, [str(watched), os.environ.get("PYTHONPATH")]))
    server = start("--debug", PYTHONPATH=import_path)

    status, headers, _ = get(server.port, "/healthz")
    assert status == 200 and headers["Server"].startswith("Werkzeug/")
    assert "development server" in server.log.read_text()
    status, headers, _ = get(server.port, "/?__debugger__=yes&cmd=resource&f=style.css")  # Werkzeug's debugger
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    # The serving child runs the background work; the reloader's parent runs none.
    (first,) = server.worker_pids()
    assert wait_until(lambda: scheduler_pid(server) == first, every=0.2)

    (watched / "reload_probe.py").write_text("VERSION = 2\n")
    assert wait_until(lambda: server.worker_pids() not in (set(), {first}), every=0.1), "no reload"
    (second,) = server.worker_pids()
    assert wait_until(server.answers, every=0.2)
    assert wait_until(lambda: scheduler_pid(server) == second, every=0.2)

    assert server.kill(signal.SIGTERM) == 0
    assert scheduler_pid(server) is None  # the child gave the lease up as it stopped
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=WAIT).close()
