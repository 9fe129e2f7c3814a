"""LTI Assignment and Grade Services: the final grades of a linked course in its LMS gradebook (issue 15, point 4).

What leaves is what the Canvas export writes (podium.services.export: `leaves_podium`, `lms_gradebook`,
`lms_grade`): only competitions released and closed for every student, extensions included (POLICY.md section
11), each student's grade as the students read it, a student with nothing counted at a real 0, and nothing for a
competition without grades. Each competition is one column of the LMS gradebook (an AGS line item), found by its
tag, the competition's public id, or made with that tag.

How a grade travels:
- `queue` compares each grade that leaves with the `LtiGrade` row of that student and competition: a new or changed
  grade makes the row wait (pending); the same grade leaves it as it is. A student the platform cannot be told
  about (no `LtiIdentity` there: never launched from the LMS, not in a synced roster) gets a failed row saying so,
  so that staff see who is missing rather than a student silently left out.
- `queue_due`, the scheduler's cheap check, queues a competition when it first leaves Podium (released, or its last
  extension ended) and again when something its grades depend on changed since it was last checked: a regrade or a
  release through the slack chain (`GradeChange` rows, podium.services.regrades), a student enrolled, a student
  linked to the platform. So grades go out "when the competition is released" and after every regrade, without a
  hook in the code that releases or regrades.
- `send_due` claims waiting rows with conditional updates (as the outbox does for mail: two senders never send one
  grade twice, and a crashed sender's claim lapses), talks to the platforms with no transaction open, and records
  each outcome: sent; tried again after a wait that doubles from a minute to an hour while the platform does not
  answer; failed at once when the platform refuses it for good (with the platform's words), or after its last
  attempt. A grade whose competition no longer leaves Podium when its turn comes (an extension granted after it was
  queued opened the competition again) is not sent: it waits, saying why, until the competition closes. One audit
  event per pass and linked course lists what was sent and what failed.
- `push` is `podium grades push COURSE` and the staff page's "Send now": queue (failed grades again too), send now.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from podium.config import JobSettings
from podium.db import Database
from podium.domain import Role, utcnow
from podium.errors import PodiumError
from podium.models import (
    Competition,
    Course,
    Enrolment,
    GradeChange,
    LtiContext,
    LtiGrade,
    LtiIdentity,
    LtiLineItem,
    LtiPlatform,
    MailState,
    User,
)
from podium.services import audit, courses, export, leases, lti
from podium.services.lti_tool import PlatformInfo, PlatformUnreachable, ServiceRefused, Tool, SCORE_SCOPE
from podium.services.outbox import wait_after
from podium.services.rule_values import in_course_order, last_deadline

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = MailState.PENDING, MailState.SENT, MailState.FAILED
NO_IDENTITY = ("no LMS identity: the student has not opened Podium from the LMS and the roster has not been "
               "synced")
COMMENT = "Final grade in Podium"
SCHEDULER = "scheduler"
# Grades claimed per transaction. A claim must outlast the sending of its batch, or a second sender could take the
# grades over while the first still sends them: each grade is one request and each competition one or two (find or
# make its column), each request giving up after lti_tool.NETWORK_TIMEOUT_SECONDS (10 s) without a word and
# reading its answer for lti_tool.RESPONSE_SECONDS (10 s) at most, so a batch of 20 takes about 60 requests, 10
# minutes at worst, against a claim of 15 (a gradebook whose columns come in many pages takes longer).
BATCH = 20
CLAIM = timedelta(minutes=15)
HELD_LOOK = timedelta(hours=1)  # a grade held back at sending looks again at its competition's close, or this soon
# Why a grade waits (LtiGrade.reason): what made it differ from what the gradebook was sent.
RELEASED, CHANGED, NEW_IN_LMS, PUSHED, RESENT = "released", "changed", "new student", "push", "resend"


# --- which grades leave, and queueing them -------------------------------------------------------------------


def has_gradebook(context: LtiContext) -> bool:
    """The LMS told Podium where its gradebook is and let it post scores there (the launch's AGS claim)."""
    return bool(context.lineitems_url) and SCORE_SCOPE in (context.ags_scopes or [])


def gradebook_contexts(session: Session, course: Course | None = None) -> list[LtiContext]:
    """The linked LMS courses (of `course`, or all) whose gradebook Podium may post to."""
    query = select(LtiContext).order_by(LtiContext.id)
    if course is not None:
        query = query.where(LtiContext.course_id == course.id)
    return [c for c in session.scalars(query) if has_gradebook(c)]


def leaving(session: Session, course: Course, now: datetime) -> list[Competition]:
    """The course's competitions whose grades leave Podium now, in course order."""
    return [c for c in in_course_order(course.competitions) if export.leaves_podium(session, c, now)]


def queue(session: Session, context: LtiContext, *, reason: str, now: datetime | None = None,
          competitions: list[Competition] | None = None, resend: bool = False, retry: bool = False) -> int:
    """Make every grade of the linked course that leaves Podium and differs from what the gradebook was sent wait
    to be sent; returns how many rows became pending. `competitions` narrows it (those not leaving are skipped
    all the same). `resend`: every grade waits, even one sent already. `retry` (a push): failed grades wait again
    with fresh attempts, and those waiting out a back-off are due now."""
    now = now or utcnow()
    # The instant of the comparison, read before the grades are: a regrade committed while they are read has a
    # later `GradeChange.at`, so `queue_due` looks again. It is the real clock, not `now` (the instant that decides
    # what leaves, which a test may move ahead).
    checked = utcnow()
    course = context.course
    wanted = None if competitions is None else {c.id for c in competitions}
    comps = [c for c in leaving(session, course, now) if wanted is None or c.id in wanted]
    if not comps:
        return 0
    reports = export.lms_gradebook(session, course)
    subjects = _subjects(session, context.platform_id, [r.user.id for r in reports])
    rows = {(row.competition_id, row.user_id): row for row in session.scalars(
        select(LtiGrade).where(LtiGrade.context_id == context.id,
                               LtiGrade.competition_id.in_([c.id for c in comps])))}
    pending = 0
    for comp in comps:
        for report in reports:
            score = export.lms_grade(report.row(comp).grade)
            if score is None:
                continue  # no grade: the gradebook's cell is left as it is, as in the Canvas export
            row = rows.get((comp.id, report.user.id))
            if row is None:
                row = LtiGrade(context_id=context.id, competition_id=comp.id, user_id=report.user.id, score=score,
                               state=PENDING, attempts=0, last_error="", reason=reason, queued_at=now,
                               next_attempt_at=now)
                session.add(row)
            pending += _compare(row, score, new=row.id is None, linked=report.user.id in subjects, reason=reason,
                                now=now, resend=resend, retry=retry)
    _mark_checked(session, context, comps, checked)
    session.flush()
    return pending


def _compare(row: LtiGrade, score: float, *, new: bool, linked: bool, reason: str, now: datetime, resend: bool,
             retry: bool) -> bool:
    """Bring one student's row up to the grade that leaves Podium; True when it became pending."""
    if not linked:
        # Nothing can name the student to the platform: the row says so (a grade sent before stays as it was).
        if new or not (row.state == SENT and row.sent_score == score):
            _no_identity(row, score, now)
        return False
    if new:
        return True
    if not _should_wait(row, score, resend=resend, retry=retry):
        return False
    already = row.state == PENDING and row.score == score
    _wait(row, score, reason, now, keep_attempts=row.state == PENDING and not retry)
    return not already


def _should_wait(row: LtiGrade, score: float, *, resend: bool, retry: bool) -> bool:
    if row.score != score or resend:
        return True
    if row.state == FAILED:
        # A student linked since (a launch, a roster sync) is sent now; a grade the platform refused waits for
        # staff to ask again (`podium grades push`, "Send now"), not for every pass of the scheduler.
        return row.last_error == NO_IDENTITY or retry
    return row.state == PENDING and retry  # due now rather than after its back-off


def _wait(row: LtiGrade, score: float, reason: str, now: datetime, *, keep_attempts: bool) -> None:
    row.score, row.reason, row.state, row.last_error = score, reason, PENDING, ""
    row.queued_at, row.next_attempt_at = now, now
    if not keep_attempts:
        row.attempts = 0
    # A sender still holding the row sends the old grade; its outcome is then not recorded (the claim is gone), and
    # the new grade goes on a later pass, its timestamp after the old one's.
    row.claimed_by, row.claimed_until = None, None


def _no_identity(row: LtiGrade, score: float, now: datetime) -> None:
    if row.state == FAILED and row.last_error == NO_IDENTITY and row.score == score:
        return
    row.score, row.state, row.last_error, row.queued_at = score, FAILED, NO_IDENTITY, now
    row.claimed_by, row.claimed_until = None, None


def _subjects(session: Session, platform_id: int, user_ids: list[int]) -> dict[int, str]:
    """Each user's id at the platform (`sub`), the only name an AGS score may give a student; the latest link when
    there are several."""
    if not user_ids:
        return {}
    rows = session.execute(select(LtiIdentity.user_id, LtiIdentity.subject)
                           .where(LtiIdentity.platform_id == platform_id, LtiIdentity.user_id.in_(user_ids))
                           .order_by(LtiIdentity.id)).all()
    return dict(rows)


def _line_item(session: Session, context_id: int, competition_id: int) -> LtiLineItem:
    item = session.scalar(select(LtiLineItem).where(LtiLineItem.context_id == context_id,
                                                    LtiLineItem.competition_id == competition_id))
    if item is None:
        item = LtiLineItem(context_id=context_id, competition_id=competition_id)
        session.add(item)
    return item


def _mark_checked(session: Session, context: LtiContext, comps: list[Competition], checked: datetime) -> None:
    for comp in comps:
        _line_item(session, context.id, comp.id).checked_at = checked


def queue_due(db: Database, now: datetime | None = None) -> int:
    """The scheduler's check, in a unit of work per linked course: queue the competitions that leave Podium and
    were never checked, or whose grades may have changed since (see the module's notes); how many grades wait.
    Grades are computed only for those."""
    now = now or utcnow()
    with db.session() as session:
        contexts = [c.id for c in gradebook_contexts(session)]
    queued = 0
    for context_id in contexts:
        try:
            with db.session() as session:
                context = session.get(LtiContext, context_id)
                if context is None:
                    continue
                for reason, comps in _due(session, context, now).items():
                    queued += queue(session, context, reason=reason, now=now, competitions=comps)
        except Exception:  # one course's trouble must not hold back the others
            log.exception("queueing the LMS grades of linked course %s failed", context_id)
    return queued


def _due(session: Session, context: LtiContext, now: datetime) -> dict[str, list[Competition]]:
    """The competitions of the linked course to compare again, by why."""
    due: dict[str, list[Competition]] = {}
    items = {item.competition_id: item for item in session.scalars(
        select(LtiLineItem).where(LtiLineItem.context_id == context.id))}
    joined: dict[datetime, bool] = {}  # by the instant checked: the competitions checked together share it
    for comp in leaving(session, context.course, now):
        item = items.get(comp.id)
        checked = item.checked_at if item is not None else None
        if checked is None:
            due.setdefault(RELEASED, []).append(comp)
        elif _regraded_since(session, comp, checked):
            due.setdefault(CHANGED, []).append(comp)
        else:
            if checked not in joined:
                joined[checked] = _joined_since(session, context, checked)
            if joined[checked]:
                due.setdefault(NEW_IN_LMS, []).append(comp)
    return due


def _regraded_since(session: Session, comp: Competition, checked: datetime) -> bool:
    return session.scalar(select(exists().where(GradeChange.competition_id == comp.id,
                                                GradeChange.at > checked)))


def _joined_since(session: Session, context: LtiContext, checked: datetime) -> bool:
    """A student enrolled, or linked to the platform, since `checked`: they may have a grade to send now."""
    students = select(Enrolment.user_id).where(Enrolment.course_id == context.course_id,
                                               Enrolment.role == Role.student)
    enrolled = exists().where(Enrolment.course_id == context.course_id, Enrolment.role == Role.student,
                              Enrolment.created_at > checked)
    linked = exists().where(LtiIdentity.platform_id == context.platform_id, LtiIdentity.linked_at > checked,
                            LtiIdentity.user_id.in_(students))
    return session.scalar(select(or_(enrolled, linked)))


# --- sending -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeOutcome:
    """One grade in a report: whose, where, the score, and what went wrong (empty when nothing did)."""

    context_id: int
    course_id: int
    competition: str  # public id
    email: str
    score: float
    error: str = ""

    def line(self) -> str:
        text = f"{self.email} in {self.competition}: {self.score:g}"
        return f"{text}: {self.error}" if self.error else text

    def as_detail(self) -> dict:
        detail = {"email": self.email, "competition": self.competition, "score": self.score}
        return {**detail, "error": self.error} if self.error else detail


@dataclass
class SendReport:
    """What one pass of `send_due` did."""

    sent: list[GradeOutcome] = field(default_factory=list)
    retrying: list[GradeOutcome] = field(default_factory=list)
    failed: list[GradeOutcome] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)


