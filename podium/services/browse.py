"""What staff look through: a course's people, its submissions under filters, its slack ledger, its audit log.

Each table is a `listing.Listing`: searched, sorted and cut into pages by the database (podium.services.listing).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, false, func, not_, or_, select
from sqlalchemy.orm import Session, contains_eager

from podium import rules
from podium.models import AuditEvent, Competition, Course, Enrolment, Role, SlackEntry, Status, Submission, User
from podium.services.listing import DESC, ListQuery, Listing, Page, Sort, escape_like, search_sql, order_sql, sql_page
from podium.services.rule_values import active_extensions, schedule_of

# --- people ----------------------------------------------------------------------------------------------

ROLE_RANK = case({Role.instructor: 0, Role.staff: 1, Role.student: 2}, value=Enrolment.role)

PEOPLE = Listing(
    sorts={"role": Sort((ROLE_RANK, User.email)), "email": Sort(User.email, text=True),
           "name": Sort(User.name, text=True), "leaderboard": Sort(Enrolment.leaderboard_name, text=True),
           "password": Sort(User.password_hash.is_not(None), first=DESC), "enrolled": Sort(Enrolment.created_at)},
    search=(User.email, User.name, Enrolment.leaderboard_name),
    unique=(Enrolment.id,),
)
ROLE_FILTERS = tuple(role.value for role in Role)


def people(session: Session, course: Course, query: ListQuery, *, role: str = "") -> Page[Enrolment]:
    """The course's enrolments (with their accounts), staff first by default; `role` keeps one role only."""
    # The accounts' enrolments come along: the page asks each row who may hand out its link or unenrol it.
    statement = (select(Enrolment).join(Enrolment.user)
                 .options(contains_eager(Enrolment.user).selectinload(User.enrolments))
                 .where(Enrolment.course_id == course.id))
    if role in ROLE_FILTERS:
        statement = statement.where(Enrolment.role == Role(role))
    return sql_page(session, statement, query)


def role_counts(session: Session, course: Course) -> dict[str, int]:
    """How many people the course has in each role."""
    counts = dict(session.execute(select(Enrolment.role, func.count()).where(Enrolment.course_id == course.id)
                                  .group_by(Enrolment.role)).all())
    return {role.value: counts.get(role, 0) for role in Role}


def member(session: Session, course: Course, user_id: int) -> Enrolment | None:
    return session.scalar(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user_id))


# --- submissions -----------------------------------------------------------------------------------------

SUBMISSIONS = Listing(
    sorts={"received": Sort(Submission.submitted_at, first=DESC), "id": Sort(Submission.id, first=DESC),
           "competition": Sort(Competition.slug, text=True), "student": Sort(User.email, text=True),
           "status": Sort(Submission.status), "public": Sort(Submission.public_score, first=DESC),
           "private": Sort(Submission.private_score, first=DESC)},
    search=(User.email, User.name, Enrolment.leaderboard_name, Submission.file_name, Submission.description),
    unique=(Submission.id.desc(),),
)
WINDOW_FILTERS = (rules.ON_TIME, rules.AFTER, rules.PRACTICE)


@dataclass(frozen=True)
class SubmissionFilter:
    """The filters of the submissions table beside its search: competition (public id), status and window."""

    competition: str = ""
    status: str = ""  # a Status value, or empty
    window: str = ""  # on_time | after | practice, or empty

    @classmethod
    def from_args(cls, args) -> SubmissionFilter:
        """From request parameters; a value that names nothing is no filter."""
        status = str(args.get("status") or "").strip()
        window = str(args.get("window") or "").strip()
        return cls(competition=str(args.get("competition") or "").strip(),
                   status=status if status in {s.value for s in Status} else "",
                   window=window if window in WINDOW_FILTERS else "")

    def args(self) -> dict[str, str]:
        """The request parameters that ask for this filter again."""
        return {k: v for k, v in (("competition", self.competition), ("status", self.status),
                                  ("window", self.window)) if v}


def find_submissions(session: Session, course: Course, f: SubmissionFilter, query: ListQuery
                     ) -> Page[tuple[Submission, rules.WindowResult]]:
    """One page of the course's submissions that pass the filter and the search, each with its window."""
    found = sql_page(session, _submissions_statement(session, course, f), query)
    windows = _windows(session, list(course.competitions), found.rows)
    return Page(tuple((sub, windows[sub.id]) for sub in found.rows), found.total, found.query)


def all_submissions(session: Session, course: Course, f: SubmissionFilter, query: ListQuery
                    ) -> list[tuple[Submission, rules.WindowResult]]:
    """Every submission `find_submissions` would page through, in its order (the CSV download)."""
    statement = search_sql(_submissions_statement(session, course, f), query).order_by(*order_sql(query))
    subs = session.scalars(statement).unique().all()
    windows = _windows(session, list(course.competitions), subs)
    return [(sub, windows[sub.id]) for sub in subs]


