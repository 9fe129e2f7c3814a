"""Where a student stands in a competition: their deadlines and what each means, their submissions and which
of them count now. Everything is read under the student's effective schedule (extension included), with the
course rules deciding (POLICY.md sections 3, 4 and 7); this module only gathers and labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.models import Competition, Course, Extension, Submission, User
from podium.services.courses import State, state_for
from podium.services.extensions import describe
from podium.services.rule_values import active_extension, policy_of, schedule_for, submission_of
from podium.services.submissions import upload_window, window_under

MILESTONE_LABELS = {"opens": "Opens", "early": "Early deadline", "ontime": "On-time deadline", "late": "Late deadline"}


@dataclass(frozen=True)
class Milestone:
    key: str
    label: str
    at: datetime
    class_at: datetime  # the competition's own time, which differs from `at` under an extension
    meaning: str
    passed: bool

    @property
    def moved(self) -> bool:
        return self.at != self.class_at


@dataclass(frozen=True)
class Timeline:
    milestones: tuple[Milestone, ...]
    extension: Extension | None
    extension_words: str | None
    state: State
    accepts_uploads: bool  # an upload now would be taken (submissions.upload_window), practice ones included

    @property
    def next(self) -> Milestone | None:
        """The next moment that changes something for the student (the opening, for an upcoming competition)."""
        return next((m for m in self.milestones if not m.passed), None)


def timeline(session: Session, comp: Competition, user: User | None, now: datetime) -> Timeline:
    """The competition's deadlines for this student, each with what it means for their grade."""
    policy = policy_of(comp.course)
    own = schedule_for(session, comp, user)
    extension = active_extension(session, comp, user) if user is not None else None
    meanings = _meanings(comp, policy)
    milestones = tuple(
        Milestone(key, MILESTONE_LABELS[key], getattr(own, key), getattr(comp, key), meanings[key],
                  now > getattr(own, key))
        for key in ("opens", "early", "ontime", "late") if getattr(own, key) is not None
    )
    words = describe(extension, comp.course.timezone) if extension is not None else None
    return Timeline(milestones, extension, words, state_for(own, now, comp.released_at is not None),
                    accepts_uploads=not upload_window(comp, own, now).refused)


def _meanings(comp: Competition, policy: rules.CoursePolicy) -> dict[str, str]:
    late = (f"Each started day after the on-time deadline is one day late. Late submissions spend your slack days "
            f"(no bonus); once they run out, a late submission's grade is multiplied by {policy.late_factor:g}."
            if comp.slack_eligible else
            f"This competition takes no slack days: a submission after the on-time deadline is graded at "
            f"{policy.late_factor:g}× its grade.")
    after_close = (" Afterwards, practice submissions are scored for you but never graded."
                   if comp.allow_practice else " Afterwards no submission is accepted.")
    return {
        "opens": "Submissions are accepted from this moment.",
        "early": (f"Have at least one successfully scored submission by then; without one, this competition's grade "
                  f"is multiplied by {policy.early_miss_factor:g}."),
        "ontime": (f"Submissions until then are on time: graded in full, with up to {policy.bonus_points:g} bonus "
                   f"points beyond the A cutoff."),
        "late": late + " This is the last moment to submit or to change your final selection." + after_close,
    }


# --- a student's submissions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionRow:
    submission: Submission
    window: rules.WindowResult
    counted: bool
    group: str | None  # rules.ON_TIME or rules.AFTER when the submission can count; None otherwise
    can_mark: bool


@dataclass(frozen=True)
class MySubmissions:
    rows: tuple[SubmissionRow, ...]  # newest first
    selection: str
    k: int
    marked: dict[str, int]  # marks per group
    marking: rules.MarkCheck
    schedule: rules.Schedule


def submissions_of(session: Session, comp: Competition, user: User) -> list[Submission]:
    return list(session.scalars(
        select(Submission).where(Submission.competition_id == comp.id, Submission.user_id == user.id)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    ))


def my_submissions(session: Session, comp: Competition, user: User, now: datetime) -> MySubmissions:
    """The student's submissions with their windows, which count now and which may still be marked as final."""
    policy = policy_of(comp.course)
    schedule = schedule_for(session, comp, user)
    subs = submissions_of(session, comp, user)
    values = [submission_of(s) for s in subs]
    counted = rules.counted_submissions(values, schedule, policy.selection, policy.max_selected, comp.higher_is_better)
    counted_ids = {s.id for s in counted.on_time + counted.after}
    marking = rules.marking_open(now, schedule, tz=comp.course.timezone)
    marked = {rules.ON_TIME: 0, rules.AFTER: 0}
    rows = []
    for sub, value in zip(subs, values):
        group = rules.grading_group(sub.submitted_at, schedule) if value.gradable else None
        if group is not None and sub.selected:
            marked[group] += 1
        rows.append(SubmissionRow(sub, window_under(sub, schedule), sub.id in counted_ids, group,
                                  can_mark=policy.selection == rules.KAGGLE and marking.allowed and group is not None))
    return MySubmissions(tuple(rows), policy.selection, policy.max_selected, marked, marking, schedule)


# --- a course at a glance, for one person ------------------------------------------------------------------


@dataclass(frozen=True)
class CourseCompetition:
    competition: Competition
    state: State
    next: Milestone | None
    extended: bool
    accepts_uploads: bool


def course_page(session: Session, course: Course, user: User, now: datetime) -> list[CourseCompetition]:
    rows = []
    for comp in course.competitions:
        line = timeline(session, comp, user, now)
        rows.append(CourseCompetition(comp, line.state, line.next, line.extension is not None, line.accepts_uploads))
    return rows


def next_deadline(rows: list[CourseCompetition]) -> CourseCompetition | None:
    """The competition whose next deadline (early, on-time or late) comes first."""
    upcoming = [r for r in rows if r.next is not None and r.next.key != "opens"]
    return min(upcoming, key=lambda r: r.next.at, default=None)


@dataclass(frozen=True)
class Standing:
    state: State
    schedule: rules.Schedule  # the student's own, extension included


def standings(session: Session, course: Course, user: User, now: datetime) -> dict[int, Standing]:
    """Where each competition of the course stands for this student, by id: a grade page says "not open yet" or
    "still open" rather than showing 0 for a competition with no submission yet."""
    found = {}
    for comp in course.competitions:
        schedule = schedule_for(session, comp, user)
        found[comp.id] = Standing(state_for(schedule, now, comp.released_at is not None), schedule)
    return found
