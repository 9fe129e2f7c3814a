"""What staff look through: a course's people, its submissions under filters, its audit log."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from podium import rules
from podium.models import AuditEvent, Competition, Course, Enrolment, Role, SlackEntry, Status, Submission, User
from podium.services.rule_values import active_extensions, schedule_of

PAGE_SIZE = 100


def members(session: Session, course: Course) -> list[Enrolment]:
    """Everyone enrolled, staff first, then by email."""
    order = {Role.instructor: 0, Role.staff: 1, Role.student: 2}
    rows = session.scalars(
        select(Enrolment).options(joinedload(Enrolment.user)).where(Enrolment.course_id == course.id)
    ).all()
    return sorted(rows, key=lambda e: (order[e.role], e.user.email))


def member(session: Session, course: Course, user_id: int) -> Enrolment | None:
    return session.scalar(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user_id))


@dataclass(frozen=True)
class SubmissionFilter:
    competition: str = ""  # public id, or empty for all
    student: str = ""  # part of an email, name or leaderboard name
    status: str = ""  # a Status value, or empty
    window: str = ""  # on_time | after | practice, or empty
    page: int = 1

    @classmethod
    def from_args(cls, args) -> SubmissionFilter:
        try:
            page = max(1, int(args.get("page", 1)))
        except ValueError:
            page = 1
        return cls(competition=args.get("competition", "").strip(), student=args.get("student", "").strip(),
                   status=args.get("status", "").strip(), window=args.get("window", "").strip(), page=page)

    def args(self, **changes) -> dict[str, str]:
        """The query arguments that reproduce this filter (with `changes`), leaving out empty ones and page 1."""
        values = {"competition": self.competition, "student": self.student, "status": self.status,
                  "window": self.window, "page": self.page, **changes}
        return {k: str(v) for k, v in values.items() if v and not (k == "page" and int(v) == 1)}


@dataclass(frozen=True)
class SubmissionPage:
    rows: tuple[tuple[Submission, rules.WindowResult], ...]
    total: int
    page: int
    pages: int


def find_submissions(session: Session, course: Course, f: SubmissionFilter, *, page_size: int = PAGE_SIZE,
                     everything: bool = False) -> SubmissionPage:
    """Newest first. Windows depend on each student's extension, so that filter runs after the query."""
    competitions = {c.public_id: c for c in course.competitions}
    query = (select(Submission).join(User, Submission.user_id == User.id)
             .outerjoin(Enrolment, (Enrolment.user_id == User.id) & (Enrolment.course_id == course.id))
             .options(joinedload(Submission.user), joinedload(Submission.competition))
             .where(Submission.competition_id.in_([c.id for c in competitions.values()]))
             .order_by(Submission.submitted_at.desc(), Submission.id.desc()))
    if f.competition in competitions:
        query = query.where(Submission.competition_id == competitions[f.competition].id)
    if f.status in {s.value for s in Status}:
        query = query.where(Submission.status == Status(f.status))
    if f.student:
        like = f"%{f.student.lower()}%"
        query = query.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like),
                                func.lower(Enrolment.leaderboard_name).like(like)))
    subs = session.scalars(query).unique().all()
    windows = _windows(session, list(competitions.values()), subs)
    rows = [(s, windows[s.id]) for s in subs if not f.window or windows[s.id].window == f.window]
    if everything:
        return SubmissionPage(tuple(rows), len(rows), 1, 1)
    pages = max(1, -(-len(rows) // page_size))
    page = min(f.page, pages)
    start = (page - 1) * page_size
    return SubmissionPage(tuple(rows[start:start + page_size]), len(rows), page, pages)


def _windows(session: Session, competitions: list[Competition], subs: list[Submission]) -> dict[int, rules.WindowResult]:
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


def audit_log(session: Session, course: Course, *, action: str = "", page: int = 1,
              page_size: int = PAGE_SIZE) -> tuple[list[AuditEvent], int]:
    """The course's events, newest first, with the number of pages."""
    query = select(AuditEvent).where(AuditEvent.course_id == course.id)
    if action:
        query = query.where(AuditEvent.action.like(f"{action}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // page_size))
    events = session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                             .offset((min(page, pages) - 1) * page_size).limit(page_size)).all()
    return list(events), pages


def audit_actions(session: Session, course: Course) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.course_id == course.id)
                                .distinct().order_by(AuditEvent.action)))


def slack_entries(session: Session, course: Course) -> list[SlackEntry]:
    return list(session.scalars(select(SlackEntry).options(joinedload(SlackEntry.user))
                                .where(SlackEntry.course_id == course.id)
                                .order_by(SlackEntry.recorded_at.desc(), SlackEntry.id.desc())))
