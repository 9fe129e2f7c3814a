"""Leaderboards: public during the competition, private once released (staff see both at any time).

The boards come from `services.leaderboards`, the same rows the REST and Kaggle APIs give. This page adds what
a reader looks for: the cutoffs drawn as marked rows where they fall (as Kaggle draws benchmark rows), the
reader's own row, and after release how far each rank moved from the public board.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flask import Blueprint, render_template, request

from podium import rules
from podium.models import Competition
from podium.services import leaderboards
from podium.services.leaderboards import BoardRow
from podium.web.access import competition_for_member, is_staff, me, signed_in
from podium.web.context import db_session

bp = Blueprint("leaderboards", __name__)
LETTERS = ("A", "B", "C", "D", "F")


@dataclass(frozen=True)
class CutoffMark:
    letter: str
    label: str
    after: int  # the number of board rows above the mark: rows at or beyond the cutoff


@dataclass(frozen=True)
class Line:
    """One line of the board as drawn: a student's row or a cutoff mark."""

    row: BoardRow | None = None
    mark: CutoffMark | None = None
    moved: int | None = None  # places gained since the public board (negative: lost), private board only


def value_cutoffs(comp: Competition) -> dict[str, float]:
    """The cutoffs known as metric values: numbers, and positions once finalisation fixed them."""
    resolved = comp.resolved_cutoffs or {}
    values = {}
    for letter in LETTERS:
        spec = comp.cutoffs.get(letter)
        if spec is None:
            continue
        if letter in resolved:
            values[letter] = float(resolved[letter])
        elif not rules.is_position(spec):
            values[letter] = float(spec)
    return values


def cutoff_marks(comp: Competition, rows: Sequence[BoardRow]) -> list[CutoffMark]:
    """Where each cutoff falls on this board: after the rows whose score is at or beyond it; a position not
    yet fixed ("top 10%") falls after that share of the rows."""
    values = value_cutoffs(comp)
    marks = []
    for letter in LETTERS:
        spec = comp.cutoffs.get(letter)
        if spec is None:
            continue
        if letter in values:
            value = values[letter]
            after = sum(1 for r in rows if rules.at_or_beyond(r.score, value, comp.higher_is_better))
            label = f"{letter} cutoff · {leaderboards.shown(comp, value)}"
        else:
            after = rules.rank_at_position(rules.parse_position(spec), len(rows)) if rows else 0
            label = f"{letter} cutoff · {spec}"
        marks.append(CutoffMark(letter, label, after))
    return marks


def drawn(rows: Sequence[BoardRow], marks: list[CutoffMark], moves: dict[int, int] | None) -> list[Line]:
    lines: list[Line] = []
    pending = sorted(marks, key=lambda m: m.after)
    for index, row in enumerate(rows):
        while pending and pending[0].after <= index:
            lines.append(Line(mark=pending.pop(0)))
        lines.append(Line(row=row, moved=None if moves is None else moves.get(row.user_id)))
    lines.extend(Line(mark=m) for m in pending)
    return lines


def rank_moves(public: Sequence[BoardRow], private: Sequence[BoardRow]) -> dict[int, int]:
    """Places each student gained from the public to the private board (positive: moved up)."""
    public_rank = {r.user_id: r.rank for r in public}
    return {r.user_id: public_rank[r.user_id] - r.rank for r in private if r.user_id in public_rank}


@bp.get("/competitions/<cid>/leaderboard")
@signed_in
def board(cid: str):
    comp = competition_for_member(cid)
    staff = is_staff(comp.course)
    which = request.args.get("board") or leaderboards.default_board(comp)
    rows = leaderboards.board_for(db_session(), comp, which, staff=staff)
    moves = None
    if which == leaderboards.PRIVATE:
        moves = rank_moves(leaderboards.public_board(db_session(), comp), rows)
    me_id = me().id
    mine = next((r for r in rows if r.user_id == me_id), None)
    return render_template(
        "leaderboards/board.html", comp=comp, course=comp.course, staff=staff, which=which, rows=rows,
        lines=drawn(rows, cutoff_marks(comp, rows), moves), mine=mine, me_id=me_id,
        private_visible=leaderboards.private_board_visible(comp, staff=staff))
