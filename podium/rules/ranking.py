"""Leaderboards and cutoffs written as leaderboard positions (POLICY.md sections 6 and 8).

Ranks are distinct, as on Kaggle: equal scores are ordered by the earlier submission (then the lower submission id,
which the database hands out in arrival order), so rank n is always one student. Ranking uses full precision;
rounding for display is the page's business.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

from podium.rules.interpolation import (
    DEFAULT_POINTS,
    LETTERS,
    letters_problem,
    Cutoffs,
    Points,
    cutoffs_problem,
    ordering_problem,
)
from podium.rules.submission import Submission

POSITION = re.compile(r"^\s*top\s+(\d+(?:\.\d+)?)\s*%\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    student: Hashable
    submission_id: int
    score: float
    submitted_at: datetime


def _rank_key(score: float, sub: Submission, higher_is_better: bool) -> tuple:
    return (-score if higher_is_better else score, sub.submitted_at, sub.id)


def leaderboard(submissions: Iterable[Submission], score: Callable[[Submission], float | None],
                higher_is_better: bool) -> tuple[LeaderboardEntry, ...]:
    """Each student's best `score` (ties: their earlier submission), ranked 1..N with distinct ranks."""
    best: dict[Hashable, tuple[tuple, Submission, float]] = {}
    for sub in submissions:
        x = score(sub)
        if x is None or not sub.gradable:
            continue
        key = _rank_key(x, sub, higher_is_better)
        if sub.student not in best or key < best[sub.student][0]:
            best[sub.student] = (key, sub, x)
    ordered = sorted(best.values(), key=lambda item: item[0])
    return tuple(LeaderboardEntry(rank, sub.student, sub.id, x, sub.submitted_at)
                 for rank, (_, sub, x) in enumerate(ordered, start=1))


def public_leaderboard(submissions: Iterable[Submission], higher_is_better: bool) -> tuple[LeaderboardEntry, ...]:
    """Best public score over all of each student's scored, non-practice submissions."""
    return leaderboard(submissions, lambda s: s.public_score, higher_is_better)


def private_leaderboard(counted_on_time: Iterable[Submission], higher_is_better: bool) -> tuple[LeaderboardEntry, ...]:
    """Best private score over each student's *counted on-time* submissions (pass exactly those:
    course.counted_on_time computes them)."""
    return leaderboard(counted_on_time, lambda s: s.private_score, higher_is_better)


# --- cutoffs as positions --------------------------------------------------------------------------------


def is_position(value: Any) -> bool:
    return isinstance(value, str)


def parse_position(text: str) -> Fraction:
    """"top 10%" -> Fraction(1, 10). Exact fractions, so that ceil(p * N) has no float surprise
    (0.1 * 30 must be 3, not 3.0000000000000004 -> 4)."""
    match = POSITION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is neither a number nor a position such as \"top 10%\"")
    p = Fraction(match.group(1)) / 100
    if not 0 < p <= 1:
        raise ValueError(f"{text!r}: the percentage must be more than 0 and at most 100")
    return p


def rank_at_position(p: Fraction, n: int) -> int:
    """The rank ceil(p * N) (at least 1) on a board of N students."""
    return max(1, math.ceil(p * n))


def value_at_position(p: Fraction, board: Sequence[LeaderboardEntry]) -> float:
    if not board:
        raise ValueError("no student has a counted on-time submission, so a position cannot be turned into a score")
    return board[rank_at_position(p, len(board)) - 1].score


def check_cutoffs(spec: Mapping[str, Any], higher_is_better: bool) -> str | None:
    """Why a course file's cutoffs (numbers and/or "top N%" positions) are unusable, naming the key; or None.

    What can be checked before the leaderboard exists: letters, forms, the order of the values among themselves
    and of the positions among themselves (A the best: the highest value, or the smallest "top" percentage).
    """
    problem = letters_problem(spec)
    if problem:
        return problem
    positions: dict[str, Fraction] = {}
    values: dict[str, Any] = {}
    for letter in LETTERS:
        if letter not in spec:
            continue
        if is_position(spec[letter]):
            try:
                positions[letter] = parse_position(spec[letter])
            except ValueError as exc:
                return f"cutoff {letter}: {exc}"
        else:
            values[letter] = spec[letter]
    problem = ordering_problem(values, higher_is_better)
    if problem:
        return problem
    letters = list(positions)
    for better, worse in zip(letters, letters[1:]):
        if positions[worse] <= positions[better]:
            return (f"cutoff {worse} = {spec[worse]!r} must be a larger percentage than {better} = {spec[better]!r}: "
                    "A is the best position")
    return None


def resolve_cutoffs(spec: Mapping[str, Any], board: Sequence[LeaderboardEntry], higher_is_better: bool,
                    points: Points = DEFAULT_POINTS) -> Cutoffs:
    """Value cutoffs from a spec mixing values and positions, reading positions off the final private board.

    Resolved values may tie (a small board) but must still run from A to F in the metric's direction; when a
    position lands on the wrong side of a value cutoff the message says which.
    """
    problem = check_cutoffs(spec, higher_is_better)
    if problem:
        raise ValueError(problem)
    values = {letter: value_at_position(parse_position(v), board) if is_position(v) else float(v)
              for letter, v in spec.items()}
    problem = cutoffs_problem(values, higher_is_better, strict=False)
    if problem:
        raise ValueError(f"on the final private leaderboard, {problem}")
    return Cutoffs.from_mapping(values, points)
