"""Leaderboards and cutoffs written as leaderboard positions (POLICY.md sections 6 and 8).

Ranks are distinct, as on Kaggle: equal scores are ordered by the earlier submission (then the lower submission id,
which the database hands out in arrival order), so rank n is always one student. Ranking uses full precision;
rounding for display is the page's business.
"""
from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

from podium.rules.grading import NOT_YET, OUT_OF_ORDER, Ungraded
from podium.rules.interpolation import (
    DEFAULT_POINTS,
    LETTERS,
    letters_problem,
    Cutoffs,
    Points,
    at_or_beyond,
    first_out_of_order,
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


def entries_at_or_beyond(board: Sequence[Any], value: float, higher_is_better: bool) -> int:
    """How many rows of a ranked board (best first; each with a `score`) score at or beyond `value`: where a marked
    row of that value goes, after every student who reaches it (a cutoff; a benchmark, which so takes no rank
    from a student who ties it). Those rows are a prefix of the board, so a binary search finds where it ends."""
    return bisect_left(board, True, key=lambda row: not at_or_beyond(row.score, value, higher_is_better))


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
    """Value cutoffs from a spec mixing values and positions, reading positions off the final private board;
    ValueError, with the reason, when they cannot be (`cutoffs_on_board`)."""
    resolved = cutoffs_on_board(spec, board, higher_is_better, points)
    if isinstance(resolved, Ungraded):
        raise ValueError(resolved.why)
    return resolved


CHANGE_THEM = "Change the cutoffs in the course file or on the competition's settings page."


def cutoffs_on_board(spec: Mapping[str, Any], board: Sequence[LeaderboardEntry], higher_is_better: bool,
                     points: Points = DEFAULT_POINTS) -> Cutoffs | Ungraded:
    """The value cutoffs of a spec mixing values and positions, positions read off `board` (the private board of
    counted on-time submissions); or, when there are none to be had, why the competition has no grades
    (POLICY.md section 11):
    - NOT_YET: a position and nobody on the board yet;
    - OUT_OF_ORDER: read off the board, the values do not run from A to D (then F) in the metric's direction.
      Resolved values may tie (a small board), which is in order. The reason names the letters and values, some
      read off the board: it is for staff (`Ungraded.for_students` is what students read).
    The reason (`Ungraded.why`) says what is wrong and, where staff can do something, what.
    """
    problem = check_cutoffs(spec, higher_is_better)
    if problem:
        return Ungraded(OUT_OF_ORDER, f"the cutoffs are unusable: {problem}. {CHANGE_THEM}")
    positions = [letter for letter in LETTERS if letter in spec and is_position(spec[letter])]
    if positions and not board:
        return Ungraded(NOT_YET, _not_yet_reason(spec, positions))
    values = {letter: value_at_position(parse_position(v), board) if is_position(v) else float(v)
              for letter, v in spec.items()}
    problem = _resolved_problem(spec, values, higher_is_better)
    if problem:
        return Ungraded(OUT_OF_ORDER, problem)
    return Cutoffs.from_mapping(values, points)


def _not_yet_reason(spec: Mapping[str, Any], positions: Sequence[str]) -> str:
    named = ", ".join(f"{letter} = {spec[letter]!r}" for letter in positions)
    kind = "a leaderboard position" if len(positions) == 1 else "leaderboard positions"
    return (f"cutoff{'s' if len(positions) > 1 else ''} {named} {'is' if len(positions) == 1 else 'are'} "
            f"{kind}, read off the private leaderboard of counted on-time submissions, and no student has a counted "
            "on-time submission yet.")


def _resolved_problem(spec: Mapping[str, Any], values: Mapping[str, float], higher_is_better: bool) -> str | None:
    """Why resolved cutoffs are unusable, naming the letters and the values they came out at, or None."""
    resolved = "; ".join(_named(spec, values, letter) for letter in LETTERS if letter in values)
    for letter in LETTERS:
        if letter in values and not math.isfinite(values[letter]):
            return (f"on the private leaderboard, cutoff {_named(spec, values, letter)} is not a finite "
                    f"number (resolved: {resolved}). {CHANGE_THEM}")
    pair = first_out_of_order(values, higher_is_better, strict=False)
    if pair is None:
        return None
    better, worse = pair
    word, direction = ("below", "higher") if higher_is_better else ("above", "lower")
    return (f"on the private leaderboard the cutoffs are out of order: {_named(spec, values, better)} "
            f"is {word} {_named(spec, values, worse)}, and {direction} is better for this metric, so {better} must be "
            f"at least as good as {worse} (resolved: {resolved}). {CHANGE_THEM}")


def _named(spec: Mapping[str, Any], values: Mapping[str, float], letter: str) -> str:
    """"A = 'top 10%' (0.55)" for a position, with the value it came out at; "B = 0.7" for a value."""
    value = f"{values[letter]:.6g}"
    return f"{letter} = {spec[letter]!r} ({value})" if is_position(spec[letter]) else f"{letter} = {value}"
