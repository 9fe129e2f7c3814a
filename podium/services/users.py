"""People and their access: accounts, enrolments with roles, API keys."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import unicodedata
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.domain import LARGEST_ID
from podium.errors import Forbidden, NotFound, PodiumError
from podium.models import Competition, Course, Enrolment, Role, Submission, User, utcnow
from podium.services import audit, authority, names, regrades
from podium.services.canvas_roster import CanvasRow, is_canvas_export, read_canvas_roster

if TYPE_CHECKING:
    from podium.config import Settings

API_KEY_BYTES = 24
ROSTER_COLUMNS = ("email", "name", "role")


def normalise_email(email: str) -> str:
    """The one spelling of an address that Podium stores and compares: Unicode NFKC, case-folded, the domain in its
    IDNA (ASCII) form. Full-width letters, another letter case or a composed accent are the same address, so a
    variant neither gets past a limit counted on the address nor makes a second, look-alike account."""
    # Imported on first use, as Werkzeug below: the `podium` commands that never look an address up (jobs, slack
    # balance) import this module for its other helpers and should not pay for either.
    from email_validator import EmailNotValidError, validate_email

    # Self-hosted courses may use internal domains or the reserved .test domain (the demo does), so only the syntax is checked.
    try:
        checked = validate_email(_folded(email), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise PodiumError(f"{email!r} is not a valid email address: {exc}") from None
    return f"{checked.local_part}@{checked.ascii_domain.lower()}"


def email_key(email: str) -> str:
    """What a limit counts an address typed into a form under: its normalised form, or, when it is not a valid
    address (so no account has it), the same folding without the syntax check."""
    try:
        return normalise_email(email)
    except PodiumError:
        return _folded(email)


def _folded(text: str) -> str:
    # NFKC again after case folding: folding can undo it (Unicode's NFKC_Casefold does the same).
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", (text or "").strip()).casefold())


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise PodiumError(f"unknown role {role!r}; use student, staff or instructor") from None


# A plain ASCII address after folding: a dot-atom before the @ (RFC 5322) and letters, digits, hyphens and dots
# after it. email_validator changes nothing in such an address but the case (already folded): when it is valid, its
# folded form is its normalised form, as tests/test_email_lookup.py checks.
PLAIN_ADDRESS = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z0-9.-]+")


def lookup_key(email: str) -> str | None:
    """The spelling under which an account with this address is stored, found without email_validator when the
    address is plain ASCII (most are); None when only `normalise_email` can tell.

    Every stored address went through `normalise_email` when its account was made, so a plain address that finds
    an account was valid; one that finds none may be invalid, which the caller asks `normalise_email` to say. This
    spares the commands that look an address up (`users token`, `grades explain`) the validator's import."""
    folded = _folded(email)
    return folded if PLAIN_ADDRESS.fullmatch(folded) else None


def find_user(session: Session, email: str) -> User | None:
    """The account with this address; None when there is none; PodiumError when it is no valid address."""
    key = lookup_key(email)
    user = session.scalar(select(User).where(User.email == (key or normalise_email(email))))
    if user is None and key is not None:
        normalise_email(email)  # an invalid address is said to be one, as for any other
    return user


def account_of(session: Session, email: str) -> User | None:
    """The account of what someone typed as an email; None too when it is no valid address, since no account can
    have it. Only the address is judged here: a database that cannot answer is not taken for "no account"."""
    key = lookup_key(email)
    if key is None:
        try:
            key = normalise_email(email)
        except PodiumError:
            return None
    return session.scalar(select(User).where(User.email == key))


def user_by_id(session: Session, user_id: object) -> User | None:
    """The account with this id; None for anything else, ids beyond what the database stores included (a signed
    session's value, a number typed into a URL)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id <= LARGEST_ID:
        return None
    return session.get(User, user_id)


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no user {email!r}; `podium users add` creates one")
    return user


def course_member(session: Session, course: Course, email: str) -> User:
    """The account of `email` when it is enrolled in the course; one refusal whether the email has no account or
    an account outside the course, so a course's staff learn nothing of accounts beyond their course."""
    user = account_of(session, email)
    if user is None or authority.role_of(user, course) is None:
        raise NotFound(f"{email.strip()} is not enrolled in {course.slug}; enrol them on the People page first")
    return user


