"""Slack days across a course (POLICY.md section 5).

Both policies take one student's `StudentCandidates` for every competition of the course and a budget, and return
`CourseGrades`. They never look at submissions again: candidates are computed once per student and competition.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

from podium.rules.grading import (
    CompetitionGrade,
    Option,
    StudentCandidates,
    grade_option,
    grade_with_slack,
    optimal_options,
    preferred,
    weighted_value,
)
from podium.rules.settings import CHRONOLOGICAL, OPTIMAL, course_order

# Totals closer than this are equal for the optimal policy's tie rules.
TOTAL_TOLERANCE = 1e-9


def slack_budget(slack_days: int, ledger_days: int = 0) -> int:
    """S minus the slack the student spent elsewhere (e.g. on Autolab parts).

    [decision] Never below 0: slack overspent elsewhere cannot be taken back from Kaggle grades already earned,
    it only means no slack is left here.
    """
    return max(0, int(slack_days) - int(ledger_days))


def in_course_order(items: Sequence[StudentCandidates]) -> list[StudentCandidates]:
    """Competitions in course order (settings.course_order: `ontime`, ties by slug)."""
    return sorted(items, key=lambda c: course_order(c.ontime, c.competition))


@dataclass(frozen=True)
class CourseGrades:
    """One student's grades in every competition of a course, in course order, each with `slack_used` and the
    `slack_remaining` after it; `total` is the sum of weight * final over the graded competitions (one without
    grades, POLICY.md section 11, adds nothing: the total is over the others)."""

    student: Hashable
    slack_policy: str
    budget: int
    grades: tuple[CompetitionGrade, ...]
    total: float

    @property
    def slack_used(self) -> int:
        return sum(g.slack_used for g in self.grades)

    @property
    def slack_remaining(self) -> int:
        return self.budget - self.slack_used

    @property
    def ungraded(self) -> tuple[CompetitionGrade, ...]:
        """The competitions that have no grade (and so no part in `total`)."""
        return tuple(g for g in self.grades if not g.graded)

    def grade(self, competition: str) -> CompetitionGrade:
        for g in self.grades:
            if g.competition == competition:
                return g
        raise KeyError(competition)


def course_grades(student: Hashable, slack_policy: str, budget: int, grades: Sequence[CompetitionGrade]
                  ) -> CourseGrades:
    return CourseGrades(student, slack_policy, budget, tuple(grades), math.fsum(g.weighted for g in grades))


def chronological(items: Sequence[StudentCandidates], budget: int, student: Hashable = None) -> CourseGrades:
    """The course page's rule: in ontime order, each slack-eligible competition may use whatever slack is left;
    what a competition uses is gone for the later ones."""
    remaining, grades = budget, []
    for c in in_course_order(items):
        g = grade_with_slack(c, remaining, slack_remaining=remaining)
        remaining = g.slack_remaining
        grades.append(g)
    return course_grades(student, CHRONOLOGICAL, budget, grades)


def optimal(items: Sequence[StudentCandidates], budget: int, student: Hashable = None) -> CourseGrades:
    """The largest sum of weight * final with total slack within the budget, found exactly by dynamic programming.

    Ties (totals within TOTAL_TOLERANCE of the best) go to the fewest slack days in total, then to the
    lexicographically smallest list of per-competition slack days in ontime order.

    best[i][r] is the largest total competitions i.. can reach spending exactly r slack days (-inf if none).
    The optimum T and the smallest total of days D reaching T - tolerance are read off best[0]; a forward pass then
    takes, competition by competition, the option with the fewest days (then the highest grade, then the section 4
    tie order) that still lets the rest reach T - tolerance with exactly D days in all. That forward pass is what
    makes the per-competition list lexicographically smallest. The state is only the days spent (0..budget), and
    each competition has a handful of options, so a student costs O(competitions * budget * options).
    """
    ordered = in_course_order(items)
    options = [_valued_options(c, budget) for c in ordered]
    best = _best_totals(options, budget)
    target = max(best[0]) - TOTAL_TOLERANCE
    days = min(r for r in range(budget + 1) if best[0][r] >= target)
    grades, spent, total = [], 0, 0.0
    for c, choices, rest in zip(ordered, options, best[1:]):
        left = days - spent
        feasible = [(v, o) for v, o in choices if o.slack_days <= left and rest[left - o.slack_days] > -math.inf]
        chosen = next(((v, o) for v, o in feasible if total + v + rest[left - o.slack_days] >= target), None)
        if chosen is None:  # only float reassociation can get here; keep the best completion
            chosen = max(feasible, key=lambda vo: vo[0] + rest[left - vo[1].slack_days])
        value, option = chosen
        d_avail = budget - spent if c.slack_eligible else 0
        spent += option.slack_days
        total += value
        grades.append(grade_option(c, option, d_avail, budget - spent))
    return course_grades(student, OPTIMAL, budget, grades)


def _valued_options(c: StudentCandidates, budget: int) -> list[tuple[float, Option]]:
    """(weight * final, option) for every option the optimal policy may choose in one competition: fewest slack
    days first, then highest grade, then the section 4 tie order (on-time, slack, late, earlier submission)."""
    options = sorted(optimal_options(c, budget), key=lambda o: (o.slack_days, o.tie_key())) or [preferred([])]
    return [(weighted_value(c, o), o) for o in options]


def _best_totals(options: list[list[tuple[float, Option]]], budget: int) -> list[list[float]]:
    n = len(options)
    best = [[-math.inf] * (budget + 1) for _ in range(n + 1)]
    best[n][0] = 0.0
    for i in range(n - 1, -1, -1):
        row, after = best[i], best[i + 1]
        for value, option in options[i]:
            d = option.slack_days
            for r in range(d, budget + 1):
                rest = after[r - d]
                if rest > -math.inf and value + rest > row[r]:
                    row[r] = value + rest
    return best


def grade_student(items: Sequence[StudentCandidates], budget: int, slack_policy: str = CHRONOLOGICAL,
                  student: Hashable = None) -> CourseGrades:
    if slack_policy == CHRONOLOGICAL:
        return chronological(items, budget, student)
    if slack_policy == OPTIMAL:
        return optimal(items, budget, student)
    raise ValueError(f"slack_policy must be chronological or optimal, not {slack_policy!r}")
