"""Signing in and getting back in: throttled password checks, one-time reset links, profile changes.

Reset links need no table: a link is signed with the server's secret and carries a fingerprint of the account's
current password hash, so it stops working the moment the password changes (one use), or after `RESET_MAX_AGE`.
Nothing assumes a mail server; when SMTP settings are given (PODIUM_SMTP_HOST and friends) the link is also mailed.
"""
from __future__ import annotations

import hashlib
import os
import smtplib
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from typing import Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from podium.errors import PodiumError
from podium.models import User
from podium.services import audit, users

RESET_MAX_AGE = 3 * 24 * 3600
RESET_SALT = "podium.password-reset"
LEADERBOARD_NAME_MAX = 40
SIGN_IN_FAILED = "The email or the password is not right."


class TooManyAttempts(PodiumError):
    code = 429


class Throttle:
    """At most `limit` failures per key within `window` seconds (a sliding window, kept in memory).

    One per process: a server with several worker processes allows that many times the limit, which still stops
    password guessing at scale. Keys are e.g. "account:<email>" and "ip:<address>".
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures[key]
        cutoff = self.clock() - self.window
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return stamps

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        with self._lock:
            stamps = self._recent(key)
            if len(stamps) < self.limit:
                return 0.0
            return max(0.0, stamps[0] + self.window - self.clock())

    def fail(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self.clock())

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


@dataclass
class SignInThrottles:
    # An account is guessed at slowly from anywhere; an address may mistype a few accounts (a shared lab) but not many.
    account: Throttle
    address: Throttle

    @classmethod
    def default(cls) -> SignInThrottles:
        return cls(account=Throttle(limit=5, window=15 * 60), address=Throttle(limit=30, window=15 * 60))


def sign_in(session: Session, throttles: SignInThrottles, email: str, password: str, address: str) -> User:
    """The account for these credentials, or an error that says what to do (wrong credentials or wait)."""
    email_key = f"account:{(email or '').strip().lower()}"
    address_key = f"ip:{address}"
    wait = max(throttles.account.retry_after(email_key), throttles.address.retry_after(address_key))
    if wait:
        minutes = max(1, round(wait / 60))
        raise TooManyAttempts(f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
                              "or ask the course staff for a password reset link.")
    try:
        user = users.find_user(session, email or "")
    except PodiumError:
        user = None
    if user is None or not user.password_hash:
        _spend_a_password_check(password or "")  # unknown accounts take as long to refuse as known ones
    if not users.check_password(user, password or ""):
        throttles.account.fail(email_key)
        throttles.address.fail(address_key)
        raise PodiumError(SIGN_IN_FAILED, code=401)
    throttles.account.clear(email_key)
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a password", method="scrypt")


def _spend_a_password_check(password: str) -> None:
    check_password_hash(_dummy_hash(), password)


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
    audit.record(session, user.email, "user.password_reset", target=user.email)
    return user


def issue_reset_token(session: Session, secret: str, user: User, actor: str, course_id: int | None = None) -> str:
    """A reset token for a link staff hand out; issuing one is audited (the link lets its holder set the password)."""
    audit.record(session, actor, "user.reset_link", course_id=course_id, target=user.email)
    return reset_token(secret, user)


# --- mail, only when configured ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool


def smtp_settings(environ: dict | None = None) -> SmtpSettings | None:
    env = os.environ if environ is None else environ
    host = env.get("PODIUM_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(host=host, port=int(env.get("PODIUM_SMTP_PORT", 587)),
                        sender=env.get("PODIUM_SMTP_FROM", f"podium@{host}"),
                        username=env.get("PODIUM_SMTP_USER"), password=env.get("PODIUM_SMTP_PASSWORD"),
                        starttls=env.get("PODIUM_SMTP_STARTTLS", "true").lower() not in ("0", "false", "no"))


def mail_reset_link(smtp: SmtpSettings, user: User, link: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, user.email, "Set your Podium password"
    message.set_content(f"Hello {user.name or user.email},\n\nOpen this link to set a new Podium password:\n\n{link}\n\n"
                        f"It works once and for {RESET_MAX_AGE // 86400} days. If you did not ask for it, ignore this mail.\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=20) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


# --- the profile -------------------------------------------------------------------------------------------


def set_leaderboard_name(session: Session, user: User, name: str) -> None:
    name = " ".join((name or "").split())
    if not name:
        raise PodiumError("Choose a leaderboard name: it is what other students see instead of your real name.")
    if len(name) > LEADERBOARD_NAME_MAX:
        raise PodiumError(f"A leaderboard name has at most {LEADERBOARD_NAME_MAX} characters.")
    user.leaderboard_name = name
    audit.record(session, user.email, "user.leaderboard_name", target=user.email, name=name)


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if user.password_hash and not users.check_password(user, current or ""):
        raise PodiumError("The current password is not right.", code=403)
    users.set_password(user, new or "")
    audit.record(session, user.email, "user.password_change", target=user.email)