def add_user(session: Session, email: str, course: Course, role: Role | str, *, name: str = "",
             password: str | None = None, leaderboard_name: str = "", actor: str = "cli",
             by: authority.Actor = authority.OPERATOR, regrade: bool = False) -> User:
    """Enrol the account of `email` in the course with the role, making the account when there is none.

    `by` is who asks (a course member on the web, OPERATOR for the `podium` command); podium.services.authority
    decides. Name and password are those of a new account only: enrolling an existing account changes nothing of
    it (its name, password, API key, roles and leaderboard names in other courses), whoever enrols it. The
    leaderboard name is that of a new enrolment (names belong to the enrolment, POLICY.md section 8).
    """
    role = parse_role(role) if isinstance(role, str) else role
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    authority.require_enrolment(by, course, user, role)
    if user is None:
        user = User(email=email, name=name.strip())
        if password:
            set_password(user, password)
        session.add(user)
    enrolment = next((e for e in user.enrolments if e.course_id == course.id), None)
    with _decided(session, course, user, enrolment, role, actor=actor, regrade=regrade):
        if enrolment is None:
            chosen, key = (names.checked_leaderboard_name(session, course, leaderboard_name, user_id=user.id)
                           if leaderboard_name.strip() else ("", None))
            user.enrolments.append(Enrolment(course=course, role=role, leaderboard_name=chosen,
                                             leaderboard_key=key))
        elif enrolment.role != role:
            enrolment.role = role
        session.flush()
    audit.record(session, actor, "user.enrol", course_id=course.id, target=email, role=role.value)
    return user


def remove_enrolment(session: Session, course: Course, user: User, *, actor: str = "cli",
                     by: authority.Actor = authority.OPERATOR, regrade: bool = False) -> int:
    """Take the person out of the course: they leave its boards and its gradebook, and the account and its
    submissions stay (enrolled again, the person finds them as they were). Returns how many submissions stay."""
    enrolment = next((e for e in user.enrolments if e.course_id == course.id), None)
    if enrolment is None:
        raise NotFound(f"{user.email} is not enrolled in {course.slug}")
    authority.require_enrolment(by, course, user, authority.REMOVED)
    kept = submissions_in(session, course, user)
    # A student who leaves takes their scores off the boards, and with them, perhaps, the class's best score that
    # everyone's bonus is measured against: a regrade when it moves a grade of a finalised or released competition.
    with regrades.decision(session, course, what=f"unenrolling {user.email}", actor=actor, regrade=regrade):
        session.delete(enrolment)
        session.flush()
    session.expire(user, ["enrolments"])
    session.expire(course, ["enrolments"])
    audit.record(session, actor, "user.unenrol", course_id=course.id, target=user.email, role=enrolment.role.value,
                 submissions_kept=kept)
    return kept


def _decided(session: Session, course: Course, user: User, enrolment: Enrolment | None, role: Role, *, actor: str,
             regrade: bool):
    """Enrolling changes grades only when the gradebook changes whom it holds with scores: a role changed to or
    from student, or a student enrolled again with submissions. Those are regrade decisions
    (podium.services.regrades); a new student without submissions, the roster import's usual case, is not."""
    joins_with_scores = enrolment is None and role == Role.student and user.id is not None \
        and submissions_in(session, course, user) > 0
    if joins_with_scores or (enrolment is not None and enrolment.role != role):
        return regrades.decision(session, course, what=f"enrolling {user.email} as {role.value}", actor=actor,
                                 regrade=regrade)
    return nullcontext()


def submissions_in(session: Session, course: Course, user: User) -> int:
    """How many submissions the person has in the course's competitions (they stay when the person leaves it)."""
    return session.scalar(select(func.count()).select_from(Submission).join(Competition)
                          .where(Competition.course_id == course.id, Submission.user_id == user.id)) or 0


