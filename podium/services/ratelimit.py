"""Rate limits counted in the database, so that they hold across every server process and machine of a deployment.

A counter is one row per (scope, subject): the start of its current fixed window and the hits counted in it. A hit
is taken with one conditional UPDATE that either opens a new window (the old one has ended) or adds one while under
the limit, so two processes never lose a hit and never both take the last one; nothing is read first and written
back. Only a subject's first hit (or the first after its row was pruned) inserts a row.

Every statement runs in a transaction of its own, committed at once, for two reasons: the count must be visible to
the other processes before the slow part of the request (a password check) runs, and a transaction that holds a
counter's row lock must not wait for anything else (PostgreSQL would otherwise be able to deadlock a sign-in against
the pruning of expired rows). The caller's session is used, and so must have nothing uncommitted in it.

Times come from this process's clock (milliseconds since the epoch): servers of one deployment keep their clocks in
step with NTP, and a skew of a second only moves a window's end by a second.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.config import Limit, RateLimits
from podium.errors import PodiumError
from podium.models import RateCounter

counters = RateCounter.__table__

# Scopes: what is counted. Each has its own rows, so limits of different kinds never share a count.
SIGN_IN_ACCOUNT = "sign-in:account"
SIGN_IN_ADDRESS = "sign-in:address"
RESET_MAIL = "reset-mail:account"
API_KEY = "api:key"
API_ADDRESS = "api:address"


class RateLimited(PodiumError):
    """Too many requests; `retry_after` is whole seconds until the window ends (the Retry-After header)."""

    code = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def subject_key(subject: str) -> str:
    """What the table stores for a subject: a hash, so no email or address is kept in it."""
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
    (tests pass their own)."""

    limits: RateLimits
    clock: Callable[[], float] = time.time

    @property
    def prune_after_ms(self) -> int:
        """Rows whose window started this long ago are deleted when a new row is inserted: an ended window counts
        as nothing, and the longest window in use has certainly ended by then."""
        longest = max(limit.seconds for limit in (self.limits.sign_in_account, self.limits.sign_in_address,
                                                  self.limits.api))
        return max(PRUNE_AFTER_SECONDS, 2 * longest) * 1000

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def take(self, session: Session, scope: str, subject: str, limit: Limit) -> int:
        """Count one hit for `subject` if its window has room: 0 when counted, else the whole seconds until its
        window ends (and nothing is counted). Commits."""
        if limit.off:
            return 0
        key, now = subject_key(subject), self.now_ms()
        ended = now - limit.seconds * 1000  # a window that started at or before this has ended
        new_window = counters.c.window_start <= ended
        counted = session.execute(
            update(counters)
            .where(counters.c.scope == scope, counters.c.subject == key,
                   new_window | (counters.c.hits < limit.hits))
            .values(hits=case((new_window, 1), else_=counters.c.hits + 1),
                    window_start=case((new_window, now), else_=counters.c.window_start))
        ).rowcount == 1
        if counted:
            session.commit()
            return 0
        start = session.scalar(select(counters.c.window_start)
                               .where(counters.c.scope == scope, counters.c.subject == key))
        if start is None:
            return self._first_hit(session, scope, subject, limit)
        session.commit()
        return max(1, math.ceil((start + limit.seconds * 1000 - now) / 1000))

    def _first_hit(self, session: Session, scope: str, subject: str, limit: Limit) -> int:
        try:
            with session.begin_nested():
                session.execute(insert(counters).values(scope=scope, subject=subject_key(subject),
                                                        window_start=self.now_ms(), hits=1))
        except IntegrityError:
            # Another process inserted the row between our update and insert: count on it like any other hit.
            session.commit()
            return self.take(session, scope, subject, limit)
        session.commit()
        self.prune(session)
        return 0

    def waiting(self, session: Session, scope: str, subject: str, limit: Limit) -> int:
        """Seconds until `subject` may be counted again (0: now), counting nothing."""
        if limit.off:
            return 0
        row = session.execute(select(counters.c.window_start, counters.c.hits)
                              .where(counters.c.scope == scope, counters.c.subject == subject_key(subject))).first()
        session.commit()
        now = self.now_ms()
        if row is None or row.window_start <= now - limit.seconds * 1000 or row.hits < limit.hits:
            return 0
        return max(1, math.ceil((row.window_start + limit.seconds * 1000 - now) / 1000))

    def give_back(self, session: Session, scope: str, subject: str) -> None:
        """Un-count one hit taken in the current window (a sign-in that turned out right). Commits."""
        session.execute(update(counters)
                        .where(counters.c.scope == scope, counters.c.subject == subject_key(subject),
                               counters.c.hits > 0)
                        .values(hits=counters.c.hits - 1))
        session.commit()

    def clear(self, session: Session, scope: str, subject: str) -> None:
        session.execute(delete(counters).where(counters.c.scope == scope, counters.c.subject == subject_key(subject)))
        session.commit()

    def prune(self, session: Session) -> int:
        """Delete counters whose window ended long ago (indexed on window_start); returns how many."""
        gone = session.execute(delete(counters).where(counters.c.window_start < self.now_ms() - self.prune_after_ms))
        session.commit()
        return gone.rowcount
