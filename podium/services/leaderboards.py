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
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import Forbidden, PodiumError
from podium.models import Competition, Enrolment, Role, Submission, User, board_name
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
    """Each student's best public score over all their scored, non-practice submissions.

    The ranking is kept between requests until the competition's submissions or its students change: during a
    deadline rush hundreds of students reload the board while it changes only when an upload is scored.
    """
    students = _people(session, comp)
    key = _public_fingerprint(session, comp)
    slot = (str(session.get_bind().url), comp.id)
    cached = _public_cache.get(slot)
    if cached is None or cached[0] != key:
        subs = grading.scored_submissions(session, [comp.id], list(students))[comp.id]
        entries = Counter(s.student for s in subs if s.gradable)
        cached = (key, rules.public_leaderboard(subs, comp.higher_is_better), entries)
        _public_cache[slot] = cached
    _, board, entries = cached
    return _labelled(comp, board, students, entries)


_public_cache: dict[tuple[str, int], tuple[tuple, tuple[rules.LeaderboardEntry, ...], Counter]] = {}


def _public_fingerprint(session: Session, comp: Competition) -> tuple:
    """What the public ranking depends on. Submissions are never deleted, so every change to them (a new one,
    a scoring, a rescore) moves their count or the newest scoring time (both read off an index); enrolments
    move the student count or the newest enrolment id."""
    subs = session.execute(
        select(func.count(), func.max(Submission.scored_at)).where(Submission.competition_id == comp.id)
    ).one()
    enrolled = session.execute(
        select(func.count(Enrolment.id), func.max(Enrolment.id))
        .where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student)
    ).one()
    return (comp.higher_is_better, *subs, *enrolled)


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


class Person(NamedTuple):
    board_name: str
    email: str


def _people(session: Session, comp: Competition) -> dict[int, Person]:
    """The course's students as a board labels them (columns only: a board may have a thousand rows)."""
    rows = session.execute(
        select(User.id, User.email, User.leaderboard_name).join(Enrolment)
        .where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student)
    ).all()
    return {user_id: Person(board_name(user_id, name), email) for user_id, email, name in rows}


def _students_and_submissions(session: Session, comp: Competition
                              ) -> tuple[dict[int, Person], list[rules.Submission]]:
    students = _people(session, comp)
    subs = grading.scored_submissions(session, [comp.id], list(students))[comp.id]
    return students, subs


def _rows(comp: Competition, board, students: dict[int, Person], subs: list[rules.Submission]) -> list[BoardRow]:
    return _labelled(comp, board, students, Counter(s.student for s in subs if s.gradable))


def _labelled(comp: Competition, board, students: dict[int, Person], entries: Counter) -> list[BoardRow]:
    return [BoardRow(rank=e.rank, user_id=e.student, name=students[e.student].board_name,
                     email=students[e.student].email, score=e.score, shown_score=shown(comp, e.score),
                     submitted_at=e.submitted_at, submission_id=e.submission_id, entries=entries[e.student])
            for e in board]


def shown(comp: Competition, score: float | None) -> str:
    """A score as readers see it: rounded to the competition's display precision."""
    return "" if score is None else f"{score:.{comp.display_precision}f}"
