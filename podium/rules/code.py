"""Code submissions (POLICY.md section 12): the code deadline a student has, which upload counts, and what a
counted submission without counted code does to the grade."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Hashable, Iterable

from podium.rules.time import as_utc
from podium.rules.windows import Extension, Schedule, effective_schedule


@dataclass(frozen=True)
class CodeUpload:
    """One stored code upload, as the rules see it."""

    id: int
    student: Hashable
    submitted_at: datetime


def code_deadline(deadline: datetime, schedule: Schedule, extension: Extension | None) -> datetime:
    """The student's code deadline: the competition's, moved as far as the student's extension moves their late
    deadline (POLICY.md sections 7 and 12), so code stays due the same time after the last upload that counts."""
    return as_utc(deadline) + (effective_schedule(schedule, extension).late - schedule.late)


def code_in_time(t: datetime, deadline: datetime) -> bool:
    """Deadlines are inclusive (POLICY.md section 2)."""
    return as_utc(t) <= as_utc(deadline)


def counted_code(uploads: Iterable[CodeUpload], deadlines: dict[Hashable, datetime], default: datetime
                 ) -> dict[Hashable, CodeUpload]:
    """Each student's latest upload received by their code deadline (`deadlines`, else `default`); ties of
    instant go to the later upload."""
    counted: dict[Hashable, CodeUpload] = {}
    for upload in uploads:
        if not code_in_time(upload.submitted_at, deadlines.get(upload.student, default)):
            continue
        best = counted.get(upload.student)
        if best is None or (upload.submitted_at, upload.id) > (best.submitted_at, best.id):
            counted[upload.student] = upload
    return counted
