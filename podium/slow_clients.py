"""How `podium run` keeps slow clients from tying up its request threads (and what those threads hold).

gunicorn's gthread worker hands a connection to one of its few threads as soon as the first bytes arrive, and the
thread then waits on the socket without a time limit. A client that sends its request line a byte at a time
(slowloris), or stops halfway through a body, holds that thread for as long as it likes, and a few dozen such
clients stop the server answering anybody. Worse, the application reads a form or an upload after its request has
opened a database transaction, and on SQLite every transaction holds the one write lock: one slow upload would hold
up every write of every process. So:

- `PodiumWorker`'s event loop reads each request's line and headers (its head), where a waiting connection costs
  a file descriptor and a few bytes, not a thread; a thread takes the connection only once the head is complete. A
  head that has not arrived `ClientLimits.head_seconds` after the connection opened (or after the previous answer
  on a kept-alive connection) is dropped; one larger than MAX_HEAD_BYTES is answered 431.
- `WholeBodiesFirst` reads a request's body whole, into memory or a temporary file, before the application is
  called, as a reverse proxy that buffers requests does (nginx by default): the application never waits on the
  client with a transaction open.
- Threads read and write through a `PacedSocket`, which gives up on a client that makes no progress for
  `stall_seconds`, or whose body arrives slower than `min_upload_kb_per_second` on average (answered 408).

However many clients connect, a worker runs the threads it was given; connections beyond gunicorn's
`worker_connections` wait in the kernel's listen queue. Answers name the server `podium`, without a version.

A worker told to stop (SIGTERM) takes no new connection, and gives the requests under way DRAIN_SHARE of gunicorn's
graceful timeout before it cuts them off: the rest of that time is for stopping its background work cleanly (what is
being scored is finished, the scheduler's lease given up) before the master kills whatever is still running.
"""
from __future__ import annotations

import json
import logging
import selectors
import socket
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from functools import partial

from gunicorn import util
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.workers.gthread import TConn, ThreadWorker

from podium.config import ClientLimits

log = logging.getLogger(__name__)

SERVER_NAME = "podium"
# The largest head read by the event loop: nginx refuses heads beyond 32 kB by default, and no browser comes close.
MAX_HEAD_BYTES = 64 * 1024
HEAD_READ_BYTES = 8192
# An answer is sent in pieces, each of which must leave within `stall_seconds`: Python's sendall applies a timeout
# to the whole call, which would cut off a large answer to a slow but steady client.
SEND_PIECE_BYTES = 64 * 1024
# A read past the time a body was allowed still takes the bytes already waiting: the delay may have been the
# application's (a busy database), not the client's.
LAST_CHANCE_SECONDS = 0.05
# How long a stopping worker still reads heads under way, as gunicorn gives its kept-alive connections.
STOP_LINGER_SECONDS = 2.0
# The share of gunicorn's graceful timeout that a stopping worker gives the requests under way.
DRAIN_SHARE = 2 / 3
# A body up to this size is kept in memory while it arrives; a larger one goes to a temporary file.
BODY_IN_MEMORY_BYTES = 1024 * 1024
BODY_READ_BYTES = 1024 * 1024
TOO_SLOW = ("The request took too long to arrive: the connection stalled or was too slow. Check the network and "
            "send it again.")
CUT_OFF = "The request ended before all of its body had arrived; send it again."
CANNOT_SPOOL = "Podium cannot store files at the moment, so nothing was kept. Try again shortly."
RETRY_SPOOL_SECONDS = 30


def head_is_complete(head: bytes | bytearray) -> bool:
    """The blank line that ends a request's headers has arrived (CRLF, or a bare LF that the parser judges)."""
    return b"\n\r\n" in head or b"\n\n" in head


