"""Leaderboards as every reader shows them: the pages, the REST API and the Kaggle-compatible API.

The rules decide who ranks where (POLICY.md section 8, `podium.rules.public_leaderboard` and
`private_leaderboard`); this module gathers the enrolled students' scored submissions, asks the rules, and labels
each row with what a reader needs. Only students appear; names are their leaderboard names (emails are carried for
staff views only). Ranking uses full precision; `shown_score` is the score rounded to the competition's display
precision.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium import rules
from podium.errors import Forbidden, PodiumError
from podium.models import Competition, User
from podium.services import grading
from podium.services.submissions import private_visible

PUBLIC = "public"
PRIVATE = "private"
BOARDS = (PUBLIC, PRIVATE)


@dataclass(frozen=True)
class BoardRow:
    rank: int
    user_id: int
    name: str  # the student's leaderboard name
    email: str  # for staff views only, never shown to students
    score: float  # full precision
    shown_score: str  # rounded to the competition's display precision
    submitted_at: datetime  # of the submission that holds the score
    submission_id: int
    entries: int  # the student's scored, non-practice submissions


def public_board(session: Session, comp: Competition) -> list[BoardRow]:
    """Each student's best public score over all their scored, non-practice submissions."""
    students, subs = _students_and_submissions(session, comp)
    board = rules.public_leaderboard(subs, comp.higher_is_better)
    return _rows(comp, board, students, subs)


def private_board(session: Session, comp: Competition) -> list[BoardRow]:
    """Each student's best private score over their counted on-time submissions (extensions included)."""
    students, subs = _students_and_submissions(session, comp)
    board = grading.private_board(comp, grading.policy_of(comp.course), subs,
                                  grading.active_extensions(session, [comp]))
    return _rows(comp, board, students, subs)


def private_board_visible(comp: Competition, *, staff: bool) -> bool:
    """Staff see the private board at any time, students once staff released it."""
    return private_visible(comp, staff)


def default_board(comp: Competition) -> str:
    """The board a reader who does not choose sees: the private one once it is released (as on Kaggle)."""
    return PRIVATE if comp.released_at is not None else PUBLIC


def board_for(session: Session, comp: Competition, which: str, *, staff: bool) -> list[BoardRow]:
    """The named board, if this reader may see it."""
    if which not in BOARDS:
        raise PodiumError(f"unknown leaderboard {which!r}; use {' or '.join(BOARDS)}", code=400)
    if which == PUBLIC:
        return public_board(session, comp)
    if not private_board_visible(comp, staff=staff):
        raise Forbidden(f"The private leaderboard of {comp.public_id} is shown once the course staff release it, "
                        "after the competition closes.")
    return private_board(session, comp)


def _students_and_submissions(session: Session, comp: Competition
                              ) -> tuple[dict[int, User], list[rules.Submission]]:
    students = {u.id: u for u in grading.students_of(session, comp.course)}
    subs = grading.scored_submissions(session, [comp.id], list(students))[comp.id]
    return students, subs


def _rows(comp: Competition, board, students: dict[int, User], subs: list[rules.Submission]) -> list[BoardRow]:
    entries = Counter(s.student for s in subs if s.gradable)
    return [BoardRow(rank=e.rank, user_id=e.student, name=students[e.student].display_name,
                     email=students[e.student].email, score=e.score, shown_score=shown(comp, e.score),
                     submitted_at=e.submitted_at, submission_id=e.submission_id, entries=entries[e.student])
            for e in board]


def shown(comp: Competition, score: float | None) -> str:
    """A score as readers see it: rounded to the competition's display precision."""
    return "" if score is None else f"{score:.{comp.display_precision}f}"
