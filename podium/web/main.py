"""The front page: the courses and their competitions, each with its state; a signed-in person's own courses first.
And /healthz, for load balancers and monitoring."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy.exc import SQLAlchemyError

from podium.models import utcnow
from podium.services import courses, users
from podium.web.context import current_user, db_session, rt

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    now = utcnow()
    listing = courses.overview(db_session(), now)
    user = current_user()
    roles = {course.id: users.role_in(user, course) for course, _ in listing} if user else {}
    mine = [(course, rows) for course, rows in listing if roles.get(course.id)]
    others = [(course, rows) for course, rows in listing if not roles.get(course.id)]
    return render_template("index.html", mine=mine, others=others, roles=roles, now=now, listing=listing)


@bp.get("/healthz")
def healthz():
    """200 when this process can serve: the database answers a trivial query. 503 with the reason otherwise, so
    that a load balancer sends traffic elsewhere. No sign-in and no session: it is called every few seconds."""
    in_hand = len(current_app.extensions["podium.scoring"].pending())
    problem = database_problem()
    if problem is not None:
        return jsonify(status="unavailable", database="unreachable", reason=problem, scoring_in_hand=in_hand), 503
    return jsonify(status="ok", database="ok", scoring_in_hand=in_hand)


def database_problem() -> str | None:
    """None when the database answers `SELECT 1`, else the driver's own first line of what went wrong."""
    missing = missing_sqlite_file(rt().db.engine.url)
    if missing is not None:
        return f"the SQLite database file {missing} is gone"
    try:
        # Autocommit: the probe takes no lock, so on SQLite it never waits behind (or blocks) a writer.
        with rt().db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines() or [type(cause).__name__]
        return f"the database did not answer: {lines[0]}"
    return None


def missing_sqlite_file(url) -> str | None:
    """The SQLite file's path when it has been removed or unmounted under the running server. Its open connections
    would go on answering from the deleted file, and every write would be lost with it, so `SELECT 1` is not
    enough to tell."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return None if Path(url.database).exists() else url.database
