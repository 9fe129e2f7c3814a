"""Leaderboards: public during the competition, private once released (staff see both at any time).

The boards come from `services.leaderboards`, the same rows the REST and Kaggle APIs give. This page adds what
a reader looks for: the cutoffs and the staff's benchmarks drawn as marked rows where they fall (as Kaggle draws
benchmark rows), the reader's own row, and after release how far each rank moved from the public board. Its CSV
download holds the same rows as the page, for the same reader.

A public board of a thousand students is read by most of them during a deadline rush, and it changes only when
the service gives it a new version. Its lines are therefore drawn once per version (and per kind of reader:
students, or staff who also see emails) and kept; each request only marks the reader's own line and pastes the
rest in. The private board is not kept by the service, so its lines are drawn at each request, the same way.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple, Sequence

from flask import Blueprint, Response, current_app, get_template_attribute, render_template, request, url_for
from markupsafe import Markup

from podium import rules
from podium.services import export, leaderboards
from podium.services.leaderboards import BenchmarkRow, BoardRow
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
    value: float | None = None  # the cutoff's value, when this reader may know it


def rows_at_or_beyond(rows: Sequence[BoardRow], value: float, higher_is_better: bool) -> int:
    """How many rows score at or beyond `value` (`rules.entries_at_or_beyond`)."""
    return rules.entries_at_or_beyond(rows, value, higher_is_better)


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
            marks.append(CutoffMark(letter, label, after, value))
        else:
            after = rules.rank_at_position(rules.parse_position(spec), len(rows)) if rows else 0
            marks.append(CutoffMark(letter, f"{letter} cutoff · {spec}", after))
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


class BenchmarkView(NamedTuple):
    """A benchmark's row with every value formatted, and where it goes."""

    row: BenchmarkRow
    after: int  # the number of students' rows above it
    when_utc: str
    when_local: str
    staff_url: str | None  # the submission's page, in staff views only


def benchmark_views(comp, rows: Sequence[BoardRow], benchmarks: Sequence[BenchmarkRow],
                    staff: bool) -> list[BenchmarkView]:
    tz = comp.course.timezone
    return [BenchmarkView(b, after, *when_texts(b.submitted_at, tz),
                          url_for("student.submission", n=b.submission_id) if staff else None)
            for after, b in leaderboards.benchmark_places(rows, benchmarks, comp.higher_is_better)]


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


def marked_lines(marks: list[CutoffMark], benchmarks: Sequence[BenchmarkView], *, higher_is_better: bool,
                 private: bool, staff: bool) -> list[tuple[int, str]]:
    """The cutoff marks and the benchmarks (best first) as lines, each with the number of students' rows above it,
    in board order. Marks that fall between the same two students keep their letters' order; a benchmark among them
    goes before the first whose value it reaches (a position whose value this reader may not know yet stays
    above it)."""
    draw_mark = get_template_attribute(LINES_TEMPLATE, "cutoff_line")
    draw_benchmark = get_template_attribute(LINES_TEMPLATE, "benchmark_line")
    items: list[CutoffMark | BenchmarkView] = sorted(marks, key=lambda m: m.after)
    start = 0
    for benchmark in benchmarks:
        start = next((i for i in range(start, len(items)) if isinstance(items[i], CutoffMark)
                      and _benchmark_above(benchmark, items[i], higher_is_better)), len(items))
        items.insert(start, benchmark)
        start += 1
    return [(item.after, str(draw_mark(item, private, staff) if isinstance(item, CutoffMark)
                             else draw_benchmark(item, private, staff))) for item in items]


def _benchmark_above(benchmark: BenchmarkView, mark: CutoffMark, higher_is_better: bool) -> bool:
    if mark.after != benchmark.after:
        return mark.after > benchmark.after
    return mark.value is not None and rules.at_or_beyond(benchmark.row.score, mark.value, higher_is_better)


def drawn(views: Sequence[RowView], marks: list[CutoffMark], *, private: bool, staff: bool,
          key: tuple | None, before: DrawnBoard | None = None, benchmarks: Sequence[BenchmarkView] = (),
          higher_is_better: bool = True) -> DrawnBoard:
    """Each row, each cutoff mark and each benchmark as a line, the marks and benchmarks where they fall. A row
    that reads as it did on the board drawn `before` keeps its line: after a scoring most rows do."""
    draw_row = get_template_attribute(LINES_TEMPLATE, "student_line")
    lines: list[str] = []
    line_of: dict[int, int] = {}
    pending = marked_lines(marks, benchmarks, higher_is_better=higher_is_better, private=private, staff=staff)
    for index, view in enumerate(views):
        while pending and pending[0][0] <= index:
            lines.append(pending.pop(0)[1])
        user_id = view.row.user_id
        line_of[user_id] = len(lines)
        if before is not None and before.views.get(user_id) == view:
            lines.append(before.lines[before.line_of[user_id]])
        else:
            lines.append(str(draw_row(view, False)))
    lines.extend(line for _, line in pending)
    return DrawnBoard(key, tuple(lines), line_of, {v.row.user_id: v for v in views})


