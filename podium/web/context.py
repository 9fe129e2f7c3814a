"""Access to the process's runtime, the request's database session and the signed-in person from views."""
from __future__ import annotations

from flask import current_app, g, session

from podium.runtime import Runtime
from podium.services import users

# The key every part of the site (pages and the REST API alike) reads the signed-in account from.
USER_KEY = "user_id"


def rt() -> Runtime:
    return current_app.extensions["podium"]


def db_session():
    """The request's database session, opened on first use; services take it, views never query it."""
    if "db_session" not in g:
        g.db_session = rt().db.sessions()
    return g.db_session


def current_user():
    """The signed-in account (a `User` from the services), or None."""
    if "current_user" not in g:
        g.current_user = users.user_by_id(db_session(), session.get(USER_KEY))
    return g.current_user


def sign_in_session(user) -> None:
    start_session(session, user.id)
    g.current_user = user


def start_session(store, user_id: int) -> None:
    """What signing in writes into a browser's session (`store`, a Flask session): everything before it cleared,
    so that a session planted before sign-in is worthless, then the account, kept for the session lifetime."""
    store.clear()
    store[USER_KEY] = user_id
    store.permanent = True


def sign_out_session() -> None:
    session.clear()
    g.current_user = None
