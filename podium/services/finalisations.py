"""What the scheduler will do and has done, for staff: finalisations to come and past ones, read from the database.

A competition is finalised `PODIUM_FINALISE_GRACE_SECONDS` (default 300) after its last late deadline, the latest
of the competition's own and those moved by active extensions: a student with an extension may still submit
until then, and the position cutoffs must be read off the board that includes those submissions. The grace lets
the scoring queue drain; when it has not drained by then (a backlog after an outage), finalisation waits for it,
at most `MAX_DRAIN_WAIT` longer. A competition whose position cutoffs give no values on its final board is not
finalised (POLICY.md section 11): the scheduler records why (`competitions.hold_finalisation`), and this report shows
it beside the competition until it is finalised.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.config import JobSettings
from podium.models import AuditEvent, Competition, Course, Status, Submission, utcnow
from podium.services import leases
from podium.services.competitions import FINALISE_HELD
from podium.services.rule_values import last_late

DEFAULT_GRACE_SECONDS = JobSettings.finalise_grace_seconds
MAX_DRAIN_WAIT = timedelta(hours=1)
DEADLINE_LEASE = "scheduler:deadlines"


def grace_seconds() -> float:
    """The grace when the caller gives none; callers with settings pass `settings.jobs.finalise_grace_seconds`."""
    return DEFAULT_GRACE_SECONDS


@dataclass(frozen=True)
class Finalisation:
    competition_id: int
    competition: str  # public id
    title: str
    course: str
    late: datetime  # the last late deadline, extensions included
    due_at: datetime  # when the scheduler finalises it
    finalised_at: datetime | None = None
    finalised_by: str | None = None
    unscored: int = 0  # submissions still queued or being scored
    held: str | None = None  # why the scheduler could not finalise it since it was due


@dataclass(frozen=True)
class SchedulerReport:
    upcoming: list[Finalisation]  # soonest first
    past: list[Finalisation]  # latest first
    scheduler: str | None  # the process running the deadline loop, when one holds its lease
    scheduler_until: datetime | None
    queued: int
    scoring: int


def due_at(session: Session, comp: Competition, grace: float | None = None) -> datetime:
    return last_late(session, comp) + timedelta(seconds=grace_seconds() if grace is None else grace)


def _unscored(session: Session, competition_ids: list[int]) -> dict[int, int]:
    if not competition_ids:
        return {}
    rows = session.execute(
        select(Submission.competition_id, func.count())
        .where(Submission.competition_id.in_(competition_ids), Submission.practice.is_(False),
               Submission.status.in_([Status.queued, Status.scoring]))
        .group_by(Submission.competition_id)
    )
    return dict(rows.all())


def _scheduled(session: Session, grace: float | None, course: Course | None = None) -> list[Finalisation]:
    query = select(Competition).where(Competition.finalised_at.is_(None))
    if course is not None:
        query = query.where(Competition.course_id == course.id)
    comps = list(session.scalars(query))
    unscored = _unscored(session, [c.id for c in comps])
    holds = _holds(session, [c.public_id for c in comps])
    grace = grace_seconds() if grace is None else grace
    items = []
    for comp in comps:
        late = last_late(session, comp)
        due = late + timedelta(seconds=grace)
        # A hold recorded before the competition was (last) due is about deadlines an extension has moved since.
        held = next((reason for at, reason in holds.get(comp.public_id, ()) if at >= due), None)
        items.append(Finalisation(comp.id, comp.public_id, comp.title, comp.course.slug, late, due,
                                  unscored=unscored.get(comp.id, 0), held=held))
    return sorted(items, key=lambda f: (f.due_at, f.competition))


def _holds(session: Session, public_ids: list[str]) -> dict[str, list[tuple[datetime, str]]]:
    """(when, why) the scheduler could not finalise each competition, latest first."""
    if not public_ids:
        return {}
    rows = session.execute(select(AuditEvent.target, AuditEvent.at, AuditEvent.details)
                           .where(AuditEvent.action == FINALISE_HELD, AuditEvent.target.in_(public_ids))
                           .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))
    holds: dict[str, list[tuple[datetime, str]]] = {}
    for target, at, details in rows:
        holds.setdefault(target, []).append((at, (details or {}).get("reason", "")))
    return holds


def upcoming(session: Session, grace: float | None = None, course: Course | None = None) -> list[Finalisation]:
    """Competitions not finalised yet, soonest first (including any overdue, waiting for the next pass)."""
    return _scheduled(session, grace, course)


def ready_to_finalise(session: Session, grace: float | None = None, *, now: datetime | None = None
                      ) -> list[Competition]:
    """Competitions whose finalisation is due now: past their due instant, and their queue drained (or the
    backlog has held them back `MAX_DRAIN_WAIT` already)."""
    now = now or utcnow()
    ready = [item.competition_id for item in _scheduled(session, grace)
             if item.due_at <= now and (not item.unscored or now >= item.due_at + MAX_DRAIN_WAIT)]
    return [session.get(Competition, comp_id) for comp_id in ready]


def past(session: Session, course: Course | None = None) -> list[Finalisation]:
    """Finalised competitions, latest first, with who finalised them (the scheduler, or staff by command)."""
    query = select(Competition).where(Competition.finalised_at.is_not(None))
    if course is not None:
        query = query.where(Competition.course_id == course.id)
    items = []
    for comp in session.scalars(query):
        by = session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "competition.finalise",
                                                          AuditEvent.target == comp.public_id)
                            .order_by(AuditEvent.at.desc()).limit(1))
        late = last_late(session, comp)
        items.append(Finalisation(comp.id, comp.public_id, comp.title, comp.course.slug, late, comp.finalised_at,
                                  finalised_at=comp.finalised_at, finalised_by=by))
    return sorted(items, key=lambda f: (f.finalised_at, f.competition), reverse=True)


def report(session: Session, course: Course | None = None, grace: float | None = None) -> SchedulerReport:
    """Everything the staff page and `podium jobs` show; with `course`, its competitions and scoring queue only."""
    lease = leases.holder_of(session, DEADLINE_LEASE)
    query = select(Submission.status, func.count()).where(Submission.status.in_([Status.queued, Status.scoring]))
    if course is not None:
        query = query.join(Competition).where(Competition.course_id == course.id)
    counts = dict(session.execute(query.group_by(Submission.status)).all())
    return SchedulerReport(upcoming=upcoming(session, grace, course), past=past(session, course),
                    scheduler=lease.holder if lease else None, scheduler_until=lease.lease_until if lease else None,
                    queued=counts.get(Status.queued, 0), scoring=counts.get(Status.scoring, 0))


def _when(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M:%S} UTC"


def lines(report: SchedulerReport) -> list[str]:
    """The report as plain text (`podium jobs`)."""
    out = ["upcoming finalisations:"]
    for item in report.upcoming:
        waiting = f"; waiting for {item.unscored} submission(s) to be scored" if item.unscored else ""
        out.append(f"  {item.competition}\t{_when(item.due_at)}\t(late {_when(item.late)} + grace{waiting})")
        if item.held:
            out.append(f"    not finalised: {item.held}")
    if not report.upcoming:
        out.append("  none")
    out.append("past finalisations:")
    for item in report.past:
        out.append(f"  {item.competition}\tfinalised {_when(item.finalised_at)}\tby {item.finalised_by or 'unknown'}")
    if not report.past:
        out.append("  none")
    if report.scheduler:
        out.append(f"deadline scheduler: {report.scheduler} (lease until {_when(report.scheduler_until)})")
    else:
        out.append("deadline scheduler: not running (no process holds its lease)")
    out.append(f"scoring queue: {report.queued} queued, {report.scoring} being scored")
    return out
