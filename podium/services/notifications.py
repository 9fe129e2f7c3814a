"""Notifications: the mails a student asked for on their profile, and the reminder staff send to those without a
scored submission before the early deadline.

Each kind is an opt-in of the account, off until its owner turns it on:
- a submission of theirs was scored or failed (`submission_outcome`, in the transaction that stores the outcome);
- a reminder in the day before each of their own early and on-time deadlines while nothing of theirs counts for it
  yet (`send_due_reminders`, a pass of the scheduler's lease holder; the rule is podium.rules.reminders);
- their grade of a competition was released, or a regrade (or a release through the slack chain) changed a
  released grade (`grades_released`, `grades_changed`, in the transaction of the release or the regrade).
Staff reminders (`remind_without_early`) go whatever the students chose: they are a message from the course staff.

What a mail may say follows POLICY.md section 11: a submission's public score only, never its private one; a grade
only of a released competition, as the student's grades page reads it. Every mail is written to the outbox in the
caller's transaction (podium.services.outbox) and names its course; links need PODIUM_BASE_URL.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.config import link_base
from podium.errors import PodiumError
from podium.models import Competition, Course, Enrolment, Role, Status, Submission, User, utcnow
from podium.rules.reminders import EARLY, Reminder, reminders_due
from podium.services import audit, outbox
from podium.services.rule_values import active_extensions, schedule_of

SUBMISSION_RESULT, DEADLINE_REMINDER, GRADE_RELEASED, GRADE_CHANGED, STAFF_REMINDER = (
    "submission_result", "deadline_reminder", "grade_released", "grade_changed", "staff_reminder")


# --- what each person chose ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """The notifications a person asked for."""

    submission_results: bool = False
    deadline_reminders: bool = False
    grade_changes: bool = False

    NAMES = ("submission_results", "deadline_reminders", "grade_changes")

    @classmethod
    def of(cls, user: User) -> Choices:
        return cls(bool(user.notify_submission_results), bool(user.notify_deadline_reminders),
                   bool(user.notify_grade_changes))

    def as_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in self.NAMES}


def choose(session: Session, user: User, choices: Choices) -> bool:
    """Keep the person's choices; audited as the profile's other settings are. False when nothing changed."""
    if Choices.of(user) == choices:
        return False
    user.notify_submission_results = choices.submission_results
    user.notify_deadline_reminders = choices.deadline_reminders
    user.notify_grade_changes = choices.grade_changes
    session.flush()
    audit.record(session, user.email, "user.notifications", target=user.email, **choices.as_dict())
    return True


# --- a submission scored or failed -------------------------------------------------------------------------


def submission_outcome(session: Session, submission_id: int) -> None:
    """The author's mail about a submission's outcome, just stored, when they asked for it. It names the public
    score only: the private one stays hidden until release (POLICY.md section 11)."""
    sub = session.get(Submission, submission_id)
    if sub is None or not sub.user.notify_submission_results:
        return
    comp = sub.competition
    what = "practice submission" if sub.practice else "submission"
    if sub.status == Status.scored:
        subject = f"{comp.title}: your {what} {sub.file_name} was scored"
        result = (f"It was scored: public score {_score(comp, sub.public_score)}. The private score stays hidden "
                  "until the private leaderboard is released.")
    else:
        subject = f"{comp.title}: your {what} {sub.file_name} could not be scored"
        result = f"It could not be scored:\n\n    {sub.error}"
    practice = ("\n\nIt is a practice submission, received after the competition closed: scored and shown only to "
                "you, never graded and never on a leaderboard.") if sub.practice else ""
    body = (f"Hello {_name(sub.user)},\n\nYour {what} {sub.file_name} to {comp.title} ({comp.public_id}), received "
            f"{rules.format_local(sub.submitted_at, comp.course.timezone)}, has its result.\n\n{result}{practice}\n"
            f"{_link('It is on its page', f'/submissions/{sub.id}')}{_why(SUBMISSION_RESULT)}")
    _mail(session, SUBMISSION_RESULT, sub.user, comp.course_id, subject, body)


def _mail(session: Session, kind: str, user: User, course_id: int, subject: str, body: str, **options):
    """A notification to `user` about their course, written to the outbox in the caller's transaction (None when a
    `dedupe_key` says it was written before)."""
    return outbox.enqueue(session, kind=kind, to=user.email, subject=subject, body=body, user_id=user.id,
                          course_id=course_id, **options)


def _score(comp: Competition, score: float | None) -> str:
    return "none" if score is None else f"{score:.{comp.display_precision}f}"


# --- grades released or changed ---------------------------------------------------------------------------


def grades_released(session: Session, comp: Competition, finals: dict[tuple[int, int], float | None] | None,
                    unavailable: str | None = None) -> int:
    """Each student of the course who asked for it hears that `comp` was released, with their grade of it as their
    grades page reads it (`finals`: every final grade students read, by (user id, competition id); None when
    grades cannot be computed now, `unavailable` saying why). Returns the number of mails written."""
    course = comp.course
    written = 0
    for user in _opted_in_students(session, course, User.notify_grade_changes):
        grade = None if finals is None else finals.get((user.id, comp.id))
        if finals is None:
            line = f"Your grade cannot be computed at the moment ({unavailable}); your grades page shows it once it can."
        elif grade is None:
            line = "You have no grade in it; your grades page says why."
        else:
            line = f"Your grade in it: {grade:.1f}."
        body = (f"Hello {_name(user)},\n\nThe private leaderboard of {comp.title} ({comp.public_id}) in "
                f"{course.title} is released: its final grades are computed from private scores now.\n\n{line}\n"
                f"{_grades_footer(course, GRADE_RELEASED)}")
        _mail(session, GRADE_RELEASED, user, course.id, f"{comp.title}: grades released", body)
        written += 1
    return written


def grades_changed(session: Session, course: Course, changes: Iterable, reason: str) -> int:
    """Each student who asked for it hears of every change of their grade of a released competition (`changes`:
    podium.services.regrades.Change, old and new final grades), with the reason; a change of a competition not
    released yet mails nothing, since its grades are not the students' to read yet. Returns the mails written."""
    released = {c.public_id: c for c in course.competitions if c.released_at is not None}
    by_email: dict[str, list] = defaultdict(list)
    for change in changes:
        if change.competition in released:
            by_email[change.email].append(change)
    if not by_email:
        return 0
    people = session.scalars(select(User).join(Enrolment).where(
        Enrolment.course_id == course.id, Enrolment.role == Role.student, User.email.in_(list(by_email)),
        User.notify_grade_changes.is_(True)))
    written = 0
    for user in people:
        lines = "\n".join(f"  {released[c.competition].title} ({c.competition}): {_grade(c.old)} -> {_grade(c.new)}"
                          for c in by_email[user.email])
        body = (f"Hello {_name(user)},\n\nA decision of the course staff of {course.title} changed your grade:\n\n"
                f"{lines}\n\nThe reason: {reason}.\n"
                f"{_grades_footer(course, GRADE_CHANGED)}")
        _mail(session, GRADE_CHANGED, user, course.id, f"{course.title}: your grade changed", body)
        written += 1
    return written


