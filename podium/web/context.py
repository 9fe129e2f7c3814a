"""Access to the process's runtime and the request's database session from views."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from podium.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["podium"]


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = rt().db.sessions()
    return g.db_session
