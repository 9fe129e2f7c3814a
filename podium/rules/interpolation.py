"""From a private score to points: letter cutoffs, linear interpolation and the on-time bonus (POLICY.md section 4).

Every function takes the metric's direction explicitly: cutoffs are metric values, and "better", "beyond" and
"worse" mean higher or lower depending on it. The interpolation formula itself is the same for both directions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Mapping

LETTERS = ("A", "B", "C", "D", "F")
REQUIRED_LETTERS = ("A", "B", "C", "D")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True)
class Points:
    """The points each letter cutoff is worth (the course's `points`)."""

    A: float = 100.0
    B: float = 80.0
    C: float = 60.0
    D: float = 40.0
    F: float = 0.0

    def __post_init__(self) -> None:
        values = [getattr(self, letter) for letter in LETTERS]
        if any(not _is_number(v) for v in values):
            raise ValueError("points must be finite numbers")
        if values != sorted(values, reverse=True):
            raise ValueError("points must not increase from A to F")

    @classmethod
    def from_mapping(cls, given: Mapping[str, float] | None) -> Points:
        """Course `points`, any subset of A..F; the rest keep their defaults."""
        given = dict(given or {})
        unknown = set(given) - set(LETTERS)
        if unknown:
            raise ValueError(f"unknown letter(s) {', '.join(sorted(unknown))} in points; use A, B, C, D or F")
        return cls(**{k: float(v) for k, v in given.items()})


DEFAULT_POINTS = Points()


@dataclass(frozen=True)
class Cutoffs:
    """Metric values for the letters, A the best; F is optional. Position cutoffs ("top 10%") are resolved to
    values before they get here (ranking.resolve_cutoffs)."""

    A: float
    B: float
    C: float
    D: float
    F: float | None = None
    points: Points = DEFAULT_POINTS
    # (cutoff, points) from best to worst, F only when given; computed once because base() runs per submission.
    _levels: tuple[tuple[float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        letters = LETTERS if self.F is not None else REQUIRED_LETTERS
        object.__setattr__(self, "_levels", tuple((getattr(self, letter), getattr(self.points, letter))
                                                  for letter in letters))

    @classmethod
    def from_mapping(cls, values: Mapping[str, float], points: Points = DEFAULT_POINTS) -> Cutoffs:
        return cls(A=values["A"], B=values["B"], C=values["C"], D=values["D"], F=values.get("F"), points=points)

    def levels(self) -> tuple[tuple[float, float], ...]:
        """(cutoff, points) from best to worst, F only when given."""
        return self._levels

    def values(self) -> dict[str, float]:
        return {letter: getattr(self, letter) for letter in LETTERS if getattr(self, letter) is not None}


def at_or_beyond(x: float, cutoff: float, higher_is_better: bool) -> bool:
    """x is at least as good as `cutoff`."""
    return x >= cutoff if higher_is_better else x <= cutoff


def strictly_beyond(x: float, cutoff: float, higher_is_better: bool) -> bool:
    """x is better than `cutoff`."""
    return x > cutoff if higher_is_better else x < cutoff


def better_of(a: float, b: float, higher_is_better: bool) -> float:
    return max(a, b) if higher_is_better else min(a, b)


def base(x: float, cutoffs: Cutoffs, higher_is_better: bool) -> float:
    """Points for private score x: P_A at or beyond cA, linear between adjacent cutoffs, and P_F beyond the last
    cutoff (cF when given, else cD) [decision: P_F, which is POLICY's 0 with default points]."""
    if x != x:  # NaN
        return cutoffs.points.F
    levels = cutoffs._levels
    ca, pa = levels[0]
    if (x >= ca) if higher_is_better else (x <= ca):
        return pa
    for cb, pb in levels[1:]:
        if (x >= cb) if higher_is_better else (x <= cb):
            # x is strictly worse than ca here, so ca != cb and the division is safe in both directions.
            # Clamping guards the segment ends against rounding, which keeps base monotone across segments.
            return _clamp(pb + (pa - pb) * (x - cb) / (ca - cb), pb, pa)
        ca, pa = cb, pb
    return cutoffs.points.F


def bonus(x: float, cutoffs: Cutoffs, best: float, bmax: float, higher_is_better: bool) -> float:
    """Bonus for an on-time private score x: Bmax * (x - cA) / (best - cA) when x is beyond cA, else 0.

    `best` is the class's best counted on-time private score. Decisions where the formula has no value:
    - x at cA exactly is not beyond it: 0, also when best == cA (nobody is beyond cA, so nobody has a bonus);
    - x at or beyond `best` gets Bmax (x reaches the class's highest performance); this also covers a `best`
      that is not beyond cA while x is, which can only come from an inconsistent caller, and never divides by 0.
    """
    if math.isnan(x) or not strictly_beyond(x, cutoffs.A, higher_is_better):
        return 0.0
    if at_or_beyond(x, best, higher_is_better):
        return float(bmax)
    return bmax * _clamp((x - cutoffs.A) / (best - cutoffs.A), 0.0, 1.0)


def cutoffs_problem(values: Cutoffs | Mapping[str, Any], higher_is_better: bool, *, strict: bool = True) -> str | None:
    """Why value cutoffs are unusable (naming the letter), or None.

    Each must be a finite number, and they must run from A (best) to D, then F when given, in the metric's
    direction; `strict` also refuses equal neighbours, which are always a typo in a course file (resolved
    position cutoffs may legitimately tie on a small leaderboard: pass strict=False).
    """
    given = values.values() if isinstance(values, Cutoffs) else dict(values)
    return letters_problem(given) or ordering_problem(given, higher_is_better, strict=strict)


def letters_problem(given: Mapping[str, Any]) -> str | None:
    """Why the letters of a cutoff table are wrong (an unknown one, a required one missing), or None."""
    for letter in given:
        if letter not in LETTERS:
            return f"unknown cutoff {letter!r}; use A, B, C, D and optionally F"
    for letter in REQUIRED_LETTERS:
        if letter not in given:
            return f"cutoff {letter} is missing; give A, B, C and D (F is optional)"
    return None


def ordering_problem(given: Mapping[str, Any], higher_is_better: bool, *, strict: bool = True) -> str | None:
    """Why some of the value cutoffs (any subset of the letters) are not finite numbers in the metric's order."""
    for letter, value in given.items():
        if not _is_number(value):
            return f"cutoff {letter} = {value!r} is not a finite number"
    pair = first_out_of_order(given, higher_is_better, strict=strict)
    if pair is None:
        return None
    better, worse = pair
    word = "below" if higher_is_better else "above"
    direction = "higher" if higher_is_better else "lower"
    return (f"cutoff {worse} = {given[worse]!r} must be {word} {better} = {given[better]!r}: {direction} is better for "
            "this metric, so the cutoffs run from A (the best) to D, then F")


def first_out_of_order(given: Mapping[str, float], higher_is_better: bool, *, strict: bool = True
                       ) -> tuple[str, str] | None:
    """The first pair of neighbouring letters (better, worse) whose values are out of the metric's order, or None;
    `strict` counts equal neighbours as out of order too."""
    present = [letter for letter in LETTERS if letter in given]
    for better, worse in pairwise(present):
        a, b = given[better], given[worse]
        if not strictly_beyond(a, b, higher_is_better) if strict else strictly_beyond(b, a, higher_is_better):
            return better, worse
    return None
