"""Code submissions (POLICY.md section 12): the code deadline a student has, which upload counts, and what a
counted submission without counted code does to the grade."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Hashable, Iterable, Mapping

from podium.rules.grading import CompetitionGrade
from podium.rules.slack import CourseGrades, course_grades
from podium.rules.time import as_utc
from podium.rules.windows import Extension, Schedule, effective_schedule

# What a counted submission without counted code is (CompetitionGrade.missing_code).
CODE_DUE = "due"  # the student's code deadline has not passed: code may still come
CODE_FLAG = "flag"  # flagged to staff; the grade stands (`missing_code = "flag"`)
CODE_ZERO = "zero"  # final grade 0 (`missing_code = "zero"`)
# Uploads one student may make per competition unless its [code] table says `max_uploads`: every upload is kept, so
# this bounds the disk one student can fill. A student re-uploads a few times; a script posting in a loop is stopped.
DEFAULT_CODE_UPLOADS = 30


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


def missing_code_state(policy: str, deadline: datetime, now: datetime) -> str:
    """What a counted submission without code is at `now`: due until the student's code deadline has passed, then
    what the course's `missing_code` says (POLICY.md section 12)."""
    if code_in_time(now, deadline):
        return CODE_DUE
    return CODE_ZERO if policy == CODE_ZERO else CODE_FLAG


def with_missing_code(grades: CourseGrades, missing: Mapping[str, str]) -> CourseGrades:
    """The student's grades with `missing` applied: competition slug -> the state of their missing code, for the
    competitions that require code and where the student has none counted. Only a competition where a submission
    counts is marked; CODE_ZERO makes its final grade 0 (the slack days its submission used stay used: the grade
    that counts is that submission's)."""
    if not missing:
        return grades
    changed = [_marked(grade, missing.get(grade.competition)) for grade in grades.grades]
    return course_grades(grades.student, grades.slack_policy, grades.budget, changed)


def _marked(grade: CompetitionGrade, state: str | None) -> CompetitionGrade:
    if state is None or not grade.counted or not grade.graded:
        return grade
    if state == CODE_ZERO:
        return replace(grade, final=0.0, missing_code=state)
    return replace(grade, missing_code=state)
