"""Charts: a competition's score distribution, submissions per hour around its deadlines, and a student's scores
over time. The same visibility rules as the pages: private scores only for staff or after release (POLICY.md
section 11), submissions per hour for staff only.

The pages draw their charts inline as they render (the template globals below), each with its numbers as a table
under it ("The numbers"), which screen readers and anyone who wants the numbers read instead of the picture. Each
chart is also an SVG file at its own address (`/charts/...`), drawn the same way.

Drawing (podium/web/plots.py) takes well under a millisecond; what can cost is reading what a chart shows. Pictures and figures are kept in `cache` under keys made of what they
show (the numbers, the labels), so one is drawn again exactly when what it shows changed, and never otherwise. The
numbers of submissions per hour are kept under a version instead (how many submissions the competition has, its
newest, and the deadlines: one indexed aggregate), since they would otherwise read every submission's time at each
request. The boards come from the leaderboard service, which keeps the public one up to date itself; the private
one is read at each request, as the private leaderboard page reads it. The cache is per server process: with
drawing this cheap, each worker keeping its own costs nothing worth sharing across processes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, TypeVar

from flask import Blueprint, Response, get_template_attribute, request
from markupsafe import Markup

from podium.domain import utcnow
from podium.errors import Forbidden, NotFound
from podium.services import leaderboards, overview, rule_values, standing, users
from podium.services.submissions import private_hidden, private_visible
from podium.web import plots
from podium.web.access import competition_for_member, is_staff, me, signed_in
from podium.web.context import db_session

bp = Blueprint("charts", __name__, url_prefix="/charts")
CACHE_SIZE = 512
FIGURES = "charts/figure.html"
T = TypeVar("T")


class SvgCache:
    """What charts are drawn from and the pictures drawn, the least recently used forgotten beyond `size`."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


cache = SvgCache()


def _database() -> str:
    """Part of every key: one process may serve several databases (the tests do), whose ids repeat."""
    return str(db_session().get_bind().url)


def drawn(draw: Callable[..., str], numbers, label: str, describedby: str | None = None) -> str:
    return cache.get(("svg", draw.__name__, numbers, label, describedby), lambda: draw(numbers, label, describedby))


# --- the numbers, as this reader may see them --------------------------------------------------------------


def distribution_numbers(comp, board: str) -> plots.Distribution:
    """The best score per student on `board`, binned; the private board only for staff or once released, and as
    students read it (without the scores they may not read yet)."""
    staff = is_staff(comp.course)
    if board not in leaderboards.BOARDS:
        raise NotFound(f"no board {board!r}; use public or private")
    if board == leaderboards.PRIVATE and not leaderboards.private_board_visible(comp, staff=staff):
        raise Forbidden("The private leaderboard is shown once the course staff release it.")
    rows = leaderboards.board_for(db_session(), comp, board, staff=staff)
    return plots.distribution([r.score for r in rows], leaderboards.cutoff_values(comp, staff=staff),
                              metric=comp.metric, board=board)


def activity_numbers(comp) -> plots.Activity:
    """Submissions per hour around the deadlines: for the course staff."""
    if not is_staff(comp.course):
        raise Forbidden("This picture is for the course staff.")
    deadlines = {"early": comp.early, "ontime": comp.ontime, "late": comp.late}
    key = ("activity", _database(), comp.id, overview.submissions_version(db_session(), comp),
           tuple(deadlines.values()))
    return cache.get(key, lambda: plots.activity(overview.submission_times(db_session(), comp), deadlines))


