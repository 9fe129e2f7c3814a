"""A course at a glance for its staff: today's submissions, who has not yet met the early deadline, and the
states of the competitions. A few grouped queries, whatever the size of the class.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium import rules
from podium.models import Competition, Course, Status, Submission, User
from podium.services.courses import State, competition_state
from podium.services.grading import students_of
from podium.services.listing import ListQuery, Listing, Page, Sort, rows_page
from podium.services.rule_values import active_extensions, schedule_of


@dataclass(frozen=True)
class CompetitionGlance:
    competition: Competition
    state: State
    today: int  # submissions received today (course time zone)
    today_failed: int
    total: int
    students_submitted: int  # students with at least one scored submission
    early_passed: bool
    without_early: tuple[User, ...]  # students with no scored submission by their (effective) early deadline


@dataclass(frozen=True)
class CourseGlance:
    course: Course
    day: str
    students: int
    competitions: tuple[CompetitionGlance, ...]

    @property
    def today(self) -> int:
        return sum(c.today for c in self.competitions)


def local_day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    day = rules.local_date(now, tz)
    start = rules.localize(datetime.combine(day, datetime.min.time()), tz)
    end = rules.localize(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
    return start, end


def course_glance(session: Session, course: Course, now: datetime) -> CourseGlance:
    students = students_of(session, course)
    student_ids = {u.id for u in students}
    competitions = list(course.competitions)
    start, end = local_day_bounds(now, course.timezone)
    today = _today_counts(session, [c.id for c in competitions], start, end)
    totals = dict(session.execute(
        select(Submission.competition_id, func.count()).where(Submission.competition_id.in_([c.id for c in competitions]))
        .group_by(Submission.competition_id)
    ).all())
    first_scored = _first_scored(session, [c.id for c in competitions], student_ids)
    extensions = active_extensions(session, competitions)
    glances = []
    for comp in competitions:
        firsts = first_scored.get(comp.id, {})
        without, passed = _without_early(comp, students, firsts, extensions, now)
        glances.append(CompetitionGlance(
            competition=comp, state=competition_state(comp, now), today=today[comp.id, False] + today[comp.id, True],
            today_failed=today[comp.id, True], total=totals.get(comp.id, 0), students_submitted=len(firsts),
            early_passed=passed, without_early=without))
    return CourseGlance(course, str(rules.local_date(now, course.timezone)), len(students), tuple(glances))


def _today_counts(session: Session, comp_ids: list[int], start: datetime, end: datetime) -> Counter:
    counts: Counter = Counter()
    # Grouped by the plain status column: PostgreSQL does not see `status = $1` in the select list and `status = $2`
    # in GROUP BY as one expression.
    rows = session.execute(
        select(Submission.competition_id, Submission.status, func.count())
        .where(Submission.competition_id.in_(comp_ids), Submission.submitted_at >= start, Submission.submitted_at < end)
        .group_by(Submission.competition_id, Submission.status)
    )
    for comp_id, status, n in rows:
        counts[comp_id, status == Status.failed] += n
    return counts


def _first_scored(session: Session, comp_ids: list[int], student_ids: set[int]) -> dict[int, dict[int, datetime]]:
    """Each student's first successfully scored, non-practice submission per competition."""
    firsts: dict[int, dict[int, datetime]] = defaultdict(dict)
    rows = session.execute(
        select(Submission.competition_id, Submission.user_id, func.min(Submission.submitted_at))
        .where(Submission.competition_id.in_(comp_ids), Submission.status == Status.scored,
               Submission.practice.is_(False))
        .group_by(Submission.competition_id, Submission.user_id)
    )
    for comp_id, user_id, first in rows:
        if user_id in student_ids:
            firsts[comp_id][user_id] = rules.as_utc(first) if first.tzinfo else first.replace(tzinfo=rules.UTC)
    return firsts


def _without_early(comp: Competition, students: list[User], firsts: dict[int, datetime],
                   extensions: dict, now: datetime) -> tuple[tuple[User, ...], bool]:
    if comp.early is None:
        return (), False
    schedule = schedule_of(comp)
    missing = []
    for user in students:
        own = rules.effective_schedule(schedule, extensions.get((comp.slug, user.id)))
        first = firsts.get(user.id)
        if first is None or first > own.early:
            missing.append(user)
    return tuple(missing), now > comp.early


@dataclass(frozen=True)
class EarlyMiss:
    """A student without a scored submission by their early deadline, and when their first one came, if any."""

    user: User
    early: datetime  # their own early deadline (an extension moves it)
    first_scored: datetime | None


MISSED_EARLY = Listing(
    sorts={"email": Sort(lambda m: m.user.email, text=True), "name": Sort(lambda m: m.user.name or None, text=True),
           "first": Sort(lambda m: m.first_scored)},
    search=lambda m: f"{m.user.email} {m.user.name}",
)


def missed_early(session: Session, comp: Competition, now: datetime) -> tuple[list[EarlyMiss], bool]:
    """The competition's students without a scored submission by their (effective) early deadline, by email, and
    whether the early deadline has passed for the class; none when the competition has no early deadline."""
    students = students_of(session, comp.course)
    firsts = _first_scored(session, [comp.id], {u.id for u in students}).get(comp.id, {})
    extensions = active_extensions(session, [comp])
    without, passed = _without_early(comp, students, firsts, extensions, now)
    schedule = schedule_of(comp)
    return [EarlyMiss(user, rules.effective_schedule(schedule, extensions.get((comp.slug, user.id))).early,
                      firsts.get(user.id)) for user in without], passed


@dataclass(frozen=True)
class MissedEarly:
    competition: Competition
    passed: bool  # the class's early deadline has passed: a miss is final for whoever has no extension
    everyone: tuple[EarlyMiss, ...]  # by email
    found: Page[EarlyMiss]  # the page of them the reader asked for

    @property
    def emails(self) -> str:
        return emails(m.user for m in self.everyone)


def missed_early_page(session: Session, comp: Competition, query: ListQuery, now: datetime) -> MissedEarly:
    """`missed_early`, searched, sorted and cut into a page, with the addresses of all of them."""
    missed, passed = missed_early(session, comp, now)
    return MissedEarly(comp, passed, tuple(missed), rows_page(missed, query))


def emails(users) -> str:
    """Addresses as a mail program's To field takes them pasted: separated by a comma and a space."""
    return ", ".join(user.email for user in users)


def submission_times(session: Session, comp: Competition) -> list[datetime]:
    """When every submission of the competition was received (failed ones too: they show the rush as well)."""
    return list(session.scalars(select(Submission.submitted_at).where(Submission.competition_id == comp.id)))


def submissions_version(session: Session, comp: Competition) -> tuple[int, int | None]:
    """How many submissions the competition has and its newest one's id: changes whenever one is received or
    removed, and a submission's time of receipt never changes, so it versions `submission_times`. Read from an
    index alone."""
    count, newest = session.execute(
        select(func.count(), func.max(Submission.id)).where(Submission.competition_id == comp.id)).one()
    return count, newest
