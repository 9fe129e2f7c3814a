"""Grade exports (POLICY.md section 9): `long`, one row per student and competition, and `canvas`, one row per
student with a column per competition in the layout Canvas's gradebook import reads.

The long export is the staff's: private scores, at any time. The Canvas export is what leaves Podium for an LMS
(POLICY.md section 11, "What leaves Podium"): a competition's cells hold grades only once its private board is
released and it is closed for every student, extensions included; until then they are empty and the column is
marked "(read only)" on the Points Possible row, so Canvas's import leaves that assignment as it is. The grades
written are those the students read (podium.services.grading, `staff=False`), so nothing in Canvas depends on the
private scores of a competition not released, through the slack chain included.

Canvas's importer reads the header row `Student, ID, SIS User ID, SIS Login ID, Section, <assignments>`, where an
assignment column named `Title (123)` fills the assignment with id 123 and any other name fills the assignment of
exactly that title or creates a new one; it matches a row to a student by ID (Canvas's user id), then SIS User ID,
then SIS Login ID. A competition's `canvas_assignment_id` gives the id; the ids kept per enrolment by a roster
import of Canvas's own export (podium.services.users) are written back, and without them the SIS Login ID is the
email.

Text that a spreadsheet would run as a formula (starting with =, +, -, @, or a tab or carriage return) is
prefixed with an apostrophe, so an export opened in a spreadsheet never executes what a student typed. Every CSV
Podium writes for a spreadsheet (these, the staff's submissions, the Kaggle leaderboard download) uses
`safe_text` and `csv_writer`.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.domain import utcnow
from podium.errors import PodiumError
from podium.models import Competition, Course, Enrolment
from podium.services.grading import StudentReport, gradebook, ungraded_competitions
from podium.services.rule_values import in_course_order, last_deadline

LONG_HEADER = ["email", "name", "competition", "window", "submission_id", "private_score", "raw_grade",
               "early_penalty", "slack_days_used", "slack_days_remaining", "final_grade"]
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
FORMATS = ("long", "canvas")
POINTS_POSSIBLE = "Points Possible"
# What Canvas's importer reads in the Points Possible row as "leave this column alone".
READ_ONLY = "(read only)"
# Canvas reads a column header ending in " (digits)" as the title and id of an existing assignment.
CANVAS_ASSIGNMENT_HEADER = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)
# Columns whose header contains one of these Canvas takes for its own totals and ignores on import.
CANVAS_IGNORED_HEADERS = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                          "Final Grade", "Override Score", "Override Grade", "Override Status")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_writer(out):
    """Rows end in CRLF, as RFC 4180 has them, so the csv module quotes a field holding a CR as well as one holding
    an LF. With LF endings it wrote a lone CR bare, which a spreadsheet reads as the end of the row: the rest of a
    name such as "Ann\\r=HYPERLINK(...)" then started a row of its own, formula and all."""
    return csv.writer(out, lineterminator="\r\n")


GRADE_DECIMALS = 4


def grade(x: float) -> str:
    return f"{x:.{GRADE_DECIMALS}f}"


def final_cell(g: rules.CompetitionGrade) -> str:
    """A final grade's cell: empty for a competition without grades (POLICY.md section 11), where a 0 would read as
    a real zero and overwrite a real score in the gradebook it is imported into."""
    return grade(g.final) if g.graded else ""


@dataclass(frozen=True)
class GradesExport:
    text: str
    ungraded: list[tuple[Competition, rules.Ungraded]]  # competitions left empty for want of grades, and why


def export_csv(session: Session, course: Course, *, slack_policy: str | None = None, fmt: str = "long",
               now: datetime | None = None) -> str:
    """The course's grades as CSV text; `slack_policy` defaults to the course's slack policy. `now` decides which
    competitions are closed for the Canvas export."""
    return export_grades(session, course, slack_policy=slack_policy, fmt=fmt, now=now).text


def export_grades(session: Session, course: Course, *, slack_policy: str | None = None, fmt: str = "long",
                  now: datetime | None = None) -> GradesExport:
    """The CSV text, with the competitions that have no grades and why (for staff: the command says it)."""
    if fmt not in FORMATS:
        raise PodiumError(f"unknown export format {fmt!r}; use long or canvas")
    out = io.StringIO()
    writer = csv_writer(out)
    if fmt == "long":
        reports = _sorted(gradebook(session, course, slack_policy=slack_policy))
        _write_long(writer, reports)
    else:
        reports = _sorted(lms_gradebook(session, course, slack_policy=slack_policy))
        columns = canvas_columns(session, course, now=now)
        _write_canvas(writer, columns, reports, _canvas_ids(session, course))
        # Only a column that leaves Podium needs a reason for being empty; the others are held (canvas_notes).
        leaving = {c.competition.id for c in columns if c.leaves}
        return GradesExport(out.getvalue(), [(comp, why) for comp, why in ungraded_competitions(reports)
                                             if comp.id in leaving])
    return GradesExport(out.getvalue(), ungraded_competitions(reports))


def lms_gradebook(session: Session, course: Course, *, slack_policy: str | None = None) -> list[StudentReport]:
    """The grades that leave Podium for an LMS (the Canvas export, the LTI grade push): those the students read
    (`staff=False`), so nothing in the LMS depends on the private scores of a competition not released, through
    the slack chain included. Only the columns of competitions that `leaves_podium` are sent, each grade as
    `lms_grade` has it."""
    return gradebook(session, course, slack_policy=slack_policy, staff=False)


def lms_grade(g: rules.CompetitionGrade) -> float | None:
    """A final grade as it leaves Podium, to the decimals the exports write; None for a competition without grades
    (POLICY.md section 11), which leaves the LMS's cell as it is. A student with nothing counted has a real 0."""
    return round(g.final, GRADE_DECIMALS) if g.graded else None