@dataclass(frozen=True)
class Outgoing:
    """A claimed grade, detached from any session, as the sender needs it."""

    id: int
    context_id: int
    course_id: int
    platform: PlatformInfo
    lineitems_url: str
    scopes: tuple[str, ...]
    competition_id: int
    competition: str  # public id: the column's tag and resource id
    title: str
    email: str
    subject: str | None
    score: float

    def outcome(self, error: Exception | None) -> GradeOutcome:
        return GradeOutcome(self.context_id, self.course_id, self.competition, self.email, self.score,
                            "" if error is None else str(error))


def send_due(db: Database, tool: Tool, *, attempts: int, worker: str, now: datetime | None = None,
             contexts: list[int] | None = None, actor: str = SCHEDULER) -> SendReport:
    """One pass: claim the grades due (of `contexts`, or all) in batches, send each batch with no transaction open,
    record each outcome; then one audit event per linked course it sent to (by `actor`)."""
    now = now or utcnow()
    report = SendReport()
    while True:
        with db.session() as session:
            batch = _claim(session, worker, now, contexts)
        if not batch:
            break
        outcomes, urls = _send(tool, batch, now)
        with db.session() as session:
            for (context_id, competition_id), url in urls.items():
                _line_item(session, context_id, competition_id).url = url
            for item in batch:
                _record(session, item, worker, outcomes.get(item.id, PlatformUnreachable("not attempted")), attempts,
                        now, report)
    if report.anything:
        with db.session() as session:
            _audit(session, report, actor)
    return report


