"""The front page: the courses and their competitions, each with its state; a signed-in person's own courses first."""
from __future__ import annotations

from flask import Blueprint, render_template

from podium.models import utcnow
from podium.services import courses, users
from podium.web.context import current_user, db_session

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
