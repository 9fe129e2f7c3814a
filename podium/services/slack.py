"""The external slack ledger: days a student spent on parts graded outside Podium (e.g. Autolab parts).

They reduce the student's budget (POLICY.md section 5). Staff record them one at a time or import them from a CSV
`email,days,note`, correct and remove them; every change is audited. An import is checked whole before anything is
written, and a row identical to an entry already recorded (same student, days and note) adds nothing, so importing
the same file twice counts nothing twice (POLICY.md section 11). An entry that takes a student's ledger past the
course's slack budget is accepted, since it records what happened elsewhere, and flagged: the budget stops at 0.

The ledger is something grades depend on: a change that moves a grade of a finalised or released competition needs
a regrade (podium.services.regrades).
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from podium.errors import NotFound, PodiumError
from podium.models import Course, Enrolment, SlackEntry, User
from podium.services import audit, regrades
from podium.services.rule_values import policy_of
from podium.services.users import course_member, normalise_email

LEDGER_HEADER = ["email", "days", "note"]


@dataclass(frozen=True)
class OverBudget:
    """A student whose ledger holds more days than the course's budget: their budget is 0, not negative."""

    email: str
    ledger_days: int
    budget: int

    def line(self) -> str:
        return (f"{self.email}: {self.ledger_days} days recorded outside Podium, more than the course's "
                f"{self.budget}-day budget; their slack budget is 0")


@dataclass
class LedgerChange:
    """What a change to the ledger did: entries added or found already recorded, students now over budget, and
    the grades of finalised or released competitions it changed (with a regrade)."""

    added: int = 0
    already_recorded: int = 0
    over_budget: list[OverBudget] = field(default_factory=list)
    regraded: list[regrades.Change] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.added} slack entr{'y' if self.added == 1 else 'ies'} recorded"
               + (f", {self.already_recorded} already in the ledger or repeated (not counted again)"
                  if self.already_recorded
                  else "")]
        out += [f"over budget: {o.line()}" for o in self.over_budget]
        out += [f"regraded: {c.line()}" for c in self.regraded]
        return out


# --- recording -------------------------------------------------------------------------------------------


def import_ledger(session: Session, course: Course, source: Path | str, actor: str, *, regrade: bool = False
                  ) -> LedgerChange:
    """Record every line of the CSV that is not in the ledger yet."""
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    return _record_new(session, course, _read_ledger(text, _enrolled(session, course), course), actor,
                       regrade=regrade)


def record_entry(session: Session, course: Course, email: str, days: int | str, note: str, actor: str, *,
                 regrade: bool = False) -> LedgerChange:
    """Record one entry (unless the same entry is already recorded)."""
    user = course_member(session, course, email)
    return _record_new(session, course, [(user.id, _days(days, "days"), note.strip())], actor, regrade=regrade)


def _record_new(session: Session, course: Course, rows: list[tuple[int, int, str]], actor: str, *,
                regrade: bool) -> LedgerChange:
    # An entry is who, how many days and why: a row identical to one already recorded, or to an earlier row of the
    # same file, adds nothing (two real entries of the same days say so in their notes).
    known = {_entry_key(e) for e in _entries_of(session, course)}
    new = [key for key in dict.fromkeys(rows) if key not in known]
    what = f"recording {len(new)} slack ledger entr{'y' if len(new) == 1 else 'ies'}"
    with regrades.decision(session, course, what=what, actor=actor, regrade=regrade) as changed:
        entries = [SlackEntry(course_id=course.id, user_id=user_id, days=days, note=note, recorded_by=actor)
                   for user_id, days, note in new]
        session.add_all(entries)
        session.flush()
        for entry in entries:
            audit.record(session, actor, "slack.record", course_id=course.id, target=str(entry.user_id),
                         entry=entry.id, days=entry.days, note=entry.note)
    return LedgerChange(added=len(new), already_recorded=len(rows) - len(new), regraded=changed,
                        over_budget=over_budget(session, course, sorted({row[0] for row in rows})))


# --- correcting ------------------------------------------------------------------------------------------


def edit_entry(session: Session, course: Course, entry_id: int, actor: str, *, days: int | str | None = None,
               note: str | None = None, regrade: bool = False) -> LedgerChange:
    """Correct an entry's days or note; the audit keeps both versions."""
    entry = get_entry(session, course, entry_id)
    new_days = entry.days if days is None or str(days).strip() == "" else _days(days, "days")
    new_note = entry.note if note is None else note.strip()
    if (new_days, new_note) == (entry.days, entry.note):
        return LedgerChange(over_budget=over_budget(session, course, [entry.user_id]))
    with regrades.decision(session, course, actor=actor, regrade=regrade,
                           what=f"correcting slack ledger entry {entry.id} ({entry.user.email})") as changed:
        audit.record(session, actor, "slack.edit", course_id=course.id, target=str(entry.user_id), entry=entry.id,
                     old={"days": entry.days, "note": entry.note}, new={"days": new_days, "note": new_note})
        entry.days, entry.note = new_days, new_note
    return LedgerChange(regraded=changed, over_budget=over_budget(session, course, [entry.user_id]))