def anything_due(db: Database, now: datetime | None = None) -> bool:
    """A grade waits and its time has come (a cheap look before a pass)."""
    now = now or utcnow()
    with db.session() as session:
        return session.scalar(select(exists().where(LtiGrade.state == PENDING, LtiGrade.next_attempt_at <= now)))


def _claim(session: Session, worker: str, now: datetime, contexts: list[int] | None) -> list[Outgoing]:
    """Claim up to BATCH due grades for `worker`, each by a conditional update, so that two senders never send one
    grade twice."""
    free = or_(LtiGrade.claimed_until.is_(None), LtiGrade.claimed_until < now)
    query = select(LtiGrade.id, LtiGrade.competition_id).where(LtiGrade.state == PENDING,
                                                               LtiGrade.next_attempt_at <= now, free)
    if contexts is not None:
        query = query.where(LtiGrade.context_id.in_(contexts))
    while True:
        rows = session.execute(query.order_by(LtiGrade.next_attempt_at, LtiGrade.id).limit(BATCH)).all()
        held = _hold_back(session, rows, now, free)
        due = [grade_id for grade_id, competition_id in rows if competition_id not in held]
        if due or not held:
            break  # (the grades held back are due later: the next look finds others, or none)
    claimed = [grade_id for grade_id in due if session.execute(
        update(LtiGrade).where(LtiGrade.id == grade_id, LtiGrade.state == PENDING, free)
        .values(claimed_by=worker, claimed_until=now + CLAIM)).rowcount]
    if not claimed:
        return []
    rows = session.execute(
        select(LtiGrade, LtiContext, Competition, User)
        .join(LtiContext, LtiContext.id == LtiGrade.context_id)
        .join(Competition, Competition.id == LtiGrade.competition_id)
        .join(User, User.id == LtiGrade.user_id)
        .where(LtiGrade.id.in_(claimed))
        .order_by(LtiGrade.context_id, LtiGrade.competition_id, LtiGrade.id)).all()
    platforms = {p.id: p for p in session.scalars(select(LtiPlatform).where(
        LtiPlatform.id.in_({context.platform_id for _, context, _, _ in rows})))}
    subjects: dict[tuple[int, int], str] = {}
    for platform_id in platforms:
        users = [grade.user_id for grade, context, _, _ in rows if context.platform_id == platform_id]
        subjects.update({(platform_id, user_id): subject
                         for user_id, subject in _subjects(session, platform_id, users).items()})
    return [Outgoing(id=grade.id, context_id=context.id, course_id=context.course_id,
                     platform=lti.info(platforms[context.platform_id]), lineitems_url=context.lineitems_url or "",
                     scopes=tuple(context.ags_scopes or ()), competition_id=comp.id, competition=comp.public_id,
                     title=comp.title, email=user.email, subject=subjects.get((context.platform_id, user.id)),
                     score=grade.score)
            for grade, context, comp, user in rows]


