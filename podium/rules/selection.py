"""Which submissions count for a student's grade (POLICY.md section 4, "Counted submissions").

With `selection = "kaggle"` a student's submissions fall in two groups, on-time and after (on Kaggle these were two
competitions). In each group the ones the student marked as final count; in a group without marks, the K best public
scores count, ties to the earlier submission. With `selection = "all"` every scored submission counts.
Only scored, non-practice submissions at or before `late` ever count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from podium.rules.submission import Submission
from podium.rules.time import as_utc, format_local
from podium.rules.windows import AFTER, ON_TIME, Schedule, grading_group

KAGGLE = "kaggle"
ALL = "all"
SELECTIONS = (KAGGLE, ALL)
GROUP_NAMES = {ON_TIME: "on-time", AFTER: "after-deadline"}


@dataclass(frozen=True)
class Counted:
    """A student's counted submissions in one competition, by group (the order carries no meaning)."""

    on_time: tuple[Submission, ...] = ()
    after: tuple[Submission, ...] = ()


def public_order_key(sub: Submission, higher_is_better: bool) -> tuple:
    """Best public score first, then the earlier submission; a missing public score sorts last."""
    x = sub.public_score
    if x is None:
        return (True, 0.0, sub.submitted_at, sub.id)
    return (False, -x if higher_is_better else x, sub.submitted_at, sub.id)


def choose_counted(gradable: list[Submission], selection: str, k: int, higher_is_better: bool) -> list[Submission]:
    """The counted submissions among one group's gradable submissions (scored, not practice, one student).

    [decision] Marks on submissions that are not gradable (a rescore may fail one) are ignored, so a group whose
    marks are all unscored falls back to the automatic choice. Every gradable mark counts, even beyond K, which
    check_mark already prevents.
    """
    if selection == ALL:
        return gradable
    marked = [s for s in gradable if s.selected]
    if marked:
        return marked
    if len(gradable) <= k:
        return gradable
    return sorted(gradable, key=lambda s: public_order_key(s, higher_is_better))[:k]


def counted_in_group(group: Iterable[Submission], selection: str, k: int, higher_is_better: bool) -> list[Submission]:
    """The counted submissions of one group of one student's submissions."""
    return choose_counted([s for s in group if s.gradable], selection, k, higher_is_better)


def gradable_by_group(submissions: Iterable[Submission], schedule: Schedule) -> tuple[list[Submission], list[Submission]]:
    """A student's gradable submissions, on-time and after, under their effective schedule (grading_group's rule,
    inlined: this runs once per submission of the course)."""
    ontime, late = schedule.ontime, schedule.late
    on_time: list[Submission] = []
    after: list[Submission] = []
    for sub in submissions:
        if sub.private_score is None or sub.practice:
            continue
        t = sub.submitted_at
        if t <= ontime:
            on_time.append(sub)
        elif t <= late:
            after.append(sub)
    return on_time, after


def counted_submissions(submissions: Iterable[Submission], schedule: Schedule, selection: str, k: int,
                        higher_is_better: bool) -> Counted:
    """One student's counted submissions in one competition (`schedule` is the student's effective schedule)."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {selection!r}")
    on_time, after = gradable_by_group(submissions, schedule)
    return Counted(on_time=tuple(choose_counted(on_time, selection, k, higher_is_better)),
                   after=tuple(choose_counted(after, selection, k, higher_is_better)))


@dataclass(frozen=True)
class MarkCheck:
    allowed: bool
    message: str | None = None


def marking_open(now: datetime, schedule: Schedule, *, tz: str | ZoneInfo = "UTC") -> MarkCheck:
    """Marks can be set or removed until the (effective) late deadline, inclusive like every deadline."""
    if as_utc(now) <= schedule.late:
        return MarkCheck(True)
    return MarkCheck(False, f"Final submissions could be chosen until the late deadline, "
                            f"{format_local(schedule.late, tz)}; it has passed.")


def check_mark(sub: Submission, submissions: Sequence[Submission], schedule: Schedule, now: datetime, *,
               selection: str = KAGGLE, k: int = 2, mark: bool = True, tz: str | ZoneInfo = "UTC") -> MarkCheck:
    """Whether the student may mark `sub` as final (or, with mark=False, unmark it) at `now`.

    `submissions` are the student's submissions in the competition (with or without `sub`); `schedule` is the
    student's effective schedule. At most K marks per group; marking an already marked submission is allowed.
    """
    if selection != KAGGLE:
        return MarkCheck(False, "Every scored submission counts in this course, so there is nothing to mark.")
    is_open = marking_open(now, schedule, tz=tz)
    if not is_open.allowed or not mark:
        return is_open
    if sub.practice:
        return MarkCheck(False, f"Submission {sub.id} is a practice submission: it is never graded.")
    if not sub.scored:
        return MarkCheck(False, f"Submission {sub.id} has no score; only scored submissions can be marked as final.")
    group = grading_group(sub.submitted_at, schedule)
    if group is None:
        return MarkCheck(False, f"Submission {sub.id} came after the late deadline: it is never graded.")
    if sub.selected:
        return MarkCheck(True)
    already = [s for s in submissions if s.id != sub.id and s.selected and s.gradable
               and grading_group(s.submitted_at, schedule) == group]
    if len(already) >= k:
        return MarkCheck(False, f"You have already marked {len(already)} {GROUP_NAMES[group]} submissions as final "
                                f"(at most {k}); unmark one first.")
    return MarkCheck(True)
