"""Leaderboards: public during the competition, private once released (staff see both at any time).

The boards come from `services.leaderboards`, the same rows the REST and Kaggle APIs give. This page adds what
a reader looks for: the cutoffs drawn as marked rows where they fall (as Kaggle draws benchmark rows), the
reader's own row, and after release how far each rank moved from the public board.

A public board of a thousand students is read by most of them during a deadline rush, and it changes only when
the service gives it a new version. Its lines are therefore drawn once per version (and per kind of reader:
students, or staff who also see emails) and kept; each request only marks the reader's own line and pastes the
rest in. The private board is not kept by the service, so its lines are drawn at each request, the same way.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple, Sequence

from flask import Blueprint, current_app, get_template_attribute, render_template, request, url_for
from markupsafe import Markup

from podium import rules
from podium.services import leaderboards
from podium.services.leaderboards import BoardRow
from podium.web.access import competition_for_member, is_staff, me, signed_in
from podium.web.context import db_session
from podium.web.formatting import iso_utc, local_time

bp = Blueprint("leaderboards", __name__)
LETTERS = ("A", "B", "C", "D", "F")
LINES_TEMPLATE = "leaderboards/lines.html"


@dataclass(frozen=True)
class CutoffMark:
    letter: str
    label: str
    after: int  # the number of board rows above the mark: rows at or beyond the cutoff


def rows_at_or_beyond(rows: Sequence[BoardRow], value: float, higher_is_better: bool) -> int:
    """How many rows score at or beyond `value`. The rows are in rank order, best first, so these rows are a
    prefix of the board and a binary search finds where it ends."""
    return bisect_left(rows, True, key=lambda r: not rules.at_or_beyond(r.score, value, higher_is_better))


def cutoff_marks(comp, rows: Sequence[BoardRow], *, staff: bool) -> list[CutoffMark]:
    """Where each cutoff falls on this board: after the rows whose score is at or beyond it; a position whose
    value this reader may not know yet ("top 10%") falls after that share of the rows."""
    values = leaderboards.cutoff_values(comp, staff=staff)
    marks = []
    for letter in LETTERS:
        spec = comp.cutoffs.get(letter)
        if spec is None:
            continue
        if letter in values:
            value = values[letter]
            after = rows_at_or_beyond(rows, value, comp.higher_is_better)
            label = f"{letter} cutoff · {leaderboards.shown(comp, value)}"
        else:
            after = rules.rank_at_position(rules.parse_position(spec), len(rows)) if rows else 0
            label = f"{letter} cutoff · {spec}"
        marks.append(CutoffMark(letter, label, after))
    return marks


def rank_moves(public: Sequence[BoardRow], private: Sequence[BoardRow]) -> dict[int, int]:
    """Places each student gained from the public to the private board (positive: moved up)."""
    public_rank = {r.user_id: r.rank for r in public}
    return {r.user_id: public_rank[r.user_id] - r.rank for r in private if r.user_id in public_rank}


# --- drawing the lines ---------------------------------------------------------------------------------------


class RowView(NamedTuple):
    """A student's row with every value formatted, so the line macro calls no filter."""

    row: BoardRow
    private: bool  # on the private board, which has a column for the places moved
    moved: int | None  # places gained since the public board (negative: lost); None when not on it
    when_utc: str
    when_local: str
    staff_url: str | None  # the student's page, in staff views only


@dataclass(frozen=True)
class DrawnBoard:
    """A board's lines as HTML with nobody's row marked as the reader's, and what is needed to mark one."""

    key: tuple | None  # what the lines were drawn from; None: not kept
    lines: tuple[str, ...]  # HTML, escaped already
    line_of: dict[int, int]  # user id -> the index of the student's line
    views: dict[int, RowView]

    def html(self, reader_id: int) -> Markup:
        """All lines, the reader's own marked (drawn again from its values: one line, not a thousand)."""
        index = self.line_of.get(reader_id)
        if index is None:
            return Markup("".join(self.lines))
        own = student_line(self.views[reader_id], mine=True)
        # Plain strings until the end: adding a str to Markup would escape the str.
        return Markup("".join((*self.lines[:index], own, *self.lines[index + 1:])))