def _hold_back(session: Session, rows, now: datetime, free) -> set[int]:
    """The competitions of these waiting grades that no longer leave Podium (an extension opened one again after
    its grades were queued): their grades wait, saying why, until it closes (looked at again within the hour).
    POLICY.md section 11 holds when a grade is sent, not only when it was queued."""
    held = set()
    for competition_id in sorted({competition_id for _, competition_id in rows}):
        comp = session.get(Competition, competition_id)
        if export.leaves_podium(session, comp, now):
            continue
        held.add(competition_id)
        until = min(last_deadline(session, comp), now + HELD_LOOK) + timedelta(seconds=1)
        session.execute(update(LtiGrade).where(LtiGrade.id.in_([g for g, c in rows if c == competition_id]),
                                               LtiGrade.state == PENDING, free)
                        .values(next_attempt_at=max(until, now + timedelta(seconds=1)),
                                last_error=f"held in Podium: {export.held_reason(session, comp, now)}"))
    return held


def _send(tool: Tool, batch: list[Outgoing], now: datetime
          ) -> tuple[dict[int, Exception | None], dict[tuple[int, int], str]]:
    """Each grade's outcome (None: the platform took it), and each column's address as the platform gave it. A
    platform that does not answer is not asked again in this pass: its other grades wait with the same error."""
    outcomes: dict[int, Exception | None] = {}
    urls: dict[tuple[int, int], str] = {}
    clients = {}
    down: dict[int, Exception] = {}  # platform id -> why it is taken to be down
    try:
        for (context_id, competition_id), group in groupby(batch, key=lambda o: (o.context_id, o.competition_id)):
            items = list(group)
            first = items[0]
            platform = first.platform.id
            if platform in down:
                outcomes.update({item.id: down[platform] for item in items})
                continue
            client = clients.get(platform) or clients.setdefault(platform, tool.client(first.platform))
            try:
                url = client.line_item(first.lineitems_url, first.scopes, tag=first.competition, label=first.title,
                                       resource_id=first.competition, maximum=lti.GRADE_MAXIMUM)
            except PlatformUnreachable as exc:
                down[platform] = exc
                outcomes.update({item.id: exc for item in items})
                continue
            except ServiceRefused as exc:
                outcomes.update({item.id: exc for item in items})
                continue
            urls[(context_id, competition_id)] = url
            for item in items:
                if platform in down:
                    outcomes[item.id] = down[platform]
                    continue
                outcomes[item.id] = error = _post(client, url, item, now)
                if isinstance(error, PlatformUnreachable):
                    down[platform] = error
    except Exception as exc:  # noqa: BLE001 - what was sent is recorded as sent; the rest is tried again
        broken = PlatformUnreachable(f"sending broke off ({type(exc).__name__}: {exc})")
        for item in batch:
            outcomes.setdefault(item.id, broken)
        log.exception("sending grades to an LMS broke off")
    return outcomes, urls