def _sorted(reports: list[StudentReport]) -> list[StudentReport]:
    return sorted(reports, key=lambda r: r.user.email)


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


# --- the Canvas export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanvasColumn:
    competition: Competition
    header: str          # as Canvas reads it (before `safe_text`)
    leaves: bool         # its grades leave Podium: released and closed for every student
    notes: tuple[str, ...]  # what the person exporting should know about this column, one sentence each


def leaves_podium(session: Session, comp: Competition, now: datetime) -> bool:
    """POLICY.md section 11, "What leaves Podium": the private board is released and the last effective late
    deadline (extensions included) is past."""
    return comp.released_at is not None and rules.as_utc(now) > rules.as_utc(last_deadline(session, comp))


def canvas_header(comp: Competition) -> str:
    """`Title (123)` with the competition's Canvas assignment id; without one, the title alone, which Canvas
    matches to an assignment of exactly that title or makes a new assignment of. A title that itself ends in a
    number in brackets would be read as an id, so the public id is added after it."""
    if comp.canvas_assignment_id is not None:
        return f"{comp.title} ({comp.canvas_assignment_id})"
    if CANVAS_ASSIGNMENT_HEADER.match(comp.title):
        return f"{comp.title} ({comp.public_id})"
    return comp.title


def canvas_columns(session: Session, course: Course, *, now: datetime | None = None) -> list[CanvasColumn]:
    """The Canvas export's competition columns in course order, with what the person exporting should know."""
    now = now or utcnow()
    columns = []
    for comp in in_course_order(course.competitions):
        header = canvas_header(comp)
        leaves = leaves_podium(session, comp, now)
        columns.append(CanvasColumn(comp, header, leaves, tuple(_column_notes(session, comp, header, leaves, now))))
    return columns


def canvas_notes(session: Session, course: Course, *, now: datetime | None = None) -> list[str]:
    """Everything the person exporting for Canvas should know, one line each: the columns left empty and why,
    and the columns that will not fill an existing Canvas assignment."""
    return [note for column in canvas_columns(session, course, now=now) for note in column.notes]


def _column_notes(session: Session, comp: Competition, header: str, leaves: bool, now: datetime) -> list[str]:
    notes = []
    if not leaves:
        notes.append(f"{comp.public_id}: no grades yet, and Canvas will leave its assignment as it is: "
                     f"{held_reason(session, comp, now)}.")
    if comp.canvas_assignment_id is None:
        notes.append(f"{comp.public_id}: no canvas_assignment_id in its competition.toml, so Canvas fills the "
                     f"assignment titled exactly {header!r} or, when there is none, creates a new assignment; set "
                     "canvas_assignment_id to the assignment's number in Canvas (.../assignments/123) to fill it.")
    ignored = next((words for words in CANVAS_IGNORED_HEADERS if words in header), None)
    if ignored is not None:
        notes.append(f"{comp.public_id}: Canvas ignores a column whose name contains {ignored!r}, so its grades "
                     "will not be imported; give the competition another title.")
    return notes


def held_reason(session: Session, comp: Competition, now: datetime) -> str:
    """Why a competition's grades do not leave Podium yet (`leaves_podium` is False), in the staff's words."""
    closes = last_deadline(session, comp)
    reasons = []
    if comp.released_at is None:
        reasons.append("its private leaderboard is not released")
    if rules.as_utc(now) <= rules.as_utc(closes):
        reasons.append("it is not closed for every student (the last late deadline, extensions included, is "
                       f"{rules.format_local(closes, comp.course.timezone)})")
    return " and ".join(reasons)


@dataclass(frozen=True)
class CanvasIds:
    user_id: str
    sis_user_id: str
    sis_login_id: str
    section: str


def _canvas_ids(session: Session, course: Course) -> dict[int, CanvasIds]:
    """The Canvas ids each student's enrolment keeps, by user id."""
    rows = session.execute(select(Enrolment.user_id, Enrolment.canvas_user_id, Enrolment.canvas_sis_user_id,
                                  Enrolment.canvas_sis_login_id, Enrolment.canvas_section)
                           .where(Enrolment.course_id == course.id)).all()
    return {user_id: CanvasIds(canvas or "", sis or "", login or "", section or "")
            for user_id, canvas, sis, login, section in rows}


def _write_canvas(writer, columns: list[CanvasColumn], reports: list[StudentReport],
                  ids: dict[int, CanvasIds]) -> None:
    writer.writerow(CANVAS_FIXED + [safe_text(c.header) for c in columns])
    writer.writerow([POINTS_POSSIBLE, "", "", "", ""] + ["100" if c.leaves else READ_ONLY for c in columns])
    none = CanvasIds("", "", "", "")
    for report in reports:
        user, own = report.user, ids.get(report.user.id, none)
        cells = [final_cell(report.row(c.competition).grade) if c.leaves else "" for c in columns]
        writer.writerow([safe_text(x) for x in (user.name or user.email, own.user_id, own.sis_user_id,
                                               own.sis_login_id or user.email, own.section)] + cells)
