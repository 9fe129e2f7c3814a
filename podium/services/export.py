"""Grade exports (POLICY.md section 9): `long`, one row per student and competition, and `canvas`, one row per
student with a column per competition in the layout Canvas's gradebook import reads.

Text that a spreadsheet would run as a formula (starting with =, +, -, @, or a tab or carriage return) is
prefixed with an apostrophe, so an export opened in a spreadsheet never executes what a student typed. Every CSV
Podium writes for a spreadsheet (these, the staff's submissions, the Kaggle leaderboard download) uses
`safe_text` and `csv_writer`.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium import rules
from podium.errors import PodiumError
from podium.models import Competition, Course
from podium.services.grading import StudentReport, gradebook, ungraded_competitions

LONG_HEADER = ["email", "name", "competition", "window", "submission_id", "private_score", "raw_grade",
               "early_penalty", "slack_days_used", "slack_days_remaining", "final_grade"]
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
FORMATS = ("long", "canvas")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_writer(out):
    """Rows end in CRLF, as RFC 4180 has them, so the csv module quotes a field holding a CR as well as one holding
    an LF. With LF endings it wrote a lone CR bare, which a spreadsheet reads as the end of the row: the rest of a
    name such as "Ann\\r=HYPERLINK(...)" then started a row of its own, formula and all."""
    return csv.writer(out, lineterminator="\r\n")


def grade(x: float) -> str:
    return f"{x:.4f}"


def final_cell(g: rules.CompetitionGrade) -> str:
    """A final grade's cell: empty for a competition without grades (POLICY.md section 11), where a 0 would read as
    a real zero and overwrite a real score in the gradebook it is imported into."""
    return grade(g.final) if g.graded else ""


@dataclass(frozen=True)
class GradesExport:
    text: str
    ungraded: list[tuple[Competition, rules.Ungraded]]  # competitions left empty for want of grades, and why


def export_csv(session: Session, course: Course, *, slack_policy: str | None = None, fmt: str = "long"
               ) -> str:
    """The course's grades as CSV text; `slack_policy` defaults to the course's slack policy."""
    return export_grades(session, course, slack_policy=slack_policy, fmt=fmt).text


def export_grades(session: Session, course: Course, *, slack_policy: str | None = None, fmt: str = "long"
                  ) -> GradesExport:
    """The CSV text, with the competitions that have no grades and why (for staff: the command says it)."""
    if fmt not in FORMATS:
        raise PodiumError(f"unknown export format {fmt!r}; use long or canvas")
    reports = sorted(gradebook(session, course, slack_policy=slack_policy), key=lambda r: r.user.email)
    out = io.StringIO()
    writer = csv_writer(out)
    if fmt == "long":
        _write_long(writer, reports)
    else:
        _write_canvas(writer, course, reports)
    return GradesExport(out.getvalue(), ungraded_competitions(reports))


def _write_long(writer, reports: list[StudentReport]) -> None:
    writer.writerow(LONG_HEADER)
    for report in reports:
        for row in report.rows:  # in `ontime` order already
            g = row.grade
            counted = g.counted
            writer.writerow([
                safe_text(report.user.email), safe_text(report.user.name), row.competition.public_id, g.window,
                g.submission_id if counted else "", repr(g.private_score) if counted else "",
                grade(g.raw) if counted else "", ("yes" if g.early_penalty else "no") if counted else "",
                g.slack_used, g.slack_remaining, final_cell(g),
            ])


def _write_canvas(writer, course: Course, reports: list[StudentReport]) -> None:
    competitions = [row.competition for row in reports[0].rows] if reports else list(course.competitions)
    # Canvas matches students on SIS Login ID (here the email) and creates an assignment for each new column.
    writer.writerow(CANVAS_FIXED + [safe_text(f"{c.title} ({c.public_id})") for c in competitions])
    writer.writerow(["Points Possible", "", "", "", ""] + ["100" for _ in competitions])
    for report in reports:
        writer.writerow([safe_text(report.user.name or report.user.email), "", "", safe_text(report.user.email),
                         course.slug] + [final_cell(row.grade) for row in report.rows])