@lru_cache(maxsize=8192)
def when_texts(at: datetime, tz: str) -> tuple[str, str]:
    """An instant as the board shows it, UTC for the markup and the course's local time for the reader. Kept
    across versions of a board: a new version changes a few students' best submissions, not every row's."""
    return iso_utc(at), local_time(at, tz)


def student_line(view: RowView, *, mine: bool = False) -> str:
    return str(get_template_attribute(LINES_TEMPLATE, "student_line")(view, mine))


def row_views(comp, rows: Sequence[BoardRow], moves: dict[int, int] | None,
              staff: bool) -> list[RowView]:
    """The rows formatted; `moves` only for the private board."""
    tz, slug, private = comp.course.timezone, comp.course.slug, moves is not None
    views = []
    for row in rows:
        staff_url = url_for("staff.student_detail", slug=slug, user_id=row.user_id) if staff else None
        views.append(RowView(row, private, moves.get(row.user_id) if private else None,
                             *when_texts(row.submitted_at, tz), staff_url))
    return views


def drawn(views: Sequence[RowView], marks: list[CutoffMark], *, private: bool, staff: bool,
          key: tuple | None, before: DrawnBoard | None = None) -> DrawnBoard:
    """Each row and each cutoff mark as a line, the marks where they fall. A row that reads as it did on the
    board drawn `before` keeps its line: after a scoring most rows do."""
    draw_row = get_template_attribute(LINES_TEMPLATE, "student_line")
    draw_mark = get_template_attribute(LINES_TEMPLATE, "cutoff_line")
    lines: list[str] = []
    line_of: dict[int, int] = {}
    pending = sorted(marks, key=lambda m: m.after)
    for index, view in enumerate(views):
        while pending and pending[0].after <= index:
            lines.append(str(draw_mark(pending.pop(0), private, staff)))
        user_id = view.row.user_id
        line_of[user_id] = len(lines)
        if before is not None and before.views.get(user_id) == view:
            lines.append(before.lines[before.line_of[user_id]])
        else:
            lines.append(str(draw_row(view, False)))
    lines.extend(str(draw_mark(m, private, staff)) for m in pending)
    return DrawnBoard(key, tuple(lines), line_of, {v.row.user_id: v for v in views})


def kept_public_lines(comp, board: leaderboards.KeptBoard, marks: list[CutoffMark], *,
                      staff: bool) -> DrawnBoard:
    """The public board's lines, drawn again only when what they show changed: the board's version, the
    course's time zone, the cutoffs, and whether the reader is staff."""
    kept: dict[tuple[int, bool], DrawnBoard] = current_app.extensions.setdefault("podium.drawn_boards", {})
    key = (board.version, comp.course.timezone, tuple(marks))
    found = kept.get((comp.id, staff))
    if found is None or found.key != key:
        views = row_views(comp, board.rows, None, staff)
        found = drawn(views, marks, private=False, staff=staff, key=key, before=found)
        kept[(comp.id, staff)] = found
    return found


@bp.get("/competitions/<cid>/leaderboard")
@signed_in
def board(cid: str):
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    which = request.args.get("board") or leaderboards.default_board(comp)
    if which == leaderboards.PUBLIC:
        kept = leaderboards.kept_public_board(db_session(), comp)
        rows: Sequence[BoardRow] = kept.rows
        lines = kept_public_lines(comp, kept, cutoff_marks(comp, rows, staff=staff), staff=staff)
    else:
        rows = leaderboards.board_for(db_session(), comp, which, staff=staff)
        moves = rank_moves(leaderboards.public_board(db_session(), comp), rows)
        lines = drawn(row_views(comp, rows, moves, staff), cutoff_marks(comp, rows, staff=staff), private=True, staff=staff,
                      key=None)
    me_id = me().id
    mine = lines.views[me_id].row if me_id in lines.views else None
    return render_template(
        "leaderboards/board.html", comp=comp, course=comp.course, staff=staff, which=which, count=len(rows),
        lines=lines.html(me_id), mine=mine, private_visible=leaderboards.private_board_visible(comp, staff=staff))
