"""The staff tables built on grades: the gradebook (both slack policies side by side) and the slack balances.

Grading is course-wide (the bonus is measured against the class's best), so every student is graded
(podium.services.grading); these tables then search, sort and cut the graded rows into pages, so that a page of a
course of 400 renders 50 of them.

A cell says what its number means. A grade of 0 is shown only when it is one: a counted submission that earned 0, or
a competition closed for the student with nothing counted. While the student can still submit and nothing counts,
the cell reads "not yet"; a competition whose grades cannot be computed yet shows why instead of a number. The
total is the course total of grading (the sum of weight × final over every competition, a competition not graded
yet adding 0) as a percentage of full marks: total / (sum of weights × the points of an A).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy.orm import Session

from podium import rules
from podium.models import Competition, Course, User
from podium.services import grading
from podium.services.listing import DESC, ListQuery, Listing, Page, Sort, rows_page
from podium.services.rule_values import active_extensions, in_course_order, policy_of, schedule_of

GRADED = "graded"  # a counted submission's grade (which may be 0)
ZERO = "zero"  # closed for the student, nothing counted: a real 0
NOT_YET = "not_yet"  # nothing counts yet, and the student can still submit
UNAVAILABLE = "unavailable"  # the competition's grades cannot be computed (the reason says why)


@dataclass(frozen=True)
class Cell:
    """One student's grade in one competition as the table shows it."""

    grade: rules.CompetitionGrade
    state: str  # GRADED | ZERO | NOT_YET | UNAVAILABLE
    note: str  # the grade's explanation, or why there is no number

    @property
    def value(self) -> float | None:
        """The number shown, None for "not yet" and for a grade not available."""
        return self.grade.final if self.state in (GRADED, ZERO) else None


@dataclass(frozen=True)
class Total:
    """A student's course total under one slack policy, with the formula that gives its percentage."""

    points: float  # sum of weight × final, as grading computes it
    percent: float | None  # None when the weights add up to 0
    formula: str


@dataclass(frozen=True)
class GradeLine:
    """One student's row of the gradebook: per competition (in course order) the chronological and the optimal
    cell, and both totals."""

    chronological: grading.StudentReport
    optimal: grading.StudentReport
    cells: tuple[tuple[Cell, Cell], ...]
    totals: tuple[Total, Total]

    @property
    def user(self) -> User:
        return self.chronological.user


@dataclass(frozen=True)
class Gradebook:
    competitions: tuple[Competition, ...]
    lines: Page[GradeLine]
    formula: str  # the course's formula, e.g. "(1×hw1 + 0.5×hw2) / (1.5 × 100)"
    full_marks: float  # the points of an A
    course_slack_policy: str
    unavailable: tuple[tuple[str, str], ...] = ()  # (competition slug, why its grades cannot be computed)


def grades_listing(competitions: list[Competition]) -> Listing:
    """The gradebook's sorts: the student, each total and the slack used, and each competition's grade (by its
    slug; "not yet" and unavailable cells last)."""
    sorts = {"email": Sort(lambda line: line.user.email, text=True),
             "name": Sort(lambda line: line.user.name or None, text=True),
             "total": Sort(lambda line: line.totals[0].points, first=DESC),
             "optimal": Sort(lambda line: line.totals[1].points, first=DESC),
             "slack": Sort(lambda line: line.chronological.slack_used, first=DESC)}
    for index, comp in enumerate(competitions):
        sorts[f"c-{comp.slug}"] = Sort(lambda line, i=index: line.cells[i][0].value, first=DESC)
    return Listing(sorts=sorts, search=lambda line: f"{line.user.email} {line.user.name}")


def gradebook(session: Session, course: Course, args, now: datetime, *,
              unavailable: Mapping[int, str] | None = None) -> Gradebook:
    """Every student graded under both slack policies; the page of them `args` (request parameters) asks for.
    `unavailable`: by competition id, why that competition's grades cannot be computed (its cells show the reason
    instead of a number)."""
    both = grading.gradebooks(session, course, [rules.CHRONOLOGICAL, rules.OPTIMAL])
    competitions = in_course_order(course.competitions)
    optimal = {report.user.id: report for report in both[rules.OPTIMAL]}
    full = policy_of(course).points.A
    closed = closed_for(session, competitions, now)
    lines = [_line(chrono, optimal[chrono.user.id], competitions, closed, full, unavailable or {})
             for chrono in both[rules.CHRONOLOGICAL]]
    listing = grades_listing(competitions)
    return Gradebook(tuple(competitions), rows_page(lines, ListQuery.read(listing, args)),
                     course_formula(competitions, full), full, policy_of(course).slack_policy,
                     unavailable_reasons(competitions, lines))