class PacedSocket(socket.socket):
    """A client connection whose blocking reads and writes (those of a request thread) cannot wait forever.

    Non-blocking calls (the event loop's) and calls under a timeout gunicorn chose itself (draining a socket before
    closing it) are left as they are."""

    limits: ClientLimits

    @classmethod
    def adopt(cls, sock: socket.socket, limits: ClientLimits) -> PacedSocket:
        paced = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        paced.limits = limits
        paced.start_request()
        return paced

    def start_request(self) -> None:
        """A request begins: its body is timed from the thread's first read."""
        self._body_started: float | None = None
        self._body_received = 0
        self.gave_up = False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self.gettimeout() is not None:
            return super().recv(bufsize, flags)
        if self.gave_up:  # the client counts as gone: gunicorn drains nothing more before it closes
            return b""
        try:
            with self._timeout(self._read_timeout()):
                data = super().recv(bufsize, flags)
        except TimeoutError:
            self.gave_up = True
            raise
        self._body_received += len(data)
        return data

    def _read_timeout(self) -> float:
        now = time.monotonic()
        if self._body_started is None:
            self._body_started = now
        limits = self.limits
        allowed_until = (self._body_started + limits.stall_seconds
                         + self._body_received / limits.min_upload_bytes_per_second)
        return min(limits.stall_seconds, max(allowed_until - now, LAST_CHANCE_SECONDS))

    def sendall(self, data, flags: int = 0) -> None:
        if self.gettimeout() is not None:
            return super().sendall(data, flags)
        view = memoryview(data).cast("B")
        with self._timeout(self.limits.stall_seconds):
            for start in range(0, len(view), SEND_PIECE_BYTES):
                super().sendall(view[start:start + SEND_PIECE_BYTES], flags)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        if self.gettimeout() is not None:
            return super().sendfile(file, offset, count)
        with self._timeout(self.limits.stall_seconds):  # socket.sendfile waits at most this long for each piece
            return super().sendfile(file, offset, count)

    @contextmanager
    def _timeout(self, seconds: float):
        self.settimeout(seconds)
        try:
            yield
        finally:
            self.settimeout(None)


class HeadFirstConn(TConn):
    """A connection that a thread takes only with its request head in hand, read by the event loop."""

    def __init__(self, cfg, sock: PacedSocket, client, server):
        super().__init__(cfg, sock, client, server)
        self.head = bytearray()
        self.data_ready = True  # so that gunicorn's thread never waits for a first byte

    def init(self) -> None:
        super().init()
        if self.head:  # hand the parser what the event loop read
            self.parser.unreader.unread(bytes(self.head))
            self.head.clear()


class PodiumWorker(ThreadWorker):
    """gunicorn's gthread worker with the request heads read by the event loop and paced client sockets."""

    def init_process(self) -> None:
        self.limits: ClientLimits = self.app.client_limits
        self.waiting_heads: deque[HeadFirstConn] = deque()  # in the order of their deadlines
        self.in_threads: set[HeadFirstConn] = set()  # connections whose request a thread is serving
        self.stop_began: float | None = None
        # gunicorn names itself in every answer's Server header; Podium's name tells a scanner no version.
        gunicorn_wsgi.SERVER = SERVER_NAME
        super().init_process()

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it first, or the client gave up
        self.nr_conns += 1
        conn = HeadFirstConn(self.cfg, PacedSocket.adopt(sock, self.limits), client, listener.getsockname())
        self.wait_for_head(conn)

    def on_client_socket_readable(self, conn: HeadFirstConn, client) -> None:
        """The next request on a kept-alive connection begins: the event loop reads its head, as a new one's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.wait_for_head(conn)

    def wait_for_head(self, conn: HeadFirstConn) -> None:
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.limits.head_seconds
        self.waiting_heads.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.read_head, conn))

    def read_head(self, conn: HeadFirstConn, _sock) -> None:
        try:
            data = conn.sock.recv(HEAD_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the client
            data = b""
        if not data:
            self.stop_waiting(conn)
            self.drop(conn)
        elif head_is_complete(conn.head + data):
            conn.head += data
            self.stop_waiting(conn)
            self.enqueue_req(conn)
        elif len(conn.head) + len(data) > MAX_HEAD_BYTES:
            self.stop_waiting(conn)
            self.refuse_large_head(conn)
        else:
            conn.head += data

    def refuse_large_head(self, conn: HeadFirstConn) -> None:
        try:
            util.write_error(conn.sock, 431, "Request Header Fields Too Large",
                             f"The request's headers are larger than {MAX_HEAD_BYTES} bytes.")
            # Closing with unread bytes would reset the connection, and the client could lose the answer: take
            # what has arrived (a bounded amount, without waiting).
            for _ in range(MAX_HEAD_BYTES // HEAD_READ_BYTES):
                if not conn.sock.recv(HEAD_READ_BYTES):
                    break
        except OSError:  # nothing more has arrived, or the client is gone
            pass
        self.drop(conn)

    def stop_waiting(self, conn: HeadFirstConn) -> None:
        self.poller.unregister(conn.sock)
        self.waiting_heads.remove(conn)

    def drop(self, conn: HeadFirstConn) -> None:
        self.nr_conns -= 1
        conn.close()

    def enqueue_req(self, conn: HeadFirstConn) -> None:
        conn.sock.start_request()
        self.in_threads.add(conn)
        super().enqueue_req(conn)

    def finish_request(self, conn: HeadFirstConn, fs) -> None:
        self.in_threads.discard(conn)  # before gunicorn may hand it to a thread again (a pipelined request)
        super().finish_request(conn, fs)

    def murder_pending(self) -> None:
        """Run by the event loop about once a second, and while the worker stops."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:
            self.stop_began = self.stop_began or now
            self.end_lingering_heads(now)
            self.cut_off_overdue_requests(now)
        self.drop_overdue_heads(now)

    def end_lingering_heads(self, now: float) -> None:
        """A stopping worker gives the heads under way a short linger, as gunicorn does its kept-alive
        connections."""
        for conn in self.waiting_heads:  # min() with one bound keeps the deque in deadline order
            conn.timeout = min(conn.timeout, now + STOP_LINGER_SECONDS)

    def drop_overdue_heads(self, now: float) -> None:
        while self.waiting_heads and self.waiting_heads[0].timeout <= now:
            conn = self.waiting_heads[0]
            self.stop_waiting(conn)
            self.drop(conn)

    def cut_off_overdue_requests(self, now: float) -> None:
        """Shut the sockets of requests still under way once the drain time is over: a thread waiting on one wakes
        up at once, and the worker goes on to stop its background work."""
        if now - self.stop_began < DRAIN_SHARE * self.cfg.graceful_timeout:
            return
        for conn in self.in_threads:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed already
                pass