@dataclass(frozen=True)
class RosterResult:
    added: int    # accounts made
    updated: int  # accounts that existed (left as they were; only their enrolment in the course is set)
    enrolled: int = 0       # people new to the course
    already_enrolled: int = 0  # people the course had (their role set to the roster's)
    canvas_linked: int = 0  # enrolments whose Canvas ids were kept or changed (a Canvas gradebook export)
    staff_skipped: tuple[str, ...] = ()  # course staff named in a Canvas export, left as they were
    welcomed: int = 0  # welcome mails with a sign-in link queued, one per account the import made
    notified: int = 0  # notices queued to existing accounts the import added to the course

    @property
    def mailed(self) -> int:
        return self.welcomed + self.notified


@dataclass(frozen=True)
class RosterPerson:
    line: int
    email: str
    name: str
    role: Role
    canvas: CanvasRow | None = None  # the row of a Canvas gradebook export


def read_roster(text: str) -> list[tuple[int, str, str, Role]]:
    """The rows of a roster CSV, columns email,name[,role] in any letter case, as (line, email, name, role); the
    role is student when its column or cell is empty. Any bad line raises naming it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if header[:2] != ["email", "name"] or any(h not in ROSTER_COLUMNS for h in header) or len(set(header)) < len(header):
        raise PodiumError(f"the roster's header must be `email,name` or `email,name,role`, or be that of Canvas's "
                          f"gradebook export (Student,ID,...); found `{','.join(header)}`")
    reader.fieldnames = header  # every later lookup reads the normalised names: one spelling of each column
    people = []
    for line, row in enumerate(reader, start=2):
        if any((cell or "").strip() for cell in row.get(None, [])):
            raise PodiumError(f"roster line {line}: more cells than the header has columns")
        try:
            people.append((line, normalise_email(row["email"] or ""), (row.get("name") or "").strip(),
                           parse_role(row.get("role") or "student")))
        except PodiumError as exc:
            raise PodiumError(f"roster line {line}: {exc}") from None
    return people


def import_roster(session: Session, course: Course, roster: Path | str, actor: str = "cli",
                  by: authority.Actor = authority.OPERATOR, *, email_domain: str = "",
                  welcome: Settings | None = None) -> RosterResult:
    """Enrol everyone in a CSV with columns email,name[,role] (role defaults to student), each row under the same
    rule as a single add (podium.services.authority), asked of `by`.

    Canvas's own gradebook export is read too (podium.services.canvas_roster): its students are enrolled as
    students, and their Canvas ids are kept on their enrolments for the Canvas grade export. `email_domain` gives
    the address of a SIS Login ID that is not one (jdoe -> jdoe@domain).

    The whole file is checked, rules included, before anything is written, so a bad or refused line leaves the
    course as it was.

    With `welcome` (the server's settings; opt-in per import), each account the import makes gets a welcome mail
    with a link to set its password, and each existing account the import adds to the course a notice without a
    link (podium.services.mails); people already in the course get nothing. Refused, before anything is read,
    when the server cannot mail links.
    """
    from podium.services import mails  # it builds on accounts, which builds on this module

    if welcome is not None:
        mails.require_welcome_mail(welcome)
    text = Path(roster).read_text(encoding="utf-8-sig") if isinstance(roster, Path) else roster
    skipped: tuple[str, ...] = ()
    if is_canvas_export(text):
        people, skipped = _canvas_people(session, course, read_canvas_roster(text), email_domain)
    else:
        people = [RosterPerson(line, email, name, role) for line, email, name, role in read_roster(text)]
    accounts = {p.email: find_user(session, p.email) for p in people}
    _check_roster(course, people, accounts, by)
    added = updated = enrolled = already = linked = welcomed = notified = 0
    for person in people:
        user = accounts[person.email]
        made, in_course = user is None, user is not None and authority.role_of(user, course) is not None
        user = add_user(session, person.email, course, person.role, name=person.name, actor=actor, by=by)
        updated += not made
        added += made
        accounts[person.email] = user
        already += in_course
        enrolled += not in_course
        if person.canvas is not None:
            linked += _keep_canvas_ids(session, course, user, person.canvas, actor)
        if welcome is not None and made:
            mails.queue_welcome(session, welcome, course, user, person.role, actor=actor)
            welcomed += 1
        elif welcome is not None and not in_course:
            mails.queue_added_notice(session, welcome, course, user, person.role)
            notified += 1
    if welcome is not None:
        audit.record(session, actor, "roster.welcome_mail", course_id=course.id, welcome_mails=welcomed,
                     notices=notified)
    return RosterResult(added=added, updated=updated, enrolled=enrolled, already_enrolled=already,
                        canvas_linked=linked, staff_skipped=skipped, welcomed=welcomed, notified=notified)


def _check_roster(course: Course, people: list[RosterPerson], accounts: dict[str, User | None],
                  by: authority.Actor) -> None:
    """Every row against the rule, with the roles the rows before it leave (a roster may name a person twice)."""
    roles = {e.user.email: e.role for e in course.enrolments}
    instructors = authority.instructors_of(course)
    actor_role = authority.OPERATOR if isinstance(by, authority.Operator) else authority.role_of(by, course)
    for person in people:
        line, email, role = person.line, person.email, person.role
        target = accounts[email]
        is_self = target is not None and not isinstance(by, authority.Operator) and target.id == by.id
        refusal = authority.enrolment_refusal(actor_role, roles.get(email), role, is_self=is_self,
                                              instructors=instructors)
        if refusal is not None:
            raise type(refusal)(f"roster line {line} ({email}): {refusal.message} Nothing was imported.")
        instructors += (role == Role.instructor) - (roles.get(email) == Role.instructor)
        roles[email] = role


# --- Canvas's gradebook export as a roster ---------------------------------------------------------------


def _canvas_people(session: Session, course: Course, rows: list[CanvasRow], email_domain: str
                   ) -> tuple[list[RosterPerson], tuple[str, ...]]:
    """Who each Canvas row is, as students to enrol; the course's staff named in the file are left out (Canvas
    lists whoever has a student enrolment there) and returned apart."""
    domain = _email_domain(email_domain)
    enrolments = list(course.enrolments)
    people: list[RosterPerson] = []
    skipped: list[str] = []
    by_email: dict[str, int] = {}
    by_canvas_id: dict[str, int] = {}
    for row in rows:
        email = _canvas_email(course, enrolments, row, domain)
        for seen, key, what in ((by_email, email, "email"), (by_canvas_id, row.canvas_user_id, "Canvas ID")):
            if key and key in seen:
                raise PodiumError(f"roster lines {seen[key]} and {row.line} have the same {what} ({key}); each "
                                  "student has one row in Canvas's export. Nothing was imported.")
            if key:
                seen[key] = row.line
        role = next((e.role for e in enrolments if e.user.email == email), None)
        if role is not None and role.is_staff:
            skipped.append(email)
            continue
        people.append(RosterPerson(row.line, email, row.name, Role.student, row))
    return people, tuple(skipped)


def _email_domain(given: str) -> str:
    domain = (given or "").strip().removeprefix("@")
    if not domain:
        return ""
    try:
        return normalise_email(f"x@{domain}").partition("@")[2]
    except PodiumError:
        raise PodiumError(f"the email domain {given.strip()!r} is not a domain such as example.edu") from None


def _canvas_email(course: Course, enrolments: list[Enrolment], row: CanvasRow, domain: str) -> str:
    """The row's email address: an Email column, else a SIS Login ID that is an address (or one with the email
    domain added), else that of the enrolment already holding the row's Canvas ids. When two of these disagree,
    the row is refused, so Canvas ids never move to another person unnoticed."""
    where = f"roster line {row.line} ({row.shown or row.canvas_user_id})"
    given = row.email or (row.sis_login_id if "@" in (row.sis_login_id or "") else "")
    if not given and row.sis_login_id and domain:
        given = f"{row.sis_login_id}@{domain}"
    try:
        email = normalise_email(given) if given else ""
    except PodiumError as exc:
        raise PodiumError(f"{where}: {exc}. Nothing was imported.") from None
    holder = _canvas_holder(enrolments, row)
    if holder is not None and email and holder.user.email != email:
        raise PodiumError(f"{where}: its Canvas ids belong to {holder.user.email} in {course.slug}, but the row "
                          f"gives {email}. Check the row's Email or SIS Login ID. Nothing was imported.")
    if email:
        return email
    if holder is not None:
        return holder.user.email
    login = (f"the SIS Login ID {row.sis_login_id!r} is not an email address" if row.sis_login_id else
             "the row has no SIS Login ID (Canvas leaves the SIS columns out for those who may not see SIS ids)")
    raise PodiumError(f"{where}: no email address for this student: {login}, the file has no Email column, and no "
                      f"one in {course.slug} has this student's Canvas ids yet. Add an Email column to the file, or "
                      "give the email domain of the SIS Login IDs (jdoe becomes jdoe@domain). Nothing was imported.")


def _canvas_holder(enrolments: list[Enrolment], row: CanvasRow) -> Enrolment | None:
    """The enrolment that kept this row's ids from an earlier import, matched as Canvas matches: by ID, then SIS
    User ID, then SIS Login ID."""
    for column, value in (("canvas_user_id", row.canvas_user_id), ("canvas_sis_user_id", row.sis_user_id),
                          ("canvas_sis_login_id", row.sis_login_id)):
        if value:
            found = next((e for e in enrolments if getattr(e, column) == value), None)
            if found is not None:
                return found
    return None


def _keep_canvas_ids(session: Session, course: Course, user: User, row: CanvasRow, actor: str) -> bool:
    """Keep the row's Canvas ids on the student's enrolment (a column the file lacks keeps what was there);
    audited when they change. Returns whether they changed."""
    enrolment = session.scalar(select(Enrolment).where(Enrolment.course_id == course.id,
                                                       Enrolment.user_id == user.id))
    ids = {"canvas_user_id": row.canvas_user_id, "canvas_sis_user_id": row.sis_user_id,
           "canvas_sis_login_id": row.sis_login_id, "canvas_section": row.section}
    changed = {column: value or None for column, value in ids.items()
               if value is not None and getattr(enrolment, column) != (value or None)}
    if not changed:
        return False
    for column, value in changed.items():
        setattr(enrolment, column, value)
    session.flush()
    audit.record(session, actor, "user.canvas_ids", course_id=course.id, target=user.email, **changed)
    return True


def set_password(user: User, password: str) -> None:
    user.password_hash = password_hash(password)
    end_sessions(user)  # whoever held a session (or the old password) must sign in with the new one


def end_sessions(user: User) -> None:
    """End every browser session the account has: each carries the generation it was signed in under, and a
    session of an older generation is refused (podium.services.accounts.session_is_current)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def password_hash(password: str) -> str:
    """What an account stores of its password."""
    if len(password) < 8:
        raise PodiumError("passwords need at least 8 characters")
    # scrypt is memory-hard: guessing stolen hashes costs memory as well as time.
    return generate_password_hash(password, method="scrypt")


