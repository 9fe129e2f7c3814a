"""Signing in and getting back in: rate-limited password checks, browser sessions, one-time reset links, profile
changes.

Browser sessions live in the (signed) cookie, so ending one means making the server refuse it: each session carries
its account's session generation (`User.session_epoch`) from sign-in, and signing out, setting a password and "sign
out everywhere" raise the generation, which ends every session of the account at once. A session also ends after
the idle and absolute lifetimes of the settings (PODIUM_SESSION_IDLE_MINUTES, PODIUM_SESSION_MAX_DAYS).

Reset links need no table: a link is signed with the server's secret and carries a fingerprint of the account's
current password hash, so it stops working the moment the password changes (one use), or after `RESET_MAX_AGE`.
Nothing assumes a mail server: staff hand links over; when one is configured, podium.services.mails mails them
through the outbox.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.errors import NotFound, PodiumError
from podium.models import Course, User
from podium.services import audit, names, ratelimit, users

RESET_MAX_AGE = 3 * 24 * 3600
RESET_SALT = "podium.password-reset"
SIGN_IN_FAILED = "The email or the password is not right."


def sign_in(session: Session, limiter: ratelimit.Limiter, email: str, password: str, address: str) -> User:
    """The account for these credentials, or an error that says what to do (wrong credentials or wait).

    Failed sign-ins are counted three ways (podium.config.RateLimits): per account from this address, so that a
    classmate's wrong guesses never lock the owner out from another address; per address over all accounts (trying
    many accounts); and per account over all addresses, a ceiling that one address alone cannot reach (guessing
    one password from many addresses). The email is counted in its normalised form, so a variant of it (letter case,
    full-width letters) is the same account. Counts live in the database so every server process shares them.

    The attempt is counted before the password is checked, so parallel guesses cannot all slip under a limit; a
    right password takes its hits back (and clears the account's failures), so only failures count.
    """
    limits = limiter.limits
    account = users.email_key(email)
    counts = ((ratelimit.SIGN_IN, f"{account}\n{address}", limits.sign_in),
              (ratelimit.SIGN_IN_ADDRESS, address, limits.sign_in_address),
              (ratelimit.SIGN_IN_ACCOUNT, account, limits.sign_in_account))
    session.commit()  # nothing of this request is pending; on SQLite this frees the one write lock for the counters
    taken: list[tuple[str, str]] = []
    for scope, subject, limit in counts:
        if wait := limiter.take(scope, subject, limit):
            for scope_taken, subject_taken in taken:
                limiter.give_back(scope_taken, subject_taken)
            raise ratelimit.RateLimited(f"Too many failed sign-ins. Try again in {ratelimit.wait_words(wait)}, or "
                                        "ask the course staff for a password reset link.", retry_after=wait)
        taken.append((scope, subject))
    user = users.account_of(session, email or "")
    session.commit()  # hold no database lock during the deliberately slow password check, nor for the counters
    if user is None or not user.password_hash:
        _spend_a_password_check(password or "")  # unknown accounts take as long to refuse as known ones
    if not users.check_password(user, password or ""):
        raise PodiumError(SIGN_IN_FAILED, code=401)
    limiter.clear(ratelimit.SIGN_IN, f"{account}\n{address}")
    limiter.clear(ratelimit.SIGN_IN_ACCOUNT, account)
    limiter.give_back(ratelimit.SIGN_IN_ADDRESS, address)
    return user


def may_mail_reset_link(session: Session, limiter: ratelimit.Limiter, email: str) -> bool:
    """Whether another reset mail may go to this address now: each request counts, per account (the normalised
    email) under the sign-in limit, so the form cannot flood someone's mailbox."""
    session.commit()  # as in sign_in: no open transaction while the counter is written
    return not limiter.take(ratelimit.RESET_MAIL, users.email_key(email), limiter.limits.sign_in)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return users.generate_password_hash("not a password", method="scrypt")


def _spend_a_password_check(password: str) -> None:
    users.check_password_hash(_dummy_hash(), password)


# --- browser sessions --------------------------------------------------------------------------------------


def session_is_current(user: User, epoch: object, signed_in_at: object, seen_at: object, settings: Settings,
                       now: float) -> bool:
    """Whether a browser session of `user` (its generation, sign-in and last-request instants, in seconds since the
    epoch) still stands at `now`: of the account's current generation, within the absolute lifetime since sign-in
    and within the idle lifetime since its last request. A session without these (written before they existed) is
    over."""
    if type(epoch) is not int or epoch != user.session_epoch:
        return False
    if not all(isinstance(instant, (int, float)) and not isinstance(instant, bool) for instant in (signed_in_at,
                                                                                                   seen_at)):
        return False
    return now - signed_in_at <= settings.session_max_seconds and now - seen_at <= settings.session_idle_seconds


def sign_out(session: Session, user: User) -> None:
    """Signing out ends every session of the account, not only the browser's: a session is a signed cookie, and a
    copy of it (taken from a shared computer, say) would otherwise still work until it expired."""
    users.end_sessions(user)
    audit.record(session, user.email, "user.sign_out", target=user.email)


def sign_out_everywhere(session: Session, user: User) -> None:
    users.end_sessions(user)
    audit.record(session, user.email, "user.sign_out_everywhere", target=user.email)


# --- reset links -----------------------------------------------------------------------------------------


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "no password").encode()).hexdigest()[:16]


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=RESET_SALT)


