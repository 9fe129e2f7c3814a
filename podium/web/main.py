"""The front page: the courses and their competitions, each with its state; a signed-in person's own courses first.
And /healthz, for load balancers and monitoring."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from podium.domain import utcnow
from podium.services import courses, health, users
from podium.web.context import current_user, db_session, rt
from podium.web.limits import count_request_from_address, limited_per_address

bp = Blueprint("main", __name__)


@bp.get("/")
@limited_per_address("front-page", "the front page")
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
    """200 when this process can take uploads: the database takes a write and the upload folders take a file. 503
    with the reason otherwise, so that a load balancer sends traffic elsewhere and an operator knows what to fix.
    No sign-in and no session: it is called every few seconds."""
    in_hand = len(current_app.extensions["podium.scoring"].pending())
    report = health.check(rt().db, rt().settings)
    body = dict(status="ok" if report.ok else "unavailable", database=report.database, uploads=report.uploads,
                scoring_in_hand=in_hand)
    if not report.ok:
        return jsonify({**body, "reason": report.reason}), 503
    # Counted per address like every route without sign-in, once the database is known to answer: a broken one
    # cannot count, and the counter's connection must not create an empty SQLite file where the real one was.
    count_request_from_address("healthz", "/healthz")
    return jsonify(body)