class WholeBodiesFirst:
    """WSGI middleware: call the application only once the request's body has arrived whole.

    A body larger than `max_bytes` by its Content-Length is left unread, for the application to refuse at once;
    one without a Content-Length is read up to one byte past `max_bytes`, enough for the application to refuse it
    too. A body that stalls or trickles (PacedSocket) is answered 408, and the application never sees it."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        length = announced_length(environ)
        if length == 0 or (length is not None and length > self.max_bytes):
            return self.app(environ, start_response)
        try:
            body, missing = self.read_whole(environ["wsgi.input"], length)
        except TimeoutError:
            log.info("gave up on a request from %s: its body arrived too slowly", environ.get("REMOTE_ADDR"))
            return error(start_response, 408, "Request Timeout", TOO_SLOW)
        except OSError as exc:  # the temporary folder cannot take the body (full, gone): Podium's side, not the client's
            log.error("could not spool a request body to a temporary file: %s", exc)
            return error(start_response, 503, "Service Unavailable", CANNOT_SPOOL, retry_after=RETRY_SPOOL_SECONDS)
        if length is not None and missing:  # the client closed the connection (or a stopping worker cut it off)
            return error(start_response, 400, "Bad Request", CUT_OFF)
        environ["wsgi.input"] = body
        return self.app(environ, start_response)

    def read_whole(self, stream, length: int | None) -> tuple[tempfile.SpooledTemporaryFile, int]:
        """The body, and how many of the bytes asked for did not come."""
        body = tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY_BYTES)
        left = self.max_bytes + 1 if length is None else length
        while left > 0 and (chunk := stream.read(min(BODY_READ_BYTES, left))):
            body.write(chunk)
            left -= len(chunk)
        body.seek(0)
        return body, left


def announced_length(environ) -> int | None:
    """The body's length from Content-Length; None when the client did not say (chunked), 0 when it has none."""
    raw = environ.get("CONTENT_LENGTH")
    if raw:
        return int(raw)  # gunicorn has refused a Content-Length that is not a number
    return None if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() else 0


def error(start_response, code: int, reason: str, message: str, *, retry_after: int | None = None):
    """An error answered before Podium handles the request, as JSON like the API's."""
    body = json.dumps({"code": code, "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    start_response(f"{code} {reason}", headers)
    return [body]
