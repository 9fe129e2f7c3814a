"""Leases: who may do a piece of background work, and until when, recorded in the database.

Several server processes may share one database. A worker that takes a submission or a named job writes its
identity (`host:pid:nonce`) and an expiry; another process may take the work over only once that expiry has
passed, or at once when the holder is a process of this host that no longer exists (a crash or SIGKILL: the
restarted server does not wait for the lease of its dead predecessor to run out).

Expiries are compared with this process's clock: hosts sharing a database keep their clocks in sync (NTP), and
the leases are long compared with any drift.
"""
from __future__ import annotations

import functools
import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.models import JobLease, utcnow


@functools.cache
def _identity(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"


def this_process() -> str:
    """This process's holder name, `host:pid:nonce`; the nonce tells apart two processes given the same pid."""
    return _identity(os.getpid())


def holder_is_dead(holder: str | None) -> bool:
    """True only when `holder` is a process of this host that has ended; unknown hosts are presumed alive."""
    host, pid = _parse(holder)
    if host != socket.gethostname() or pid is None:
        return False
    if holder == this_process():
        return False
    if pid == os.getpid():  # our pid with another nonce: an earlier process whose pid we were given
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _parse(holder: str | None) -> tuple[str | None, int | None]:
    parts = (holder or "").rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None, None
    return parts[0], int(parts[1])


def expiry(seconds: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(seconds=seconds)


# --- named job leases ------------------------------------------------------------------------------------


def acquire(session: Session, name: str, holder: str, seconds: float, *, now: datetime | None = None) -> bool:
    """Take or renew the lease `name` for `seconds`; True when `holder` has it now.

    A conditional update takes over an expired lease, one held by a dead process of this host, or renews our
    own; when no row exists yet, an insert
    races with the other processes' and the primary key lets exactly one of them through.
    """
    now = now or utcnow()
    until = expiry(seconds, now)
    takeable = [JobLease.holder == holder, JobLease.lease_until < now]
    current = session.scalar(select(JobLease.holder).where(JobLease.name == name))
    if current is not None and holder_is_dead(current):
        takeable.append(JobLease.holder == current)
    taken = session.execute(
        update(JobLease).where(JobLease.name == name, or_(*takeable)).values(holder=holder, lease_until=until)
    )
    if taken.rowcount == 1:
        return True
    try:
        with session.begin_nested():
            session.execute(insert(JobLease).values(name=name, holder=holder, lease_until=until))
    except IntegrityError:
        return False
    return True


def release(session: Session, name: str, holder: str) -> bool:
    """Give the lease up (at shutdown) so that another process need not wait for it to expire."""
    result = session.execute(
        update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(lease_until=utcnow())
    )
    return result.rowcount == 1


def holder_of(session: Session, name: str, *, now: datetime | None = None) -> JobLease | None:
    """The live lease `name`, or None when nobody holds it."""
    lease = session.get(JobLease, name)
    if lease is None or lease.lease_until < (now or utcnow()):
        return None
    return lease
