"""Rate limits counted in the database, so that they hold across every server process and machine of a deployment.

A counter is one row per (scope, subject): the start of its current fixed window and the hits counted in it. A hit
is taken with one conditional UPDATE that either opens a new window (the old one has ended) or adds one while under
the limit, so two processes never lose a hit and never both take the last one; nothing is read first and written
back. Only a subject's first hit (or the first after its row was pruned) inserts a row.

Every statement runs in a short transaction of its own, on its own connection, committed at once: the count must be
visible to the other processes before the slow part of the request (a password check) runs, and a transaction that
holds a counter's row lock must not wait for anything else (PostgreSQL could otherwise deadlock a sign-in against
the pruning of expired rows). Its commit does not wait for the disk (see `Limiter._transaction`), so a request pays
for one small indexed write and no flush.

Times come from this process's clock (milliseconds since the epoch): servers of one deployment keep their clocks in
step with NTP, and a skew of a second only moves a window's end by a second.
"""
from __future__ import annotations

import hashlib
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.config import Limit, RateLimits
from podium.db import Database
from podium.errors import PodiumError
from podium.models import RateCounter

counters = RateCounter.__table__

# Scopes: what is counted. Each has its own rows, so limits of different kinds never share a count.
SIGN_IN = "sign-in:account+address"
SIGN_IN_ACCOUNT = "sign-in:account"
SIGN_IN_ADDRESS = "sign-in:address"
RESET_MAIL = "reset-mail:account"
API_KEY = "api:key"
API_ADDRESS = "api:address"
# Each route that needs no sign-in is counted per client address in a scope of its own ("public:<route>"), so that
# a load balancer polling /healthz never spends the sign-in page's allowance of a campus behind one address.
PUBLIC = "public:"
# How long counting a request to a route without sign-in waits for the write lock before the request is served
# uncounted (podium.web.limits): the health check's own bound on a write.
PUBLIC_COUNT_PATIENCE_MS = 2000


class RateLimited(PodiumError):
    """Too many requests; `retry_after` is whole seconds until the window ends (the Retry-After header)."""

    code = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def subject_key(subject: str) -> str:
    """What the table stores for a subject: a hash, so no email or address is kept in clear (the key and the
    table's size stay fixed whatever a client sends as its email)."""
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


PRUNE_AFTER_SECONDS = 24 * 3600