def generate_password_hash(password: str, method: str) -> str:
    # Werkzeug's package loads its server and test client: imported when a password is hashed, not at start-up.
    from werkzeug.security import generate_password_hash as hashed

    return hashed(password, method=method)


def check_password_hash(password_hash: str, password: str) -> bool:
    from werkzeug.security import check_password_hash as matches

    return matches(password_hash, password)


def check_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        return False
    return check_password_hash(user.password_hash, password)


def _hash_key(key: str) -> str:
    # API keys are long random strings, so one fast hash suffices; only the hash is kept.
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(session: Session, user: User, actor: str = "cli") -> str:
    """A new API key for the user, replacing the old one; the key itself is shown once and never stored."""
    key = secrets.token_urlsafe(API_KEY_BYTES)
    user.api_key_hash = _hash_key(key)
    user.api_key_created_at = utcnow()
    audit.record(session, actor, "user.api_key", target=user.email)
    return key


def revoke_api_key(session: Session, user: User, actor: str = "cli") -> None:
    """No API key works for the account any more (until a new one is made)."""
    if user.api_key_hash is None:
        return
    user.api_key_hash = None
    user.api_key_created_at = None
    audit.record(session, actor, "user.api_key_revoked", target=user.email)


def authenticate_key(session: Session, email: str, key: str) -> User | None:
    user = account_of(session, email)
    if user is None or not user.api_key_hash:
        return None
    return user if hmac.compare_digest(user.api_key_hash, _hash_key(key)) else None


def role_in(user: User, course: Course) -> Role | None:
    return authority.role_of(user, course)


def require_staff(user: User, course: Course) -> None:
    role = role_in(user, course)
    if role is None or not role.is_staff:
        raise Forbidden(f"{user.email} is not staff of {course.slug}")
