"""Charts as SVG images: a competition's score distribution, submissions per hour around its deadlines, and a
student's scores over time. The same visibility rules as the pages: private scores only for staff or after release.

Drawing takes tens of milliseconds, so each picture is kept until the competition's submissions change.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from flask import Blueprint, Response, request

from podium.domain import utcnow
from podium.errors import Forbidden, NotFound
from podium.services import leaderboards, overview, rule_values, standing, users
from podium.services.submissions import private_hidden, private_visible
from podium.web.access import competition_for_member, is_staff, me, signed_in
from podium.web.context import db_session

bp = Blueprint("charts", __name__, url_prefix="/charts")
CACHE_SIZE = 256


def drawing():
    """podium.web.plots, imported by the first picture a process draws rather than when the app is built: its
    matplotlib is a third of the start-up of each `podium run` worker (0.7 s of CPU), and most requests draw nothing."""
    from podium.web import plots

    return plots


class SvgCache:
    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, draw: Callable[[], str]) -> str:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        svg = draw()
        with self._lock:
            self._items[key] = svg
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return svg


cache = SvgCache()


def svg_response(svg: str) -> Response:
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=30"
    return response


@bp.get("/<cid>/distribution.svg")
@signed_in
def distribution(cid: str):
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    board = request.args.get("board", leaderboards.PUBLIC)
    if board not in leaderboards.BOARDS:
        raise NotFound(f"no board {board!r}; use public or private")
    if board == leaderboards.PRIVATE and not leaderboards.private_board_visible(comp, staff=staff):
        raise Forbidden("The private leaderboard is shown once the course staff release it.")
    cutoffs = leaderboards.cutoff_values(comp, staff=staff)
    # Scores students may not read yet leave the private board when their authors' windows close, with nothing
    # else changing: what is hidden is part of the key.
    hidden = tuple(sorted(private_hidden(db_session(), comp))) if board == leaderboards.PRIVATE and not staff else ()
    key = ("distribution", comp.id, board, staff, hidden, tuple(cutoffs.items()),
           overview.fingerprint(db_session(), comp))

    def draw() -> str:
        rows = leaderboards.board_for(db_session(), comp, board, staff=staff)
        return drawing().score_distribution([r.score for r in rows], cutoffs, metric=comp.metric, board=board)

    return svg_response(cache.get(key, draw))


@bp.get("/<cid>/activity.svg")
@signed_in
def activity(cid: str):
    comp = competition_for_member(cid)
    if not is_staff(comp.course):
        raise Forbidden("This picture is for the course staff.")
    key = ("activity", comp.id, overview.fingerprint(db_session(), comp))
    svg = cache.get(key, lambda: drawing().submissions_around_deadlines(
        overview.submission_times(db_session(), comp), {"early": comp.early, "ontime": comp.ontime, "late": comp.late}))
    return svg_response(svg)


@bp.get("/<cid>/progress.svg")
@signed_in
def progress(cid: str):
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    student = _student(request.args.get("student"), staff)
    subs = standing.submissions_of(db_session(), comp, student)
    show_private = private_visible(comp, staff)
    hidden = frozenset() if staff else private_hidden(db_session(), comp, user=student)
    points = [(s.submitted_at, s.public_score, s.private_score if show_private and s.id not in hidden else None)
              for s in reversed(subs) if s.public_score is not None and not s.practice]
    now = utcnow()
    schedule = rule_values.schedule_for(db_session(), comp, student)
    deadlines = {k: getattr(schedule, k) for k in ("early", "ontime", "late")
                 if getattr(schedule, k) is not None and getattr(schedule, k) <= now}
    cutoffs = leaderboards.cutoff_values(comp, staff=staff)
    key = ("progress", comp.id, student.id, show_private, tuple(points), tuple(cutoffs.items()),
           tuple(deadlines.items()))
    svg = cache.get(key, lambda: drawing().score_over_time(points, cutoffs, deadlines, metric=comp.metric,
                                                       tz=comp.course.timezone))
    return svg_response(svg)


def _student(requested: str | None, staff: bool):
    """The viewer, or for staff the student asked for (a `User`)."""
    if not requested:
        return me()
    if not staff:
        raise Forbidden("You can see only your own scores.")
    try:
        number = int(requested)
    except ValueError:
        number = 0
    user = users.user_by_id(db_session(), number)
    if user is None:
        raise NotFound(f"no student {requested}")
    return user