def _grades_footer(course: Course, kind: str) -> str:
    """The end of a mail about grades: where the student reads them, and why they were mailed."""
    return f"{_link('Your grades', f'/courses/{course.slug}/grades')}{_why(kind)}"


def _grade(final: float | None) -> str:
    return "no grade" if final is None else f"{final:.1f}"


# --- deadline reminders ------------------------------------------------------------------------------------


def send_due_reminders(session: Session, now: datetime | None = None) -> int:
    """One pass: every reminder due now (podium.rules.reminders) to each student who asked for them, in every
    competition open and not finalised, on the student's own deadlines. A reminder is written once (its dedupe key
    names the competition, the student, the deadline and its instant), so passes may run as often as they like,
    and it expires at its deadline. Returns the number of mails written."""
    now = now or utcnow()
    competitions = list(session.scalars(select(Competition).where(
        Competition.opens <= now, Competition.finalised_at.is_(None))))
    if not competitions:
        return 0
    students = _students_asking(session, {c.course_id for c in competitions})
    if not students:
        return 0
    extensions = active_extensions(session, competitions)
    scored = _scored_instants(session, [c.id for c in competitions], {u.id for us in students.values() for u in us})
    written = 0
    for comp in competitions:
        schedule = schedule_of(comp)
        for user in students.get(comp.course_id, ()):
            own = rules.effective_schedule(schedule, extensions.get((comp.slug, user.id)))
            for reminder in reminders_due(now, own, scored.get((comp.id, user.id), ())):
                written += _remind(session, comp, user, reminder, now)
    return written


def _students_asking(session: Session, course_ids: set[int]) -> dict[int, list[User]]:
    rows = session.execute(select(Enrolment.course_id, User).join(User, User.id == Enrolment.user_id).where(
        Enrolment.course_id.in_(course_ids), Enrolment.role == Role.student, User.notify_deadline_reminders.is_(True)))
    found: dict[int, list[User]] = defaultdict(list)
    for course_id, user in rows:
        found[course_id].append(user)
    return found


def _scored_instants(session: Session, comp_ids: list[int], user_ids: set[int]) -> dict[tuple[int, int], list]:
    """When each student's scored, non-practice submissions were received, by (competition id, user id)."""
    rows = session.execute(select(Submission.competition_id, Submission.user_id, Submission.submitted_at).where(
        Submission.competition_id.in_(comp_ids), Submission.user_id.in_(user_ids),
        Submission.status == Status.scored, Submission.practice.is_(False)))
    found: dict[tuple[int, int], list] = defaultdict(list)
    for comp_id, user_id, at in rows:
        found[comp_id, user_id].append(at)
    return found


