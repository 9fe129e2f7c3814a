"""Access to the process's runtime, the request's database session and the signed-in person from views."""
from __future__ import annotations

import time

from flask import current_app, g, has_request_context, request, session

from podium.runtime import Runtime
from podium.services import accounts, users

# The key every part of the site (pages and the REST API alike) reads the signed-in account from.
USER_KEY = "user_id"
# What else a session holds to be judged by (podium.services.accounts.session_is_current): the account's session
# generation at sign-in, the instant of sign-in and that of the session's last request (seconds since the epoch).
EPOCH_KEY, SIGNED_IN_KEY, SEEN_KEY = "session_epoch", "signed_in_at", "seen_at"


def rt() -> Runtime:
    return current_app.extensions["podium"]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session():
    """The request's database session, opened on first use; services take it, views never query it. A GET only
    reads: its session takes no lock (on SQLite, no write lock), so reading pages never waits on an upload."""
    if "db_session" not in g:
        db = rt().db
        reads_only = has_request_context() and request.method in SAFE_METHODS  # work after the answer may write
        g.db_session = db.read_sessions() if reads_only else db.sessions()
    return g.db_session


def end_request_transaction() -> None:
    """End the request's transaction before a use case that works in its own (an upload): on SQLite a POST's
    transaction holds the one write lock, and the two would wait on each other."""
    if "db_session" in g:
        g.db_session.commit()


def scoring_queue():
    """The process's scoring queue (`podium.jobs.ScoringPool`), which uploads are handed to."""
    return current_app.extensions["podium.scoring"]


def current_user():
    """The signed-in account (a `User` from the services), or None."""
    if "current_user" not in g:
        g.current_user = session_user()
    return g.current_user


def session_user():
    """The account the browser session is signed in as, or None: nobody signed in, or the session has ended (the
    account signed out or set a password since, or the session was idle or is too old), and is then cleared. The
    one judge of a session, for pages and the APIs alike; a session that stands is marked seen now."""
    if "session_user" not in g:
        g.session_user = _live_session_user(time.time())
    return g.session_user


def _live_session_user(now: float):
    if session.get(USER_KEY) is None:
        return None
    user = users.user_by_id(db_session(), session.get(USER_KEY))
    if user is None or not accounts.session_is_current(user, session.get(EPOCH_KEY), session.get(SIGNED_IN_KEY),
                                                       session.get(SEEN_KEY), rt().settings, now):
        session.clear()
        return None
    session[SEEN_KEY] = int(now)
    return user


def sign_in_session(user) -> None:
    start_session(session, user)
    g.current_user = g.session_user = user


def start_session(store, user, now: float | None = None) -> None:
    """What signing in writes into a browser's session (`store`, a Flask session): everything before it cleared,
    so that a session planted before sign-in is worthless, then the account with its session generation and the
    instant, kept for the session lifetime."""
    now = int(time.time() if now is None else now)
    store.clear()
    store[USER_KEY] = user.id
    store[EPOCH_KEY] = user.session_epoch
    store[SIGNED_IN_KEY] = store[SEEN_KEY] = now
    store.permanent = True


def sign_out_session() -> None:
    session.clear()
    g.current_user = g.session_user = None