def _submissions_statement(session: Session, course: Course, f: SubmissionFilter):
    competitions = {c.public_id: c for c in course.competitions}
    statement = (select(Submission).join(Submission.user).join(Submission.competition)
                 .outerjoin(Enrolment, (Enrolment.user_id == User.id) & (Enrolment.course_id == course.id))
                 .options(contains_eager(Submission.user), contains_eager(Submission.competition))
                 .where(Competition.course_id == course.id))
    if f.competition:
        chosen = competitions.get(f.competition)
        statement = statement.where(Submission.competition_id == chosen.id if chosen else false())
    if f.status:
        statement = statement.where(Submission.status == Status(f.status))
    if f.window:
        statement = statement.where(_in_window(session, list(competitions.values()), f.window))
    return statement


def _in_window(session: Session, competitions: list[Competition], window: str):
    """The window filter as a condition on the submission's time: on time is at or before the student's own
    on-time deadline (the competition's, or the one their extension sets), grouped by deadline so that a bulk
    extension of the whole class is one condition, not one per student."""
    if window == rules.PRACTICE:
        return Submission.practice.is_(True)
    extended: dict[tuple[int, datetime], list[int]] = defaultdict(list)
    extended_users: dict[int, list[int]] = defaultdict(list)
    extensions = active_extensions(session, competitions)
    for comp in competitions:
        schedule = schedule_of(comp)
        for (slug, user_id), ext in extensions.items():
            if slug == comp.slug:
                own = rules.effective_schedule(schedule, ext)
                extended[comp.id, own.ontime].append(user_id)
                extended_users[comp.id].append(user_id)
    on_time = [and_(Submission.competition_id == comp.id, Submission.submitted_at <= comp.ontime,
                    Submission.user_id.not_in(extended_users[comp.id]))
               for comp in competitions]
    on_time += [and_(Submission.competition_id == comp_id, Submission.user_id.in_(user_ids),
                     Submission.submitted_at <= ontime)
                for (comp_id, ontime), user_ids in extended.items()]
    in_time = or_(false(), *on_time)
    return and_(Submission.practice.is_(False), in_time if window == rules.ON_TIME else not_(in_time))


def _windows(session: Session, competitions: list[Competition], subs) -> dict[int, rules.WindowResult]:
    extensions = active_extensions(session, competitions)
    schedules = {c.id: schedule_of(c) for c in competitions}
    out = {}
    for sub in subs:
        if sub.practice:
            out[sub.id] = rules.WindowResult(rules.PRACTICE)
            continue
        comp = sub.competition
        own = rules.effective_schedule(schedules[comp.id], extensions.get((comp.slug, sub.user_id)))
        out[sub.id] = rules.classify(sub.submitted_at, own, allow_practice=True)
    return out


# --- the slack ledger ------------------------------------------------------------------------------------

LEDGER = Listing(
    prefix="ledger_",
    sorts={"recorded": Sort(SlackEntry.recorded_at, first=DESC), "student": Sort(User.email, text=True),
           "days": Sort(SlackEntry.days, first=DESC)},
    search=(User.email, User.name, SlackEntry.note, SlackEntry.recorded_by),
    unique=(SlackEntry.id.desc(),),
)


def slack_entries(session: Session, course: Course, query: ListQuery) -> Page[SlackEntry]:
    return sql_page(session, select(SlackEntry).join(SlackEntry.user).options(contains_eager(SlackEntry.user))
                    .where(SlackEntry.course_id == course.id), query)


# --- the audit log ---------------------------------------------------------------------------------------

AUDIT = Listing(
    sorts={"when": Sort(AuditEvent.at, first=DESC), "who": Sort(AuditEvent.actor, text=True),
           "action": Sort(AuditEvent.action, text=True), "target": Sort(AuditEvent.target, text=True)},
    search=(AuditEvent.actor, AuditEvent.action, AuditEvent.target, AuditEvent.details),
    unique=(AuditEvent.id.desc(),),
)


def audit_log(session: Session, course: Course, query: ListQuery, *, action: str = "") -> Page[AuditEvent]:
    """The course's events, newest first unless asked otherwise; `action` keeps those whose action starts so."""
    statement = select(AuditEvent).where(AuditEvent.course_id == course.id)
    if action:
        statement = statement.where(AuditEvent.action.like(escape_like(action) + "%", escape="\\"))
    return sql_page(session, statement, query)


def audit_actions(session: Session, course: Course) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.course_id == course.id)
                                .distinct().order_by(AuditEvent.action)))

