"""What the scheduler will do and has done, for staff: finalisations to come and past ones, releases waiting, read
from the database; and when a competition's private board may be released (`release_readiness`).

A competition is finalised `PODIUM_FINALISE_GRACE_SECONDS` (default 300) after its last late deadline, the latest
of the competition's own and those moved by active extensions: a student with an extension may still submit
until then, and the position cutoffs must be read off the board that includes those submissions. The grace lets
the scoring queue drain; when it has not drained by then (a backlog after an outage), finalisation waits for it,
at most `MAX_DRAIN_WAIT` longer. A competition whose position cutoffs give no values on its final board is not
finalised (POLICY.md section 11): the scheduler records why (`competitions.hold_finalisation`), and this report shows
it beside the competition until it is finalised.

Release follows the same deadline (POLICY.md section 11): it is meant for after the last effective late deadline,
once every upload received by then is scored. A competition set to release by itself at finalisation whose uploads
are still unscored then waits, listed in the report, and is released by a later pass of the scheduler once they
are scored; it is never released early by itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium import rules
from podium.config import JobSettings
from podium.models import AuditEvent, Competition, Course, Status, Submission, User, utcnow
from podium.services import leases
from podium.services.rule_values import code_required, extended_lates, last_code_deadline, last_deadline, last_late

# The audit action that records why the scheduler could not finalise a competition (competitions.hold_finalisation).
FINALISE_HELD = "competition.finalise_held"

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
    late: datetime  # the last late deadline, extensions included (or code deadline, when code is required and later)
    due_at: datetime  # when the scheduler finalises it
    finalised_at: datetime | None = None
    finalised_by: str | None = None
    unscored: int = 0  # submissions still queued or being scored
    held: str | None = None  # why the scheduler could not finalise it since it was due


@dataclass(frozen=True)
class ReleaseReadiness:
    """Whether a competition's private board may be released now without an override (POLICY.md section 11), and
    if not, what to wait for."""

    now: datetime
    late: datetime  # the competition's own late deadline
    last_late: datetime  # the last effective late deadline, extensions included
    extended: tuple[tuple[str, datetime], ...]  # (email, late deadline) of students whose extension is still open
    unscored: int  # uploads received by then (not practice) still queued or being scored
    # The last code deadline when the competition requires code (POLICY.md section 12): grades wait for it too.
    code_until: datetime | None = None

    @property
    def code_open(self) -> bool:
        return self.code_until is not None and self.now <= self.code_until

    @property
    def window_open(self) -> bool:
        return self.now <= self.last_late or self.code_open  # deadlines are inclusive

    @property
    def ready(self) -> bool:
        return not self.window_open and not self.unscored

    def reasons(self, tz: str) -> list[str]:
        """Why it is not ready, in words for staff (empty when ready)."""
        out = []
        if self.now <= self.late:
            extra = (f" (and for {_students(len(self.extended))} with an extension until "
                     f"{rules.format_local(self.last_late, tz)})" if self.last_late > self.late else "")
            out.append(f"the late window is open until {rules.format_local(self.late, tz)}{extra}")
        elif self.window_open:
            named = ", ".join(f"{email} until {rules.format_local(late, tz)}" for email, late in self.extended)
            out.append(f"the late window of {_students(len(self.extended))} with an extension is still open "
                       f"({named})")
        if self.code_open:
            out.append(f"code is due until {rules.format_local(self.code_until, tz)}, and a missing upload can "
                       "still change grades")
        if self.unscored:
            out.append(f"{self.unscored} upload{'s' if self.unscored != 1 else ''} received by then "
                       f"{'are' if self.unscored != 1 else 'is'} not scored yet")
        return out

    def wait_for(self, tz: str) -> str:
        """What to wait for, as the end of a sentence ("wait ...")."""
        parts = []
        if self.window_open:
            until = max(self.last_late, self.code_until) if self.code_open else self.last_late
            parts.append(f"until {rules.format_local(until, tz)}")
        if self.unscored:
            parts.append(f"{'and ' if parts else ''}until every upload received by then is scored (the scoring "
                         "queue is on the jobs page)")
        return " ".join(parts)


def release_readiness(session: Session, comp: Competition, now: datetime | None = None) -> ReleaseReadiness:
    """The one rule of when a release needs no override, for staff by hand and for the scheduler alike."""
    now = now or utcnow()
    extended = extended_lates(session, comp)
    still_open = {user_id: late for user_id, late in extended.items() if late >= now and late > comp.late}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(still_open))).all()) if still_open \
        else {}
    return ReleaseReadiness(
        now=now, late=comp.late, last_late=max([comp.late, *extended.values()]),
        extended=tuple(sorted(((emails[u], late) for u, late in still_open.items()), key=lambda e: (e[1], e[0]))),
        unscored=_unscored(session, [comp.id]).get(comp.id, 0),
        code_until=last_code_deadline(session, comp) if code_required(comp) else None)


@dataclass(frozen=True)
class WaitingRelease:
    """A finalised competition set to release by itself, not released yet: what it waits for."""

    competition_id: int
    competition: str  # public id
    title: str
    course: str
    reasons: tuple[str, ...]


def waiting_releases(session: Session, course: Course | None = None, *, now: datetime | None = None
                     ) -> list[WaitingRelease]:
    """Competitions finalised with `auto_release` whose board is not released yet (they wait for uploads to be
    scored, or for an extension's window to close), by public id."""
    query = select(Competition).where(Competition.finalised_at.is_not(None), Competition.released_at.is_(None),
                                      Competition.auto_release.is_(True))
    if course is not None:
        query = query.where(Competition.course_id == course.id)
    items = []
    for comp in session.scalars(query):
        readiness = release_readiness(session, comp, now)
        items.append(WaitingRelease(comp.id, comp.public_id, comp.title, comp.course.slug,
                                    tuple(readiness.reasons(comp.course.timezone))))
    return sorted(items, key=lambda w: w.competition)


@dataclass(frozen=True)
class SchedulerReport:
    upcoming: list[Finalisation]  # soonest first
    past: list[Finalisation]  # latest first
    scheduler: str | None  # the process running the deadline loop, when one holds its lease
    scheduler_until: datetime | None
    queued: int
    scoring: int
    releases_waiting: list[WaitingRelease] = field(default_factory=list)


def due_at(session: Session, comp: Competition, grace: float | None = None) -> datetime:
    return last_deadline(session, comp) + timedelta(seconds=grace_seconds() if grace is None else grace)


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
        late = last_deadline(session, comp)
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
                    queued=counts.get(Status.queued, 0), scoring=counts.get(Status.scoring, 0),
                    releases_waiting=waiting_releases(session, course))


def _when(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M:%S} UTC"


def _students(n: int) -> str:
    return "1 student" if n == 1 else f"{n} students"


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
    if report.releases_waiting:
        out.append("releases waiting (set to release at finalisation):")
        for item in report.releases_waiting:
            out.append(f"  {item.competition}\twaiting: {'; '.join(item.reasons)}")
    if report.scheduler:
        out.append(f"deadline scheduler: {report.scheduler} (lease until {_when(report.scheduler_until)})")
    else:
        out.append("deadline scheduler: not running (no process holds its lease)")
    out.append(f"scoring queue: {report.queued} queued, {report.scoring} being scored")
    return out