def _remind(session: Session, comp: Competition, user: User, reminder: Reminder, now: datetime) -> int:
    tz = comp.course.timezone
    deadline = "early deadline" if reminder.deadline == EARLY else (
        "on-time deadline (also its early deadline)" if reminder.also_early else "on-time deadline")
    at = rules.format_local(reminder.at, tz)
    body = (f"Hello {_name(user)},\n\nYour {deadline} for {comp.title} ({comp.public_id}) is {at}, less than a day "
            f"from now, and you have no scored submission for it yet.\n"
            f"{_link('Submit', f'/competitions/{comp.public_id}/submit')}{_why(DEADLINE_REMINDER)}")
    mail = _mail(session, DEADLINE_REMINDER, user, comp.course_id, f"{comp.title}: {deadline} {at}", body,
                 expires_at=reminder.at, now=now, dedupe_key=f"reminder:c{comp.id}:u{user.id}:{reminder.key}")
    return 0 if mail is None else 1


# --- staff remind those without a scored submission before the early deadline ---------------------------


@dataclass(frozen=True)
class StaffReminder:
    """What one staff reminder did: mailed now, mailed already today (not again), and students listed whose own
    early deadline has passed (nothing to remind them of)."""

    mailed: int
    already: int
    passed: int


def to_remind(session: Session, comp: Competition, now: datetime) -> tuple[list, int]:
    """Whom a staff reminder of `comp` mails (podium.services.overview.EarlyMiss, by email): the students without a
    scored submission whose own early deadline (an extension moves it) is still ahead; and how many more the
    overview lists whose early deadline has passed."""
    from podium.services.overview import missed_early

    if comp.early is None:
        raise PodiumError(f"{comp.public_id} has no early deadline: there is nobody to remind of it.", code=409)
    missing, _ = missed_early(session, comp, now)
    ahead = [m for m in missing if now <= m.early]
    return ahead, len(missing) - len(ahead)


def remind_without_early(session: Session, comp: Competition, actor: str, now: datetime | None = None
                         ) -> StaffReminder:
    """Mail every student of `comp` without a scored submission yet whose own early deadline is still ahead (the
    overview's list), whatever notifications they chose: it is a message from the course staff. At most once per
    student, competition and day (course time zone), so a second click the same day mails nobody twice. Audited."""
    now = now or utcnow()
    ahead, passed = to_remind(session, comp, now)
    day = rules.local_date(now, comp.course.timezone).isoformat()
    mailed = []
    for miss in ahead:
        at = rules.format_local(miss.early, comp.course.timezone)
        body = (f"Hello {_name(miss.user)},\n\nA reminder from the course staff of {comp.course.title}: you have no "
                f"scored submission for {comp.title} ({comp.public_id}) yet, and your early deadline is {at}. A "
                f"submission scored by then spares your grade the early-deadline penalty.\n"
                f"{_link('Submit', f'/competitions/{comp.public_id}/submit')}\n"
                "The course staff sent this to every student without a scored submission yet; your notification "
                "settings do not apply to it.\n")
        if _mail(session, STAFF_REMINDER, miss.user, comp.course_id, f"{comp.title}: early deadline {at}", body,
                 expires_at=miss.early, now=now, dedupe_key=f"staff-reminder:c{comp.id}:u{miss.user.id}:{day}"):
            mailed.append(miss.user.email)
    done = StaffReminder(mailed=len(mailed), already=len(ahead) - len(mailed), passed=passed)
    audit.record(session, actor, "competition.remind_early", course_id=comp.course_id, target=comp.public_id,
                 mailed=mailed, already_mailed_today=done.already, early_passed=done.passed)
    return done


def staff_reminder_words(comp: Competition, done: StaffReminder) -> str:
    """What a staff reminder did, in the words of the page and the command."""
    words = [f"{done.mailed} student{'' if done.mailed == 1 else 's'} of {comp.public_id} reminded of the early "
             "deadline by mail"]
    if done.already:
        words.append(f"{done.already} already reminded today, not mailed again")
    if done.passed:
        words.append(f"{done.passed} whose early deadline has passed, not mailed")
    return "; ".join(words) + "."


# --- helpers ---------------------------------------------------------------------------------------------


def _opted_in_students(session: Session, course: Course, column) -> list[User]:
    return list(session.scalars(select(User).join(Enrolment).where(
        Enrolment.course_id == course.id, Enrolment.role == Role.student, column.is_(True)).order_by(User.email)))


def _name(user: User) -> str:
    return user.name or user.email


def _link(words: str, path: str) -> str:
    """A line with a link to a page of this site, when PODIUM_BASE_URL says where it is; nothing otherwise."""
    base = link_base()
    return "" if base is None else f"\n{words}: {base}{path}\n"


WHY = {SUBMISSION_RESULT: "a submission of yours was scored or failed",
       DEADLINE_REMINDER: "a deadline of yours is a day away",
       GRADE_RELEASED: "your grades were released or changed", GRADE_CHANGED: "your grades were released or changed"}


def _why(kind: str) -> str:
    return (f"\n--\nYou get this mail because you asked on your Podium profile to hear when {WHY[kind]}; turn it "
            "off there.\n")
