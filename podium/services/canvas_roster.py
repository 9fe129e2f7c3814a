"""Canvas's own gradebook export read as a roster (`podium users import`, the People page).

Canvas's "Export Entire Gradebook" CSV starts `Student, ID, SIS User ID, SIS Login ID, Section` (the SIS columns
only for those allowed to see SIS ids; `LastName, FirstName` in place of `Student` where a school turned that on),
then the assignments and Canvas's totals. Its second row is "Points Possible" (a "Manual Posting" row may come
first) and Canvas's "Test Student" of the student view is a row like a student's. Canvas has no email column:
the SIS Login ID is often the email, and staff may add an `Email` column of their own.

Reading the file here only checks its shape; which person each row is (podium.services.users.import_roster) needs
the course's enrolments.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from podium.errors import PodiumError
from podium.models import CANVAS_FIELD_LENGTH

STUDENT, ID, SIS_USER_ID, SIS_LOGIN_ID, SECTION = "Student", "ID", "SIS User ID", "SIS Login ID", "Section"
LAST_NAME, FIRST_NAME = "LastName", "FirstName"
EMAIL_HEADERS = ("email", "e-mail", "email address")
TEST_STUDENT_NAMES = ("test student", "student, test")
# The rows Canvas's own importer passes over as not a student's: "Points Possible", and a row saying which
# assignments are muted or posted manually.
NOT_A_STUDENT = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)


@dataclass(frozen=True)
class CanvasRow:
    """One student's row: the ids as Canvas wrote them ("" where empty), None for a column the file lacks."""

    line: int
    name: str  # "First Last"
    shown: str  # the name as the file has it, for messages
    canvas_user_id: str
    sis_user_id: str | None
    sis_login_id: str | None
    section: str | None
    email: str  # from an Email column staff added; "" when there is none


def is_canvas_export(text: str) -> bool:
    """Whether the CSV's header is that of Canvas's gradebook export (as Canvas's importer tells it)."""
    header = _header(text)
    return (len(header) >= 2 and header[:2] == [STUDENT, ID]) or header[:3] == [LAST_NAME, FIRST_NAME, ID]


def _header(text: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    return [cell.strip() for cell in first]


def read_canvas_roster(text: str) -> list[CanvasRow]:
    """The students' rows of a Canvas gradebook export; the Points Possible row, a muted or manual-posting row
    and the Test Student are passed over. Any bad line raises naming it."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [cell.strip() for cell in rows[0]]
    columns = _columns(header)
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if _not_a_student(row):
            continue
        student = _student_row(line, row, columns)
        if student.name.casefold() in TEST_STUDENT_NAMES or student.shown.casefold() in TEST_STUDENT_NAMES:
            continue
        found.append(student)
    return found


def _columns(header: list[str]) -> dict[str, int]:
    """Where each column Podium reads is: the student's name, Canvas's ids, the section and an Email column."""
    names = header[:2] if header[0] == LAST_NAME else header[:1]
    columns = {name: header.index(name) for name in (*names, ID, SIS_USER_ID, SIS_LOGIN_ID, SECTION)
               if name in header}
    email = next((i for i, h in enumerate(header) if h.casefold() in EMAIL_HEADERS), None)
    if email is not None:
        columns["email"] = email
    return columns


def _not_a_student(row: list[str]) -> bool:
    return bool(row) and "Points Possible" in row[0] or all(NOT_A_STUDENT.match(cell or "") for cell in row)


def _student_row(line: int, row: list[str], columns: dict[str, int]) -> CanvasRow:
    def cell(name: str) -> str | None:
        if name not in columns:
            return None
        value = row[columns[name]].strip() if columns[name] < len(row) else ""
        if "\x00" in value:
            raise PodiumError(f"roster line {line}: the {name} cell holds a NUL character; fix the file")
        return value

    if LAST_NAME in columns:
        shown = f"{cell(LAST_NAME)}, {cell(FIRST_NAME)}".strip(", ")
        name = f"{cell(FIRST_NAME)} {cell(LAST_NAME)}".strip()
    else:
        shown = cell(STUDENT) or ""
        name = _first_name_first(shown)
    canvas_id = cell(ID) or ""
    if canvas_id and not canvas_id.isdigit():
        raise PodiumError(f"roster line {line} ({shown}): Canvas's ID {canvas_id!r} is not a number; the ID column "
                          "of Canvas's gradebook export holds the student's Canvas user number")
    for name_of, value in ((ID, canvas_id), (SIS_USER_ID, cell(SIS_USER_ID)), (SIS_LOGIN_ID, cell(SIS_LOGIN_ID)),
                           (SECTION, cell(SECTION))):
        if value is not None and len(value) > CANVAS_FIELD_LENGTH:
            raise PodiumError(f"roster line {line} ({shown}): the {name_of} is {len(value)} characters long; "
                              f"Podium keeps at most {CANVAS_FIELD_LENGTH}")
    return CanvasRow(line=line, name=name, shown=shown, canvas_user_id=canvas_id, sis_user_id=cell(SIS_USER_ID),
                     sis_login_id=cell(SIS_LOGIN_ID), section=cell(SECTION), email=cell("email") or "")


def _first_name_first(sortable: str) -> str:
    """Canvas writes names as "Last, First"; a new account is named "First Last"."""
    last, comma, first = sortable.partition(", ")
    return f"{first} {last}".strip() if comma and "," not in first else sortable.strip()