def remove_entry(session: Session, course: Course, entry_id: int, actor: str, *, regrade: bool = False
                 ) -> LedgerChange:
    """Remove an entry; the audit keeps what it said."""
    entry = get_entry(session, course, entry_id)
    user_id = entry.user_id
    with regrades.decision(session, course, actor=actor, regrade=regrade,
                           what=f"removing slack ledger entry {entry.id} ({entry.user.email})") as changed:
        audit.record(session, actor, "slack.remove", course_id=course.id, target=str(user_id), entry=entry.id,
                     days=entry.days, note=entry.note, recorded_by=entry.recorded_by)
        session.delete(entry)
    return LedgerChange(regraded=changed, over_budget=over_budget(session, course, [user_id]))


def ledger(session: Session, course: Course) -> list[SlackEntry]:
    """The course's whole ledger, oldest first (the staff page pages it: podium.services.browse.slack_entries)."""
    return list(session.scalars(select(SlackEntry).options(joinedload(SlackEntry.user))
                                .where(SlackEntry.course_id == course.id).order_by(SlackEntry.id)))


def get_entry(session: Session, course: Course, entry_id: int) -> SlackEntry:
    """An entry of this course's ledger; one of another course is not found (its id says nothing here)."""
    entry = session.get(SlackEntry, entry_id)
    if entry is None or entry.course_id != course.id:
        raise NotFound(f"{course.slug} has no slack ledger entry {entry_id}")
    return entry


def over_budget(session: Session, course: Course, user_ids: list[int] | None = None) -> list[OverBudget]:
    """Students (all, or those given) whose ledger holds more days than the course's budget."""
    budget = policy_of(course).slack_days
    totals = external_days(session, course.id)
    wanted = totals.keys() if user_ids is None else [u for u in user_ids if u in totals]
    over = [u for u in wanted if totals[u] > budget]
    if not over:
        return []
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(over))).all())
    return sorted((OverBudget(emails[u], totals[u], budget) for u in over), key=lambda o: o.email)


# --- reading a ledger file -------------------------------------------------------------------------------


def _read_ledger(text: str, enrolled: dict[str, int], course: Course) -> list[tuple[int, int, str]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != LEDGER_HEADER[:2] or len(header) > 3 or (len(header) == 3 and header[2] != "note"):
        raise PodiumError(f"the slack ledger's header must be `email,days,note`; found `{','.join(header)}`")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        email, days, note = _ledger_row(line, row, enrolled, course)
        rows.append((enrolled[email], days, note))
    return rows


def _enrolled(session: Session, course: Course) -> dict[str, int]:
    return dict(session.execute(
        select(User.email, User.id).join(Enrolment).where(Enrolment.course_id == course.id)
    ).all())


def _entries_of(session: Session, course: Course) -> list[SlackEntry]:
    return list(session.scalars(select(SlackEntry).where(SlackEntry.course_id == course.id)))


def _entry_key(entry: SlackEntry) -> tuple[int, int, str]:
    return entry.user_id, entry.days, entry.note


def _days(text: int | str, label: str) -> int:
    try:
        days = int(str(text).strip())
    except ValueError:
        raise PodiumError(f"{label} must be a whole number of days, not {str(text).strip()!r}") from None
    if days < 0:
        raise PodiumError(f"{label} cannot be negative ({days})")
    return days


def _ledger_row(line: int, row: list[str], enrolled: dict[str, int], course: Course) -> tuple[str, int, str]:
    cells = [c.strip() for c in row] + ["", ""]
    try:
        email = normalise_email(cells[0])
    except PodiumError as exc:
        raise PodiumError(f"slack ledger line {line}: {exc}") from None
    if email not in enrolled:
        raise PodiumError(f"slack ledger line {line}: {email} is not enrolled in {course.slug}")
    try:
        days = _days(cells[1], "days")
    except PodiumError as exc:
        raise PodiumError(f"slack ledger line {line}: {exc}") from None
    return email, days, cells[2]


def external_days(session: Session, course_id: int) -> dict[int, int]:
    """Slack days recorded outside Podium, by user id."""
    totals: dict[int, int] = defaultdict(int)
    for user_id, days in session.execute(
        select(SlackEntry.user_id, SlackEntry.days).where(SlackEntry.course_id == course_id)
    ):
        totals[user_id] += days
    return dict(totals)