def progress_numbers(comp, student, mine: standing.MySubmissions | None = None) -> plots.Progress:
    """A student's scored submissions over time (practice ones left out), with the deadlines passed; private
    scores only where the reader may see them. A page that read the student's submissions (`mine`) passes them."""
    staff = is_staff(comp.course)
    if student.id != me().id and not staff:
        raise Forbidden("You can see only your own scores.")
    if mine is None:
        subs = standing.submissions_of(db_session(), comp, student)
        schedule = rule_values.schedule_for(db_session(), comp, student)
    else:
        subs, schedule = [row.submission for row in mine.rows], mine.schedule
    show_private = private_visible(comp, staff)
    hidden = frozenset() if staff or not show_private else private_hidden(db_session(), comp, user=student)
    points = [(s.submitted_at, s.public_score, s.private_score if show_private and s.id not in hidden else None)
              for s in subs if s.public_score is not None and not s.practice]
    now = utcnow()
    deadlines = {k: getattr(schedule, k) for k in plots.DEADLINES
                 if getattr(schedule, k) is not None and getattr(schedule, k) <= now}
    return plots.progress(points, leaderboards.cutoff_values(comp, staff=staff), deadlines, metric=comp.metric,
                          tz=comp.course.timezone, private_shown=show_private)


# --- charts in pages -----------------------------------------------------------------------------------------


def _figure(macro: str, draw: Callable[..., str], numbers, *, label: str, table_id: str, caption: str | None,
            comp) -> Markup:
    """The chart and its table, kept under everything they show."""
    def make() -> str:
        svg = Markup(drawn(draw, numbers, label, table_id))
        return str(get_template_attribute(FIGURES, macro)(svg, numbers, table_id, caption, comp))

    key = ("figure", macro, numbers, label, table_id, caption, comp.title, comp.display_precision)
    return Markup(cache.get(key, make))


@bp.app_template_global()
def distribution_chart(comp, board: str, caption: str | None = None) -> Markup:
    numbers = distribution_numbers(comp, board)
    return _figure("distribution", plots.draw_distribution, numbers, comp=comp, caption=caption,
                   label=f"Distribution of the {board} board's best scores per student, with the cutoffs",
                   table_id=f"numbers-distribution-{board}-{comp.public_id}")


@bp.app_template_global()
def activity_chart(comp, caption: str | None = None) -> Markup:
    numbers = activity_numbers(comp)
    return _figure("activity", plots.draw_activity, numbers, comp=comp, caption=caption,
                   label=f"Submissions per hour around the deadlines of {comp.title}",
                   table_id=f"numbers-activity-{comp.public_id}")


@bp.app_template_global()
def progress_chart(comp, student=None, mine: standing.MySubmissions | None = None) -> Markup:
    student = student or me()
    numbers = progress_numbers(comp, student, mine)
    whose = "Your scores" if student.id == me().id else f"Scores of {student.email}"
    return _figure("progress", plots.draw_progress, numbers, comp=comp, caption=None,
                   label=f"{whose} over time in {comp.title}, with the cutoffs and the deadlines passed",
                   table_id=f"numbers-progress-{student.id}-{comp.public_id}")


# --- charts as files -----------------------------------------------------------------------------------------


def svg_response(svg: str) -> Response:
    response = Response(plots.standalone(svg), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=30"
    return response


@bp.get("/<cid>/distribution.svg")
@signed_in
def distribution(cid: str):
    comp = competition_for_member(cid)
    board = request.args.get("board", leaderboards.PUBLIC)
    numbers = distribution_numbers(comp, board)
    return svg_response(drawn(plots.draw_distribution, numbers, f"Distribution of the {board} board's scores"))


@bp.get("/<cid>/activity.svg")
@signed_in
def activity(cid: str):
    comp = competition_for_member(cid)
    numbers = activity_numbers(comp)
    return svg_response(drawn(plots.draw_activity, numbers, "Submissions per hour around the deadlines"))


@bp.get("/<cid>/progress.svg")
@signed_in
def progress(cid: str):
    comp = competition_for_member(cid)
    student = _student(request.args.get("student"), is_staff(comp.course))
    numbers = progress_numbers(comp, student)
    return svg_response(drawn(plots.draw_progress, numbers, "Scores over time"))


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
