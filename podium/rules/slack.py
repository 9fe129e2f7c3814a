"""Slack days across a course (POLICY.md section 5).

Both policies take one student's `StudentCandidates` for every competition of the course and a budget, and return
`CourseGrades`. They never look at submissions again: candidates are computed once per student and competition.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Hashable, Sequence

from podium.rules.grading import (
    CompetitionGrade,
    StudentCandidates,
    grade_option,
    grade_with_slack,
    optimal_options,
    preferred,
)
from podium.rules.settings import CHRONOLOGICAL, OPTIMAL

# Totals closer than this are equal for the optimal policy's tie rules.
TOTAL_TOLERANCE = 1e-9


def slack_budget(slack_days: int, ledger_days: int = 0) -> int:
    """S minus the slack the student spent elsewhere (e.g. on Autolab parts).

    [decision] Never below 0: slack overspent elsewhere cannot be taken back from Kaggle grades already earned,
    it only means no slack is left here.
    """
    return max(0, int(slack_days) - int(ledger_days))


def in_course_order(items: Sequence[StudentCandidates]) -> list[StudentCandidates]:
    """Competitions in order of their `ontime`, ties by slug."""
    return sorted(items, key=lambda c: (c.ontime, c.competition))


@dataclass(frozen=True)
class CourseGrades:
    """One student's grades in every competition of a course, in course order, each with `slack_used` and the
    `slack_remaining` after it; `total` is the sum of weight * final."""

    student: Hashable
    policy: str
    budget: int
    grades: tuple[CompetitionGrade, ...]
    total: float

    @property
    def slack_used(self) -> int:
        return sum(g.slack_used for g in self.grades)

    @property
    def slack_remaining(self) -> int:
        return self.budget - self.slack_used

    def grade(self, competition: str) -> CompetitionGrade:
        for g in self.grades:
            if g.competition == competition:
                return g
        raise KeyError(competition)


def with_remaining(grades: Sequence[CompetitionGrade], budget: int) -> tuple[CompetitionGrade, ...]:
    """Fill in slack_remaining: the budget minus the slack used by this competition and every earlier one."""
    remaining, out = budget, []
    for g in grades:
        remaining -= g.slack_used
        out.append(replace(g, slack_remaining=remaining))
    return tuple(out)


def course_grades(student: Hashable, policy: str, budget: int, grades: Sequence[CompetitionGrade]) -> CourseGrades:
    grades = with_remaining(grades, budget)
    return CourseGrades(student, policy, budget, grades, math.fsum(g.weighted for g in grades))


def chronological(items: Sequence[StudentCandidates], budget: int, student: Hashable = None) -> CourseGrades:
    """The course page's rule: in ontime order, each slack-eligible competition may use whatever slack is left;
    what a competition uses is gone for the later ones."""
    remaining, grades = budget, []
    for c in in_course_order(items):
        g = grade_with_slack(c, remaining if c.slack_eligible else 0)
        remaining -= g.slack_used
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
    makes the per-competition list lexicographically smallest.
    """
    ordered = in_course_order(items)
    options = [_graded_options(c, budget) for c in ordered]
    best = _best_totals(options, budget)
    target = max(best[0])
    days = min(r for r in range(budget + 1) if best[0][r] >= target - TOTAL_TOLERANCE)
    grades, spent_so_far, total_so_far = [], 0, 0.0
    for i, choices in enumerate(options):
        left = days - spent_so_far
        feasible = [g for g in choices if g.slack_used <= left and best[i + 1][left - g.slack_used] > -math.inf]
        chosen = next((g for g in feasible
                       if total_so_far + g.weighted + best[i + 1][left - g.slack_used] >= target - TOTAL_TOLERANCE),
                      None)
        if chosen is None:  # only float reassociation can get here; keep the best completion
            chosen = max(feasible, key=lambda g: g.weighted + best[i + 1][left - g.slack_used])
        grades.append(replace(chosen, d_avail=budget - spent_so_far if ordered[i].slack_eligible else 0))
        spent_so_far += chosen.slack_used
        total_so_far += chosen.weighted
    return course_grades(student, OPTIMAL, budget, grades)


def _graded_options(c: StudentCandidates, budget: int) -> list[CompetitionGrade]:
    """Every grade the optimal policy may choose for one competition, fewest slack days first, then highest
    weighted grade, then the section 4 tie order (on-time, slack, late, earlier submission)."""
    options = sorted(optimal_options(c, budget), key=lambda o: (o.slack_days, o.tie_key()))
    grades = [grade_option(c, o) for o in options]
    return grades or [grade_option(c, preferred([]))]


def _best_totals(options: list[list[CompetitionGrade]], budget: int) -> list[list[float]]:
    n = len(options)
    best = [[-math.inf] * (budget + 1) for _ in range(n + 1)]
    best[n][0] = 0.0
    for i in range(n - 1, -1, -1):
        row, after = best[i], best[i + 1]
        for g in options[i]:
            value, d = g.weighted, g.slack_used
            for r in range(d, budget + 1):
                rest = after[r - d]
                if rest > -math.inf and value + rest > row[r]:
                    row[r] = value + rest
    return best


def grade_student(items: Sequence[StudentCandidates], budget: int, policy: str = CHRONOLOGICAL,
                  student: Hashable = None) -> CourseGrades:
    if policy == CHRONOLOGICAL:
        return chronological(items, budget, student)
    if policy == OPTIMAL:
        return optimal(items, budget, student)
    raise ValueError(f"slack_policy must be chronological or optimal, not {policy!r}")