def reset_token(secret: str, user: User) -> str:
    return _serializer(secret).dumps({"u": user.id, "p": _fingerprint(user)})


def user_for_reset(session: Session, secret: str, token: str, max_age: int = RESET_MAX_AGE) -> User:
    """The account a reset link is for, if the link is genuine, unused and not expired."""
    try:
        data = _serializer(secret).loads(token, max_age=max_age)
    except SignatureExpired:
        raise PodiumError("This reset link has expired; ask the course staff for a new one.", code=410) from None
    except BadSignature:
        raise PodiumError("This reset link is not valid; check that it was copied whole.", code=404) from None
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or data.get("p") != _fingerprint(user):
        raise PodiumError("This reset link was already used; ask the course staff for a new one.", code=410)
    return user


def reset_password(session: Session, secret: str, token: str, password: str) -> User:
    user = user_for_reset(session, secret, token)
    users.set_password(user, password)
    # Whoever knew the old password may have made an API key with it: a reset ends that key too.
    users.revoke_api_key(session, user, actor=user.email)
    audit.record(session, user.email, "user.password_reset", target=user.email)
    return user


def issue_reset_token(session: Session, settings: Settings, user: User, actor: str,
                      course_id: int | None = None) -> str:
    """A reset token for a link staff hand out or mail; issuing one is audited (the link lets its holder set the
    password). Refused where the instance takes no passwords: such a link would lead to a page that refuses it."""
    require_passwords(settings)
    audit.record(session, actor, "user.reset_link", course_id=course_id, target=user.email)
    return reset_token(settings.secret_key, user)


def passwords_refused(settings: Settings) -> str | None:
    """Why a password (a sign-in form, a reset link) is refused when the instance signs people in only through
    single sign-on (PODIUM_PASSWORD_SIGN_IN=off); None when passwords are taken. API keys are not passwords: they
    keep working."""
    if settings.password_sign_in:
        return None
    return f"This Podium does not take passwords: {sign_on_words(settings)}."


def sign_on_words(settings: Settings) -> str:
    """How people sign in without a password here, in the words of a sentence."""
    return (f"use \"Sign in with {settings.oidc.provider_name}\" on the sign-in page" if settings.oidc
            else "sign in through your institution's sign-in page")


def require_passwords(settings: Settings) -> None:
    if (why := passwords_refused(settings)) is not None:
        raise PodiumError(why, code=403)


# --- the profile -------------------------------------------------------------------------------------------


def course_to_name_in(user: User, slug: str) -> Course:
    """The course whose leaderboard name the person sets: the one named, or their only course when none is."""
    courses = {e.course.slug: e.course for e in user.enrolments}
    if not slug and len(courses) == 1:
        return next(iter(courses.values()))
    if slug not in courses:
        raise PodiumError("Choose one of your courses: a leaderboard name is chosen for each course.")
    return courses[slug]


def set_leaderboard_name(session: Session, user: User, course: Course, name: str) -> None:
    """The name other students of `course` see on its boards (POLICY.md section 8)."""
    enrolment = next((e for e in user.enrolments if e.course_id == course.id), None)
    if enrolment is None:
        raise NotFound(f"You are not enrolled in {course.slug}.")
    name, key = names.checked_leaderboard_name(session, course, name, user_id=user.id)
    enrolment.leaderboard_name, enrolment.leaderboard_key = name, key
    session.flush()
    audit.record(session, user.email, "user.leaderboard_name", course_id=course.id, target=user.email, name=name)


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if user.password_hash and not users.check_password(user, current or ""):
        raise PodiumError("The current password is not right.", code=403)
    users.set_password(user, new or "")
    audit.record(session, user.email, "user.password_change", target=user.email)