def student_cells(session: Session, course: Course, report: grading.StudentReport, now: datetime
                  ) -> tuple[tuple[Cell, ...], Total]:
    """One student's report as the gradebook shows it: a cell per competition (in course order) and the total."""
    competitions = in_course_order(course.competitions)
    closed = closed_for(session, competitions, now)
    cells = tuple(cell(comp, report.row(comp), closed(comp, report.user.id)) for comp in competitions)
    return cells, total_of(competitions, list(cells), policy_of(course).points.A)


def unavailable_reasons(competitions: list[Competition], lines: list[GradeLine]) -> tuple[tuple[str, str], ...]:
    """Each competition whose grades cannot be computed, once, with the reason its cells give."""
    reasons = {}
    for line in lines:
        for comp, (chrono, _) in zip(competitions, line.cells):
            if chrono.state == UNAVAILABLE:
                reasons.setdefault(comp.slug, chrono.note)
    return tuple(reasons.items())


def closed_for(session: Session, competitions: list[Competition], now: datetime):
    """A function (competition, user id) -> whether the student can no longer submit (their own late deadline,
    extensions included, has passed)."""
    extensions = active_extensions(session, competitions)
    schedules = {comp.id: schedule_of(comp) for comp in competitions}

    def closed(comp: Competition, user_id: int) -> bool:
        own = rules.effective_schedule(schedules[comp.id], extensions.get((comp.slug, user_id)))
        return rules.phase(now, own) == rules.CLOSED

    return closed


def cell(comp: Competition, row: grading.GradeRow, closed: bool, unavailable: str | None = None) -> Cell:
    """What the table shows of one grade: `closed`, whether the student can no longer submit; `unavailable`, the
    reason the competition's grades cannot be computed, when they cannot."""
    reason = unavailable or (None if row.grade.graded else row.grade.ungraded.reason)
    if reason:  # no grades for this competition (POLICY.md section 11): the reason in place of a number
        return Cell(row.grade, UNAVAILABLE, reason)
    if row.grade.counted:
        return Cell(row.grade, GRADED, row.explanation)
    if closed:
        return Cell(row.grade, ZERO, row.explanation)
    return Cell(row.grade, NOT_YET, f"Not yet: nothing counts yet for {comp.slug}, and the student can still submit.")


def _line(chrono: grading.StudentReport, optimal: grading.StudentReport, competitions: list[Competition],
          closed, full: float, unavailable: Mapping[int, str]) -> GradeLine:
    cells = tuple((cell(comp, chrono.row(comp), closed(comp, chrono.user.id), unavailable.get(comp.id)),
                   cell(comp, optimal.row(comp), closed(comp, chrono.user.id), unavailable.get(comp.id)))
                  for comp in competitions)
    return GradeLine(chrono, optimal, cells,
                     (total_of(competitions, [c[0] for c in cells], full),
                      total_of(competitions, [c[1] for c in cells], full)))


def total_of(competitions: list[Competition], cells: list[Cell], full: float) -> Total:
    """The course total (grading's: the sum of weight × final) and its percentage of full marks, with the formula
    filled in; a competition without a number adds 0 and says so."""
    # A competition without grades is left out of the total and of the weights: totals are over the graded ones.
    graded = [(comp, c) for comp, c in zip(competitions, cells) if c.state != UNAVAILABLE]
    points = math.fsum(comp.weight * c.grade.final for comp, c in graded)
    weights = math.fsum(comp.weight for comp, _ in graded)
    terms = " + ".join(f"{comp.weight:g}×{_term(c)}" for comp, c in graded) or "0"
    if weights <= 0:
        return Total(points, None, f"({terms}): no competition has a weight")
    percent = 100 * points / (weights * full)
    return Total(points, percent, f"{percent:.1f}% = ({terms}) / ({weights:g} × {full:g})")


def _term(c: Cell) -> str:
    return f"{c.grade.final:.1f}" if c.value is not None else "0 (not yet)" if c.state == NOT_YET else "0 (n/a)"


def course_formula(competitions: list[Competition], full: float) -> str:
    weights = math.fsum(comp.weight for comp in competitions)
    terms = " + ".join(f"{comp.weight:g}×{comp.slug}" for comp in competitions) or "0"
    return f"({terms}) / ({weights:g} × {full:g})"


# --- slack balances ----------------------------------------------------------------------------------------

BALANCES = Listing(
    sorts={"email": Sort(lambda r: r.user.email, text=True), "name": Sort(lambda r: r.user.name or None, text=True),
           "budget": Sort(lambda r: r.budget), "used": Sort(lambda r: r.slack_used, first=DESC),
           "remaining": Sort(lambda r: r.slack_remaining)},
    search=lambda r: f"{r.user.email} {r.user.name}",
)


def slack_balances(session: Session, course: Course, query: ListQuery) -> Page[grading.StudentReport]:
    """Every student's slack budget, days used and days left under the course's policy; one page of them."""
    return rows_page(grading.gradebook(session, course), query)
