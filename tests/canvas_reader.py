"""What Canvas's gradebook import would do with a CSV: a small reader written from Canvas's importer rules, apart
from Podium's code, for the tests of the Canvas export.

The rules (Canvas's GradebookImporter):
- The header row: the first cell contains "Student" and the second "ID"; then either "SIS Login ID", or "SIS User
  ID" and "SIS Login ID" (an "Integration ID" and a "Root Account" may follow); the last of these student columns
  must contain "Section", else the file is refused ("Invalid header row").
- The other columns are assignments, except those whose header contains one of Canvas's totals ("Current Score",
  "Final Grade", ...), which are dropped. A header `Title (123)` (a space, then digits in brackets, at the end)
  names the assignment with id 123; any other header, or an id the course does not have, names the assignment
  whose title is exactly the header, else a new assignment is created.
- A row whose first cell contains "Points Possible" gives the assignments' points; a cell there matching
  /read\\s+only/ marks its column read only. A row of only blanks, "Muted" or "Manual Posting" is passed over.
- Every other row is a student, matched by ID (Canvas's user id), else SIS User ID, else SIS Login ID, else the
  name (the student's name or sortable name); a row matching nobody is a missing student.
- When every row matched a student, read-only columns are dropped. A column left makes a new assignment when it
  names none; a blank cell (or "-") over no score is no change; a cell with a value fills that student's grade.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

TOTALS = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|Override Score|"
                    "Override Grade|Override Status")
TITLE_AND_ID = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)
NOT_A_STUDENT = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)


class InvalidHeaderRow(Exception):
    pass


@dataclass(frozen=True)
class CanvasStudent:
    id: int
    name: str
    sortable_name: str = ""
    sis_user_id: str = ""
    login_id: str = ""


@dataclass
class CanvasCourse:
    """The Canvas course a file is imported into: its assignments (id -> title) and students."""

    assignments: dict[int, str]
    students: list[CanvasStudent]


@dataclass
class Imported:
    filled: dict[tuple[int, int], str] = field(default_factory=dict)  # (assignment id, student id) -> grade
    new_assignments: list[str] = field(default_factory=list)  # titles Canvas would create
    missing_students: list[str] = field(default_factory=list)  # the name cells of rows matching no student
    points_possible: dict[int | str, str] = field(default_factory=dict)


def canvas_import(text: str, course: CanvasCourse) -> Imported:
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    student_columns, sis_user, sis_login = _student_columns(header)
    assignments = _assignments(header, student_columns, course)  # [(column index, id or "new:<title>")]
    read_only: set[int] = set()
    result = Imported()
    matched: list[tuple[CanvasStudent | None, list[str]]] = []
    for row in rows[1:]:
        if row and "Points Possible" in row[0]:
            for index, key in assignments:
                result.points_possible[key] = row[index]
                if re.search(r"read\s+only", row[index]):
                    read_only.add(index)
            continue
        if all(NOT_A_STUDENT.match(cell or "") for cell in row):
            continue
        student = _match(row, course, sis_user, sis_login)
        if student is None:
            result.missing_students.append(row[0])
        matched.append((student, row))
    if not result.missing_students:
        assignments = [(i, key) for i, key in assignments if i not in read_only]
    for index, key in assignments:
        if isinstance(key, str):  # a new assignment is a change in itself, even with every cell blank
            result.new_assignments.append(key.removeprefix("new:"))
            continue
        for student, row in matched:
            cell = row[index].strip()
            if student is not None and cell not in ("", "-"):
                result.filled[(key, student.id)] = cell
    return result


def _student_columns(header: list[str]) -> tuple[int, int | None, int | None]:
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]):
        raise InvalidHeaderRow(header)
    count, sis_user, sis_login = 3, None, None
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        sis_login, count = 2, 4
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        sis_user, sis_login, count = 2, 3, 5
        if re.search(r"Integration\s+ID", header[4]):
            count += 1
        if re.search(r"Root\s+Account", header[count - 1]):
            count += 1
    if "Section" not in header[count - 1]:
        raise InvalidHeaderRow(header)
    return count, sis_user, sis_login


def _assignments(header: list[str], student_columns: int, course: CanvasCourse) -> list[tuple[int, int | str]]:
    found = []
    for index, name in enumerate(header):
        if index < student_columns or TOTALS.search(name):
            continue
        match = TITLE_AND_ID.match(name)
        title, canvas_id = (match.group(1), int(match.group(2))) if match else (name, None)
        if canvas_id not in course.assignments:
            canvas_id = next((i for i, t in course.assignments.items() if t == name), None)
        found.append((index, canvas_id if canvas_id is not None else f"new:{title}"))
    return found


def _match(row: list[str], course: CanvasCourse, sis_user: int | None, sis_login: int | None
           ) -> CanvasStudent | None:
    if row[1].strip().isdigit():
        found = next((s for s in course.students if s.id == int(row[1])), None)
        if found:
            return found
    if sis_user is not None and row[sis_user]:
        found = next((s for s in course.students if s.sis_user_id == row[sis_user]), None)
        if found:
            return found
    if sis_login is not None and row[sis_login]:
        found = next((s for s in course.students if s.login_id == row[sis_login]), None)
        if found:
            return found
    return next((s for s in course.students if row[0] in (s.name, s.sortable_name)), None)