def _post(client, url: str, item: Outgoing, now: datetime) -> Exception | None:
    if item.subject is None:
        return ServiceRefused(NO_IDENTITY)
    try:
        client.post_score(url, item.scopes, subject=item.subject, score=item.score, maximum=lti.GRADE_MAXIMUM,
                          comment=COMMENT, at=now)
    except (PlatformUnreachable, ServiceRefused) as exc:
        return exc
    return None


def _record(session: Session, item: Outgoing, worker: str, error: Exception | None, attempts: int, now: datetime,
            report: SendReport) -> None:
    row = session.get(LtiGrade, item.id)
    if row is None or row.claimed_by != worker or row.state != PENDING:
        return  # gone with its course, queued again meanwhile, or the claim lapsed and another sender owns it
    row.attempts += 1
    row.claimed_by, row.claimed_until = None, None
    if error is None:
        row.state, row.sent_score, row.sent_at, row.last_error = SENT, item.score, now, ""
        report.sent.append(item.outcome(None))
    elif isinstance(error, ServiceRefused) or row.attempts >= attempts:
        row.state, row.last_error = FAILED, str(error)
        report.failed.append(item.outcome(error))
    else:
        row.last_error = str(error)
        row.next_attempt_at = now + wait_after(row.attempts)
        report.retrying.append(item.outcome(error))