def kept_public_lines(comp, board: leaderboards.KeptBoard, marks: list[CutoffMark], *, staff: bool,
                      benchmarks: Sequence[BenchmarkRow] = ()) -> DrawnBoard:
    """The public board's lines, drawn again only when what they show changed: the board's version, the
    course's time zone, the cutoffs, the benchmarks, and whether the reader is staff."""
    kept: dict[tuple[int, bool], DrawnBoard] = current_app.extensions.setdefault("podium.drawn_boards", {})
    key = (board.version, comp.course.timezone, tuple(marks), tuple(benchmarks))
    found = kept.get((comp.id, staff))
    if found is None or found.key != key:
        views = row_views(comp, board.rows, None, staff)
        found = drawn(views, marks, private=False, staff=staff, key=key, before=found,
                      benchmarks=benchmark_views(comp, board.rows, benchmarks, staff),
                      higher_is_better=comp.higher_is_better)
        kept[(comp.id, staff)] = found
    return found


@bp.get("/competitions/<cid>/leaderboard")
@signed_in
def board(cid: str):
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    which = request.args.get("board") or leaderboards.default_board(comp)
    benchmarks = leaderboards.benchmarks_for(db_session(), comp, which, staff=staff)
    if which == leaderboards.PUBLIC:
        kept = leaderboards.kept_public_board(db_session(), comp)
        rows: Sequence[BoardRow] = kept.rows
        lines = kept_public_lines(comp, kept, cutoff_marks(comp, rows, staff=staff), staff=staff,
                                  benchmarks=benchmarks)
    else:
        rows = leaderboards.board_for(db_session(), comp, which, staff=staff)
        moves = rank_moves(leaderboards.public_board(db_session(), comp), rows)
        lines = drawn(row_views(comp, rows, moves, staff), cutoff_marks(comp, rows, staff=staff), private=True, staff=staff,
                      key=None, benchmarks=benchmark_views(comp, rows, benchmarks, staff),
                      higher_is_better=comp.higher_is_better)
    me_id = me().id
    mine = lines.views[me_id].row if me_id in lines.views else None
    return render_template(
        "leaderboards/board.html", comp=comp, course=comp.course, staff=staff, which=which, count=len(rows),
        lines=lines.html(me_id), mine=mine, private_visible=leaderboards.private_board_visible(comp, staff=staff),
        benchmarks=len(benchmarks))


# --- the CSV download ----------------------------------------------------------------------------------------


@bp.get("/competitions/<cid>/leaderboard.csv")
@signed_in
def board_csv(cid: str):
    """The board the page shows this reader, as CSV: the same rows, columns and benchmarks (the cutoff marks, which
    are the course's settings drawn between rows, are left out). Student and staff text is made formula-safe."""
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    which = request.args.get("board") or leaderboards.default_board(comp)
    rows = leaderboards.board_for(db_session(), comp, which, staff=staff)
    benchmarks = leaderboards.benchmarks_for(db_session(), comp, which, staff=staff)
    moves = rank_moves(leaderboards.public_board(db_session(), comp), rows) if which == leaderboards.PRIVATE else None
    text = board_csv_text(leaderboards.with_benchmarks(rows, benchmarks, comp.higher_is_better), moves, staff=staff)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={comp.public_id}-{which}-leaderboard.csv"})


def board_csv_text(lines: Sequence[leaderboards.Line], moves: dict[int, int] | None, *, staff: bool) -> str:
    """The lines as CSV: `moved` (places gained since the public board) on the private board only, `email` for
    staff only; a benchmark has no rank, no entries and its name as "Benchmark: NAME"."""
    out = io.StringIO()
    writer = export.csv_writer(out)
    writer.writerow(["rank", *(["moved"] if moves is not None else []), "leaderboard_name",
                     *(["email"] if staff else []), "score", "entries", "last_improved"])
    for line in lines:
        student = isinstance(line, BoardRow)
        moved = [moves.get(line.user_id, "") if student else ""] if moves is not None else []
        email = [export.safe_text(line.email) if student else ""] if staff else []
        writer.writerow([line.rank if student else "", *moved,
                         export.safe_text(line.name if student else line.label), *email, line.shown_score,
                         line.entries if student else "", rules.format_utc(line.submitted_at)])
    return out.getvalue()
