"""People and their access: accounts, enrolments with roles, API keys."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.domain import LARGEST_ID
from podium.errors import Forbidden, NotFound, PodiumError
from podium.models import Competition, Course, Enrolment, Role, Submission, User, utcnow
from podium.services import audit, authority, names

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


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def account_of(session: Session, email: str) -> User | None:
    """The account of what someone typed as an email; None too when it is no valid address, since no account can
    have it. Only the address is judged here: a database that cannot answer is not taken for "no account"."""
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
             by: authority.Actor = authority.OPERATOR) -> User:
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
    if enrolment is None:
        chosen, key = (names.checked_leaderboard_name(session, course, leaderboard_name, user_id=user.id)
                       if leaderboard_name.strip() else ("", None))
        user.enrolments.append(Enrolment(course=course, role=role, leaderboard_name=chosen, leaderboard_key=key))
    elif enrolment.role != role:
        enrolment.role = role
    session.flush()
    audit.record(session, actor, "user.enrol", course_id=course.id, target=email, role=role.value)
    return user


def remove_enrolment(session: Session, course: Course, user: User, *, actor: str = "cli",
                     by: authority.Actor = authority.OPERATOR) -> int:
    """Take the person out of the course: they leave its boards and its gradebook, and the account and its
    submissions stay (enrolled again, the person finds them as they were). Returns how many submissions stay."""
    enrolment = next((e for e in user.enrolments if e.course_id == course.id), None)
    if enrolment is None:
        raise NotFound(f"{user.email} is not enrolled in {course.slug}")
    authority.require_enrolment(by, course, user, authority.REMOVED)
    kept = submissions_in(session, course, user)
    session.delete(enrolment)
    session.flush()
    session.expire(user, ["enrolments"])
    session.expire(course, ["enrolments"])
    audit.record(session, actor, "user.unenrol", course_id=course.id, target=user.email, role=enrolment.role.value,
                 submissions_kept=kept)
    return kept


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


def read_roster(text: str) -> list[tuple[int, str, str, Role]]:
    """The rows of a roster CSV, columns email,name[,role] in any letter case, as (line, email, name, role); the
    role is student when its column or cell is empty. Any bad line raises naming it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if header[:2] != ["email", "name"] or any(h not in ROSTER_COLUMNS for h in header) or len(set(header)) < len(header):
        raise PodiumError(f"the roster's header must be `email,name` or `email,name,role`; found `{','.join(header)}`")
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
                  by: authority.Actor = authority.OPERATOR) -> RosterResult:
    """Enrol everyone in a CSV with columns email,name[,role] (role defaults to student), each row under the same
    rule as a single add (podium.services.authority), asked of `by`.

    The whole file is checked, rules included, before anything is written, so a bad or refused line leaves the
    course as it was.
    """
    text = Path(roster).read_text(encoding="utf-8-sig") if isinstance(roster, Path) else roster
    people = read_roster(text)
    accounts = {email: find_user(session, email) for _, email, _, _ in people}
    _check_roster(course, people, accounts, by)
    added = updated = enrolled = already = 0
    for _, email, name, role in people:
        user = accounts[email]
        in_course = user is not None and authority.role_of(user, course) is not None
        user = add_user(session, email, course, role, name=name, actor=actor, by=by)
        updated += accounts[email] is not None
        added += accounts[email] is None
        accounts[email] = user
        already += in_course
        enrolled += not in_course
    return RosterResult(added=added, updated=updated, enrolled=enrolled, already_enrolled=already)


def _check_roster(course: Course, people, accounts: dict[str, User | None], by: authority.Actor) -> None:
    """Every row against the rule, with the roles the rows before it leave (a roster may name a person twice)."""
    roles = {e.user.email: e.role for e in course.enrolments}
    instructors = authority.instructors_of(course)
    actor_role = authority.OPERATOR if isinstance(by, authority.Operator) else authority.role_of(by, course)
    for line, email, _, role in people:
        target = accounts[email]
        is_self = target is not None and not isinstance(by, authority.Operator) and target.id == by.id
        refusal = authority.enrolment_refusal(actor_role, roles.get(email), role, is_self=is_self,
                                              instructors=instructors)
        if refusal is not None:
            raise type(refusal)(f"roster line {line} ({email}): {refusal.message} Nothing was imported.")
        instructors += (role == Role.instructor) - (roles.get(email) == Role.instructor)
        roles[email] = role


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