def _audit(session: Session, report: SendReport, actor: str) -> None:
    """One event per linked course: each grade sent, each that failed, each to be tried again, with why."""
    contexts: dict[int, tuple[int, dict[str, list]]] = {}
    for kind, outcomes in (("sent", report.sent), ("failed", report.failed), ("retrying", report.retrying)):
        for outcome in outcomes:
            _, lists = contexts.setdefault(outcome.context_id, (outcome.course_id, {}))
            lists.setdefault(kind, []).append(outcome.as_detail())
    for context_id, (course_id, lists) in contexts.items():
        context = session.get(LtiContext, context_id)
        audit.record(session, actor, "lti.grades_sent", course_id=course_id,
                     target=context.context_id if context is not None else str(context_id), **lists)


# --- a push, for the command and the staff page --------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A competition whose grades stay in Podium for now, and why (in the Canvas export's words)."""

    competition: str  # public id
    title: str
    why: str


@dataclass
class PushReport:
    course: str
    queued: int
    sent: list[GradeOutcome]
    retrying: list[GradeOutcome]
    failed: list[GradeOutcome]  # refused, out of attempts, or no LMS identity
    held: list[Held]

    @property
    def ok(self) -> bool:
        return not (self.failed or self.retrying)

    def summary(self) -> str:
        return (f"{self.course}: {len(self.sent)} grade{'' if len(self.sent) == 1 else 's'} sent, "
                f"{len(self.failed)} failed, {len(self.retrying)} to try again, {len(self.held)} "
                f"competition{'' if len(self.held) == 1 else 's'} held back")


def push(db: Database, tool: Tool, course: str, *, actor: str, resend: bool = False,
         attempts: int = JobSettings.lti_push_attempts, now: datetime | None = None) -> PushReport:
    """Send the course's grades that leave Podium now: those never sent or changed, failed ones again (fresh
    attempts), all of them with `resend`; audited with `actor`. `course` is the slug."""
    now = now or utcnow()
    with db.session() as session:
        found = courses.get_course(session, course)
        contexts = gradebook_contexts(session, found)
        if not contexts:
            raise PodiumError(f"Course {found.slug} is linked to no LMS course whose gradebook Podium may post to: "
                              "an instructor opens Podium once from the LMS course, with the tool allowed to post "
                              "grades there, and then the grades can be sent.", code=409)
        queued = sum(queue(session, context, reason=RESENT if resend else PUSHED, now=now, resend=resend,
                           retry=True) for context in contexts)
        held = held_back(session, found, now)
        ids = [c.id for c in contexts]
        audit.record(session, actor, "lti.grades_push", course_id=found.id, target=found.slug, resend=resend,
                     queued=queued, held=[h.competition for h in held])
        slug = found.slug
    done = send_due(db, tool, attempts=attempts, worker=f"push {leases.this_process()}", now=now, contexts=ids,
                    actor=actor)
    with db.session() as session:
        failed = {(o.context_id, o.competition, o.email) for o in done.failed}
        unlinked = [o for o in _unlinked(session, ids) if (o.context_id, o.competition, o.email) not in failed]
    return PushReport(slug, queued, done.sent, done.retrying, done.failed + unlinked, held)


