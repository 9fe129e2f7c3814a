"""Single sign-on: the person an identity provider (OpenID Connect) or an authenticating proxy vouches for, matched
to their Podium account by email.

One rule for both ways in: the provider's word is taken only for a verified address, normalised as every address
Podium stores is (podium.services.users.normalise_email), so `Ada@Example.EDU` from the provider is the account
`ada@example.edu` that staff enrolled. Someone Podium does not know yet gets a new account with no password and no
enrolment (their course staff give them a join link, or enrol them); a known account is signed in as it is, its
roles, password and API key untouched.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.db import Database
from podium.errors import PodiumError
from podium.models import User
from podium.services import audit, users

# How a person was vouched for, as the audit log names it.
VIA_OIDC = "oidc"
VIA_PROXY = "proxy"
NAME_LENGTH = 200  # users.name


class UnverifiedEmail(PodiumError):
    code = 403


def account_for_verified_email(session: Session, email: str, name: str = "", *, via: str,
                               verified: bool = True, provider: str = "your sign-in provider") -> User:
    """The account of the person a provider signed in with `email`, made (without a password or an enrolment)
    when there is none; audited as a sign-on sign-in, and as an account created by sign-on when it is new.

    `verified` is whether the provider vouches for the address (OpenID Connect's `email_verified`; a proxy's
    header is vouched for by the proxy); an unverified address signs nobody in, since anyone can type any address
    into an account at many providers."""
    if not verified:
        raise UnverifiedEmail(f"{provider} has not verified your email address {email.strip()}, so Podium cannot "
                              f"tell that it is yours. Verify it with {provider} (its account settings, or the "
                              "confirmation mail it sent you), then sign in again; or ask your course staff.")
    try:
        key = users.normalise_email(email)
    except PodiumError:
        raise PodiumError(f"{provider} signed you in as {email.strip()!r}, which is not an email address, so Podium "
                          "cannot find your account. Tell your course staff.", code=403) from None
    user = _account(session, key)
    if user is None:
        user = _new_account(session, key, name, via)
    audit.record(session, user.email, "user.sign_on", target=user.email, via=via)
    return user


def sign_in(db: Database, email: str, name: str = "", *, via: str, verified: bool = True,
            provider: str = "your sign-in provider") -> int:
    """`account_for_verified_email` as a unit of work of its own, committed before it returns: signing on happens
    in GET requests (a provider's redirect, any request through a proxy), whose own session only reads. The
    account's id."""
    with db.session() as session:
        return account_for_verified_email(session, email, name, via=via, verified=verified, provider=provider).id


def _account(session: Session, key: str) -> User | None:
    return session.scalar(select(User).where(User.email == key))


def _new_account(session: Session, key: str, name: str, via: str) -> User:
    """A new account for `key`; when another request made it in the meantime (two tabs coming back at once), that
    one. Called with nothing else pending in the session, so that losing the race rolls back only this."""
    user = User(email=key, name=(name or "").strip()[:NAME_LENGTH])
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        existing = _account(session, key)
        if existing is None:
            raise
        return existing
    audit.record(session, key, "user.created_by_sign_on", target=key, via=via)
    return user
