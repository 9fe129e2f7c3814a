"""The front page: the courses and their competitions, each with its state."""
from __future__ import annotations

from flask import Blueprint, render_template

from podium.models import utcnow
from podium.services import courses
from podium.web.context import db_session

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    now = utcnow()
    listing = courses.overview(db_session(), now)
    return render_template("index.html", listing=listing, now=now)