def _unlinked(session: Session, contexts: list[int]) -> list[GradeOutcome]:
    rows = session.execute(select(LtiGrade, LtiContext, Competition, User)
                           .join(LtiContext, LtiContext.id == LtiGrade.context_id)
                           .join(Competition, Competition.id == LtiGrade.competition_id)
                           .join(User, User.id == LtiGrade.user_id)
                           .where(LtiGrade.context_id.in_(contexts), LtiGrade.state == FAILED,
                                  LtiGrade.last_error == NO_IDENTITY)
                           .order_by(LtiGrade.competition_id, User.email)).all()
    return [GradeOutcome(context.id, context.course_id, comp.public_id, user.email, grade.score, NO_IDENTITY)
            for grade, context, comp, user in rows]


def held_back(session: Session, course: Course, now: datetime) -> list[Held]:
    return [Held(c.public_id, c.title, export.held_reason(session, c, now))
            for c in in_course_order(course.competitions) if not export.leaves_podium(session, c, now)]


# --- the staff page ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeLine:
    competition: str  # public id
    title: str
    email: str
    name: str
    score: float
    state: str  # pending, sent, failed
    attempts: int
    sent_score: float | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str

    @property
    def changed_since_sent(self) -> bool:
        return self.sent_score is not None and self.sent_score != self.score


@dataclass(frozen=True)
class Listing:
    """What the staff page shows: the linked LMS courses, every grade row (failed first, then waiting, then sent),
    and the competitions held back with why."""

    linked: list[str]  # the linked LMS courses' titles (or ids)
    with_gradebook: bool
    lines: list[GradeLine]
    held: list[Held]

    @property
    def counts(self) -> dict[str, int]:
        counts = {PENDING: 0, SENT: 0, FAILED: 0}
        for line in self.lines:
            counts[line.state] = counts.get(line.state, 0) + 1
        return counts


STATE_ORDER = {FAILED: 0, PENDING: 1, SENT: 2}


def linked(session: Session, course: Course) -> bool:
    """The course is linked to an LMS course (the staff navigation shows "LMS grades")."""
    return session.scalar(select(exists().where(LtiContext.course_id == course.id)))


def listing(session: Session, course: Course, *, now: datetime | None = None) -> Listing:
    now = now or utcnow()
    contexts = lti.context_of_course(session, course)
    order = {c.id: i for i, c in enumerate(in_course_order(course.competitions))}
    rows = session.execute(select(LtiGrade, Competition, User)
                           .join(Competition, Competition.id == LtiGrade.competition_id)
                           .join(User, User.id == LtiGrade.user_id)
                           .where(LtiGrade.context_id.in_([c.id for c in contexts]))).all()
    rows = sorted(rows, key=lambda r: (STATE_ORDER.get(r[0].state, 3), order.get(r[1].id, len(order)), r[2].email,
                                       r[0].context_id))
    lines = [GradeLine(comp.public_id, comp.title, user.email, user.name, grade.score, grade.state, grade.attempts,
                       grade.sent_score, grade.sent_at, grade.next_attempt_at if grade.state == PENDING else None,
                       grade.last_error)
             for grade, comp, user in rows]
    return Listing(linked=[c.title or c.context_id for c in contexts],
                   with_gradebook=any(has_gradebook(c) for c in contexts), lines=lines,
                   held=held_back(session, course, now))
