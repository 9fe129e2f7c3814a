"""The external slack ledger: days a student spent on parts graded outside Podium (e.g. Autolab parts).

They reduce the student's budget (POLICY.md section 5). Staff import them from a CSV `email,days,note`; the whole
file is checked before anything is written, and every entry is audited.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.errors import PodiumError
from podium.models import Course, Enrolment, SlackEntry, User
from podium.services import audit
from podium.services.users import normalise_email

LEDGER_HEADER = ["email", "days", "note"]


def import_ledger(session: Session, course: Course, source: Path | str, actor: str) -> int:
    """Record every line of the CSV; returns how many entries were added."""
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != LEDGER_HEADER[:2] or len(header) > 3 or (len(header) == 3 and header[2] != "note"):
        raise PodiumError(f"the slack ledger's header must be `email,days,note`; found `{','.join(header)}`")
    enrolled = dict(session.execute(
        select(User.email, User.id).join(Enrolment).where(Enrolment.course_id == course.id)
    ).all())
    entries = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        email, days, note = _ledger_row(line, row, enrolled, course)
        entries.append(SlackEntry(course_id=course.id, user_id=enrolled[email], days=days, note=note,
                                  recorded_by=actor))
    session.add_all(entries)
    session.flush()
    for entry in entries:
        audit.record(session, actor, "slack.record", course_id=course.id, target=str(entry.user_id),
                     entry=entry.id, days=entry.days, note=entry.note)
    return len(entries)


def _ledger_row(line: int, row: list[str], enrolled: dict[str, int], course: Course) -> tuple[str, int, str]:
    cells = [c.strip() for c in row] + ["", ""]
    try:
        email = normalise_email(cells[0])
    except PodiumError as exc:
        raise PodiumError(f"slack ledger line {line}: {exc}") from None
    if email not in enrolled:
        raise PodiumError(f"slack ledger line {line}: {email} is not enrolled in {course.slug}")
    try:
        days = int(cells[1])
    except ValueError:
        raise PodiumError(f"slack ledger line {line}: days must be a whole number, not {cells[1]!r}") from None
    if days < 0:
        raise PodiumError(f"slack ledger line {line}: days cannot be negative ({days})")
    return email, days, cells[2]


def external_days(session: Session, course_id: int) -> dict[int, int]:
    """Slack days recorded outside Podium, by user id."""
    totals: dict[int, int] = defaultdict(int)
    for user_id, days in session.execute(
        select(SlackEntry.user_id, SlackEntry.days).where(SlackEntry.course_id == course_id)
    ):
        totals[user_id] += days
    return dict(totals)
