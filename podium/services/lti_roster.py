"""LTI Names and Roles Provisioning: a linked course's roster kept as the LMS has it (`podium lti sync`, and the
scheduler every PODIUM_LTI_SYNC_SECONDS).

What a sync does, for one Podium course:
- It reads the roster of every LMS course linked to it (usually one; several sections may be linked to one course),
  with no transaction open, then changes people one at a time, each in a unit of work of its own, so that a change
  held back rolls back nothing else.
- Active members with a Podium role (podium.services.lti_tool.course_role) are matched as a launch matches them
  (`lti.person`: by the platform's id of them; by email only where the platform is trusted for the domain; a new
  account only where the link allows it) and enrolled with that role, or given it (`lti.apply_role`). A person in
  several linked LMS courses gets the highest of their roles there.
- People of the course the LMS knows (linked to one of these platforms) who are no longer active members (gone,
  Inactive, Deleted, or left with no Podium role) are unenrolled; their account and submissions stay.
- People of the course the LMS does not know (no link to these platforms: enrolled by staff, signed in otherwise)
  are never removed: Podium cannot tell that they are not in the LMS. The report lists them for staff.
- What is held back, as for a launch: the course's last instructor is never removed or demoted, and a change that
  would move a final grade of a finalised or released competition waits unless the sync asks for the regrade
  (then podium.services.regrades audits every grade it changed).
- A roster that cannot be read changes nobody. When only some of the linked LMS courses answer, the sync only adds
  (enrols, raises roles): removing or lowering anyone would go on half the rosters.
Each sync records its time and error on the linked LMS courses and writes one audit event ("lti.roster_sync") with
the counts and the lists.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium.domain import Role, utcnow
from podium.errors import NotFound, PodiumError, escape_controls
from podium.models import Course, Enrolment, LtiContext, LtiIdentity, LtiPlatform, User
from podium.services import audit, invitations, lti, users
from podium.services.lti_tool import MAX_ID_LENGTH, Member, PlatformInfo, Tool

log = logging.getLogger(__name__)

SCHEDULER_ACTOR = "scheduler"
RANK = {Role.student: 0, Role.staff: 1, Role.instructor: 2}  # a person in several linked LMS courses: the highest
# The scheduler's pass comes every PODIUM_LTI_SYNC_SECONDS, a moment after the previous sync it made was recorded:
# a course synced by the previous pass is due at this one, not at the one after.
DUE_SLACK = 0.1


@dataclass(frozen=True)
class Line:
    """One person in a sync's report: who (an email, or how the LMS names a member Podium has no account for) and
    what happened to them, or why not."""

    who: str
    what: str

    def __str__(self) -> str:
        return f"{self.who}: {self.what}" if self.what else self.who

    def as_detail(self) -> dict:
        return {"who": self.who, "what": self.what}


@dataclass
class Source:
    """One linked LMS course and what its roster said (None: it could not be read, `error` says why)."""

    context_id: int
    platform_id: int
    platform: PlatformInfo
    title: str
    memberships_url: str
    create_accounts: bool
    members: list[Member] | None = None
    error: str = ""


@dataclass
class SyncReport:
    course: str  # the Podium course's slug
    lms_courses: list[tuple[str, str]] = field(default_factory=list)  # (title, error or "") of each roster read
    members: int = 0  # members the rosters listed
    enrolled: list[Line] = field(default_factory=list)
    role_changed: list[Line] = field(default_factory=list)
    unenrolled: list[Line] = field(default_factory=list)
    held: list[Line] = field(default_factory=list)
    unmatched: list[Line] = field(default_factory=list)
    not_in_lms: list[Line] = field(default_factory=list)  # enrolled, unknown to the LMS: left as they are
    linked: list[Line] = field(default_factory=list)  # existing accounts linked by a trusted email
    accounts_made: list[Line] = field(default_factory=list)
    needs_regrade: bool = False  # some change is held until a regrade is asked for

    @property
    def errors(self) -> list[str]:
        return [f"{title}: {error}" for title, error in self.lms_courses if error]

    @property
    def changes(self) -> int:
        return len(self.enrolled) + len(self.role_changed) + len(self.unenrolled)

    LISTS = ("enrolled", "role_changed", "unenrolled", "held", "unmatched", "not_in_lms", "linked", "accounts_made")

    def counts(self) -> dict[str, int]:
        return {"members": self.members, **{name: len(getattr(self, name)) for name in self.LISTS}}

    def as_details(self) -> dict:
        return {"lms_courses": [{"title": t, "error": e} for t, e in self.lms_courses], "counts": self.counts(),
                **{name: [line.as_detail() for line in getattr(self, name)] for name in self.LISTS}}


# --- syncing ---------------------------------------------------------------------------------------------------------


def sync(db: Database, tool: Tool, context_row_id: int, *, actor: str, regrade: bool = False,
         now: datetime | None = None) -> SyncReport:
    """Sync the roster of the linked LMS course (LtiContext row id) into its Podium course, read together with the
    rosters of the other LMS courses linked to the same Podium course (see the module's docstring)."""
    with db.session() as session:
        context = session.get(LtiContext, context_row_id)
        if context is None:
            raise NotFound(f"No linked LMS course {context_row_id}; `podium lti contexts COURSE` lists them.")
        course_id = context.course_id
    return sync_course(db, tool, course_id, actor=actor, regrade=regrade, now=now)


def sync_course(db: Database, tool: Tool, course_id: int, *, actor: str, regrade: bool = False,
                now: datetime | None = None) -> SyncReport:
    """Sync the Podium course's roster from every LMS course linked to it; see the module's docstring."""
    with db.session() as session:
        course = session.get(Course, course_id)
        if course is None:
            raise NotFound(f"No course {course_id}.")
        sources = _sources(session, course)
        report = SyncReport(course=course.slug)
    for source in sources:
        _read(tool, source)  # no transaction open while the platform answers
    report.lms_courses = [(s.title, s.error) for s in sources]
    answered = [s for s in sources if s.members is not None]
    if answered:
        _apply(db, course_id, answered, report, complete=len(answered) == len(sources), actor=actor,
               regrade=regrade)
    _record(db, course_id, sources, report, actor=actor, regrade=regrade, now=now or utcnow())
    return report


def sync_due(db: Database, settings: Settings, tool: Tool, now: datetime | None = None) -> list[SyncReport]:
    """The scheduler's pass: sync every course that `due_courses` names. One course's failure does not stop the
    others."""
    now = now or utcnow()
    reports = []
    for course_id in due_courses(db, settings, now):
        try:
            reports.append(sync_course(db, tool, course_id, actor=SCHEDULER_ACTOR, now=now))
        except Exception:  # one course's trouble must not hold back the others; its next pass tries again
            log.exception("syncing the LMS roster of course %s failed", course_id)
    return reports


def due_courses(db: Database, settings: Settings, now: datetime | None = None) -> list[int]:
    """The courses with a linked LMS course (with a roster address) not synced for PODIUM_LTI_SYNC_SECONDS."""
    due_before = (now or utcnow()) - timedelta(seconds=settings.jobs.lti_sync_seconds * (1 - DUE_SLACK))
    with db.session() as session:
        rows = session.execute(select(LtiContext.course_id, LtiContext.synced_at)
                               .where(LtiContext.memberships_url.is_not(None), LtiContext.memberships_url != "")
                               ).all()
    return sorted({course_id for course_id, synced_at in rows if synced_at is None or synced_at <= due_before})


def _sources(session: Session, course: Course) -> list[Source]:
    contexts = lti.context_of_course(session, course)
    if not contexts:
        raise PodiumError(f"{course.slug} is linked to no LMS course: its instructor links it by opening Podium "
                          "once from the LMS course.", code=409)
    sources = [Source(context_id=c.id, platform_id=c.platform_id, platform=lti.info(c.platform),
                      title=c.title or c.context_id, memberships_url=c.memberships_url,
                      create_accounts=c.create_accounts) for c in contexts if c.memberships_url]
    if not sources:
        raise PodiumError(f"The LMS gave Podium no roster address for {course.slug} yet: it sends one with a "
                          "launch when the tool may read course rosters (Canvas: the developer key's Names and "
                          "Roles scope; Moodle: the tool's \"IMS LTI Names and Role Provisioning\" service). Open "
                          "Podium once from the LMS course, then sync again.", code=409)
    return sources


def _read(tool: Tool, source: Source) -> None:
    try:
        source.members = tool.client(source.platform).members(source.memberships_url)
    except PodiumError as exc:
        source.error = exc.message
    except Exception as exc:  # whatever went wrong, this roster changes nobody; the next sync tries again
        log.exception("reading the roster of %s failed", source.title)
        source.error = f"unexpected {type(exc).__name__}: {exc}"


# --- applying what the rosters said ----------------------------------------------------------------------------------


@dataclass
class _Wanted:
    """A person the rosters list as an active member with a role: their highest role there."""

    user_id: int
    email: str
    role: Role


def _apply(db: Database, course_id: int, sources: list[Source], report: SyncReport, *, complete: bool, actor: str,
           regrade: bool) -> None:
    wanted = _matched(db, sources, report)
    with db.session() as session:
        current = {e.user_id: (e.role, e.user.email)
                   for e in session.scalars(select(Enrolment).where(Enrolment.course_id == course_id))}
        known = set(session.scalars(select(LtiIdentity.user_id).where(
            LtiIdentity.platform_id.in_({s.platform_id for s in sources}),
            LtiIdentity.user_id.in_(current.keys()))))
    raises, lowers, removals = [], [], []
    for person in wanted.values():
        before = current.get(person.user_id, (None, ""))[0]
        if before is None or RANK[person.role] > RANK[before]:
            raises.append(person)
        elif person.role != before:
            lowers.append(person)
    for user_id, (role, email) in sorted(current.items(), key=lambda item: item[1][1]):
        if user_id in wanted:
            continue
        if user_id in known:
            removals.append(_Wanted(user_id, email, role))
        else:
            report.not_in_lms.append(Line(email, role.value))
    if not complete:
        # Some roster could not be read: a person missing from those read may be in it.
        why = "left as it is until every linked LMS course's roster can be read"
        report.held += [Line(p.email, f"{current[p.user_id][0].value} -> {p.role.value}: {why}") for p in lowers]
        report.held += [Line(p.email, f"removal: {why}") for p in removals]
        lowers, removals = [], []
    # Raises first, so that an incoming instructor is enrolled before the outgoing one is removed.
    for person in sorted(raises, key=lambda p: p.email) + sorted(lowers, key=lambda p: p.email):
        _change(db, course_id, person.user_id, person.email, person.role, report, actor=actor, regrade=regrade)
    for person in removals:
        _change(db, course_id, person.user_id, person.email, None, report, actor=actor, regrade=regrade)


def _matched(db: Database, sources: list[Source], report: SyncReport) -> dict[int, _Wanted]:
    """The Podium accounts of the rosters' active members with a role (matched, linked or made, each in a unit of
    work of its own), by user id; those that cannot be matched go to the report with the reason."""
    members: dict[tuple[int, str], tuple[Member, Role, bool]] = {}
    for source in sources:
        for member in source.members:
            report.members += 1
            role = member.role
            if not member.active or role is None:
                continue
            key = (source.platform_id, member.subject)
            seen = members.get(key)
            if seen is not None:
                role = max(role, seen[1], key=RANK.get)
            members[key] = (member, role, source.create_accounts or (seen is not None and seen[2]))
    wanted: dict[int, _Wanted] = {}
    for (platform_id, _), (member, role, create) in members.items():
        found = _account(db, platform_id, member, create, report)
        if found is None:
            continue
        user_id, email = found
        seen = wanted.get(user_id)
        if seen is None or RANK[role] > RANK[seen.role]:
            wanted[user_id] = _Wanted(user_id, email, role)
    return wanted


def _account(db: Database, platform_id: int, member: Member, create: bool,
             report: SyncReport) -> tuple[int, str] | None:
    identity = select(LtiIdentity.linked_by).where(LtiIdentity.platform_id == platform_id,
                                                   LtiIdentity.subject == member.subject)
    try:
        with db.session() as session:
            linked_before = session.scalar(identity) is not None
            user = lti.person(session, session.get(LtiPlatform, platform_id), member.subject, member.email,
                              member.name, how="roster", create=create)
            how = None if linked_before else session.scalar(identity)
            found = (user.id, user.email)
    except (PodiumError, IntegrityError) as exc:
        with db.session() as session:
            why = _why_unmatched(session, session.get(LtiPlatform, platform_id), member, create, exc,
                                 course=report.course)
        report.unmatched.append(Line(_named(member), why))
        return None
    if how == "new account":
        report.accounts_made.append(Line(found[1], ""))
    elif how is not None:
        report.linked.append(Line(found[1], f"{member.name or escape_controls(member.subject)} in the LMS"))
    return found


def _why_unmatched(session: Session, platform: LtiPlatform, member: Member, create: bool, exc: Exception, *,
                   course: str) -> str:
    """Why a member has no Podium account to enrol, in the words of staff, with what would change it."""
    if isinstance(exc, IntegrityError):
        return "linked by a launch at the same moment; the next sync enrols them"
    if len(member.subject) > MAX_ID_LENGTH:
        return f"the LMS names them by an id longer than {MAX_ID_LENGTH} characters, which LTI does not allow"
    try:
        email = users.normalise_email(member.email) if member.email else ""
    except PodiumError:
        return f"the LMS gives the address {member.email!r}, which is not an email address"
    trusted = bool(email) and bool(platform.email_domains) and invitations.domain_allows(platform.email_domains,
                                                                                           email)
    if email and not trusted and session.scalar(select(User.id).where(User.email == email)) is not None:
        domains = invitations.describe_domains(platform.email_domains) if platform.email_domains else "no domain"
        return (f"Podium has an account for {email}, but {platform.name} is trusted for {domains}, not for this "
                "address, so it is not linked to it (the operator may trust the platform for the domain: `podium "
                "lti add-platform ... --email-domain DOMAIN`)")
    if not create:
        enrol = ", or enrol them in Podium: the next sync links them" if trusted else ""
        return (f"no Podium account, and accounts are not made for this LMS course (`podium lti create-accounts "
                f"{course} on`{enrol})")
    if not email:
        return "the LMS shares no email address (Canvas: privacy level \"public\"), which a new account needs"
    if not trusted:
        domains = invitations.describe_domains(platform.email_domains) if platform.email_domains else "no domain"
        return (f"no Podium account, and {platform.name} is trusted for {domains}, not for this address, so no "
                "account is made under it (the operator may trust the platform for the domain: `podium lti "
                "add-platform ... --email-domain DOMAIN`)")
    return getattr(exc, "message", str(exc))


def _named(member: Member) -> str:
    return member.email or member.name or f"LMS user {escape_controls(member.subject)}"


def _change(db: Database, course_id: int, user_id: int, email: str, role: Role | None, report: SyncReport, *,
            actor: str, regrade: bool) -> None:
    done = lti.role_change(db, course_id, user_id, role, actor=actor, regrade=regrade)
    before = done.before.value if done.before else None
    if done.outcome == "set" and before is None:
        report.enrolled.append(Line(email, role.value))
    elif done.outcome == "set":
        report.role_changed.append(Line(email, f"{before} -> {role.value}"))
    elif done.outcome == "removed":
        report.unenrolled.append(Line(email, f"was {before}; account and submissions kept"))
    elif done.outcome == "held":
        change = f"{before or 'not enrolled'} -> {role.value if role else 'removed'}"
        report.held.append(Line(email, f"{change}: {done.why}"))
        report.needs_regrade = report.needs_regrade or done.needs_regrade


def _record(db: Database, course_id: int, sources: list[Source], report: SyncReport, *, actor: str, regrade: bool,
            now: datetime) -> None:
    with db.session() as session:
        for source in sources:
            context = session.get(LtiContext, source.context_id)
            if context is not None:  # unlinked meanwhile
                context.synced_at, context.sync_error = now, source.error
        audit.record(session, actor, "lti.roster_sync", course_id=course_id, target=report.course,
                     changes=report.changes, regrade=regrade, **report.as_details())


# --- what staff read -------------------------------------------------------------------------------------------------


def linked_courses(session: Session) -> dict[int, list[str]]:
    """The slugs of the Podium courses linked to each platform, by platform id."""
    rows = session.execute(select(LtiContext.platform_id, Course.slug).join(Course, Course.id == LtiContext.course_id)
                           .order_by(Course.slug)).all()
    linked: dict[int, list[str]] = {}
    for platform_id, slug in rows:
        if slug not in linked.setdefault(platform_id, []):
            linked[platform_id].append(slug)
    return linked


def report_lines(report: SyncReport) -> list[str]:
    """The report as plain text (`podium lti sync`)."""
    out = [f"{report.course}: {report.members} member(s) in the LMS roster"
           f"{'s' if len(report.lms_courses) > 1 else ''}; {len(report.enrolled)} enrolled, "
           f"{len(report.role_changed)} role(s) changed, {len(report.unenrolled)} unenrolled, {len(report.held)} "
           f"held, {len(report.unmatched)} not matched, {len(report.not_in_lms)} not in the LMS roster"]
    for title, error in report.lms_courses:
        out.append(f"  roster of {title}: " + (f"NOT READ: {error}" if error else "read"))
    for name, heading in (("accounts_made", "accounts made"), ("linked", "linked by email"),
                          ("enrolled", "enrolled"), ("role_changed", "role changed"), ("unenrolled", "unenrolled"),
                          ("held", "held"), ("unmatched", "not matched"),
                          ("not_in_lms", "not in the LMS roster (left as they are)")):
        lines = getattr(report, name)
        if lines:
            out.append(f"{heading} ({len(lines)}):")
            out += [f"  {line}" for line in lines]
    if report.needs_regrade:
        out.append("Some changes would move final grades of finalised or released competitions: run the sync "
                   "again with --regrade to apply them (every grade they change is audited).")
    return out