@dataclass
class Limiter:
    """Takes, gives back and clears hits under the deployment's limits; `clock` gives seconds since the epoch
    (tests pass their own).

    Each call works on a connection of its own, in one short transaction. The calling thread must not hold a write
    transaction at the time: SQLite has a single writer, and the counter's transaction would wait for it."""

    db: Database
    limits: RateLimits
    clock: Callable[[], float] = time.time

    @property
    def prune_after_ms(self) -> int:
        """Rows whose window started this long ago are deleted when a new row is inserted: an ended window counts
        as nothing, and the longest window in use has certainly ended by then."""
        longest = max(limit.seconds for limit in self.limits.all)
        return max(PRUNE_AFTER_SECONDS, 2 * longest) * 1000

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    @contextmanager
    def _transaction(self, patience_ms: int | None = None) -> Iterator[Connection]:
        """One short transaction whose commit does not wait for the disk.

        A counter lost in a power cut costs nothing (a few requests more), so its commit skips the flush that
        uploads need: on SQLite (WAL) synchronous=NORMAL for this commit only, which still keeps the database
        consistent and every earlier flushed commit; on PostgreSQL an asynchronous commit for this transaction.
        With `patience_ms`, the transaction waits at most that long for the write lock (SQLite's busy timeout, or
        PostgreSQL's lock timeout) instead of the database's own timeout, and fails after it."""
        with self.db.engine.connect() as connection:
            dialect = connection.dialect.name
            raw = connection.connection.dbapi_connection if dialect == "sqlite" else None
            before = raw.execute("PRAGMA synchronous").fetchone()[0] if raw is not None else None
            busy_before = raw.execute("PRAGMA busy_timeout").fetchone()[0] if raw is not None else None
            if raw is not None:
                # outside any transaction: the driver sends it as is; never more durable than the database's own
                raw.execute(f"PRAGMA synchronous={min(int(before), 1)}")
                if patience_ms is not None:
                    raw.execute(f"PRAGMA busy_timeout={min(int(busy_before), int(patience_ms))}")
            try:
                with connection.begin():
                    if dialect == "postgresql":
                        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                        if patience_ms is not None:
                            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(patience_ms)}")
                    yield connection
            finally:
                if raw is not None:
                    raw.execute(f"PRAGMA synchronous={int(before)}")
                    raw.execute(f"PRAGMA busy_timeout={int(busy_before)}")

    def take(self, scope: str, subject: str, limit: Limit, *, patience_ms: int | None = None) -> int:
        """Count one hit for `subject` if its window has room: 0 when counted, else the whole seconds until its
        window ends (and nothing is counted). With `patience_ms`, waiting longer than that for the write lock
        fails (the caller decides what an uncounted request gets)."""
        if limit.off:
            return 0
        key, now = subject_key(subject), self.now_ms()
        ended = now - limit.seconds * 1000  # a window that started at or before this has ended
        new_window = counters.c.window_start <= ended
        with self._transaction(patience_ms) as connection:
            counted = connection.execute(
                update(counters)
                .where(counters.c.scope == scope, counters.c.subject == key,
                       new_window | (counters.c.hits < limit.hits))
                .values(hits=case((new_window, 1), else_=counters.c.hits + 1),
                        window_start=case((new_window, now), else_=counters.c.window_start))
            ).rowcount == 1
            if counted:
                return 0
            row = connection.execute(select(counters.c.window_start, counters.c.hits)
                                     .where(counters.c.scope == scope, counters.c.subject == key)).first()
            if row is not None and row.window_start > ended and row.hits >= limit.hits:
                return max(1, math.ceil((row.window_start + limit.seconds * 1000 - now) / 1000))
        if row is not None:
            # On PostgreSQL each statement sees the latest commits: another process's first hit made the row after
            # our update looked. It has room, so count on it like any other hit.
            return self.take(scope, subject, limit, patience_ms=patience_ms)
        return self._first_hit(scope, subject, limit, patience_ms)

    def count_public_request(self, route: str, what: str, address: str) -> None:
        """Count one request from a client address to a route that needs no sign-in (`route`: a short key, `what`:
        how a person names it); `RateLimited` when the address has spent its allowance (PODIUM_PUBLIC_LIMIT)."""
        limit = self.limits.public
        # Counting must not hold a page up: past a short wait for the write lock (SQLite's, in a rush of uploads),
        # the counter fails and the caller serves the request uncounted.
        wait = self.take(PUBLIC + route, address, limit, patience_ms=PUBLIC_COUNT_PATIENCE_MS)
        if wait:
            raise RateLimited(f"Too many requests to {what} from your address: at most {limit.describe()}. Try again "
                              f"in {wait_words(wait)}.", retry_after=wait)

    def _first_hit(self, scope: str, subject: str, limit: Limit, patience_ms: int | None = None) -> int:
        try:
            with self._transaction(patience_ms) as connection:
                connection.execute(insert(counters).values(scope=scope, subject=subject_key(subject),
                                                           window_start=self.now_ms(), hits=1))
        except IntegrityError:
            # Another process inserted the row between our update and insert: count on it like any other hit.
            return self.take(scope, subject, limit, patience_ms=patience_ms)
        self.prune()
        return 0

    def waiting(self, scope: str, subject: str, limit: Limit) -> int:
        """Seconds until `subject` may be counted again (0: now), counting nothing."""
        if limit.off:
            return 0
        with self._transaction() as connection:
            row = connection.execute(select(counters.c.window_start, counters.c.hits)
                                     .where(counters.c.scope == scope,
                                            counters.c.subject == subject_key(subject))).first()
        now = self.now_ms()
        if row is None or row.window_start <= now - limit.seconds * 1000 or row.hits < limit.hits:
            return 0
        return max(1, math.ceil((row.window_start + limit.seconds * 1000 - now) / 1000))

    def give_back(self, scope: str, subject: str) -> None:
        """Un-count one hit taken in the current window (a sign-in that turned out right)."""
        with self._transaction() as connection:
            connection.execute(update(counters)
                               .where(counters.c.scope == scope, counters.c.subject == subject_key(subject),
                                      counters.c.hits > 0)
                               .values(hits=counters.c.hits - 1))

    def clear(self, scope: str, subject: str) -> None:
        with self._transaction() as connection:
            connection.execute(delete(counters).where(counters.c.scope == scope,
                                                      counters.c.subject == subject_key(subject)))

    def prune(self) -> int:
        """Delete counters whose window ended long ago (indexed on window_start); returns how many."""
        with self._transaction() as connection:
            return connection.execute(delete(counters).where(
                counters.c.window_start < self.now_ms() - self.prune_after_ms)).rowcount
