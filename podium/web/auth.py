"""Who is calling the APIs: HTTP Basic with an email and an API key (scripts, the Kaggle CLI), or the browser session.

A request that sends an Authorization header is judged by it alone: a wrong key is a 401 even when a session
cookie rides along. Without the header, the site's session (`flask.session["user_id"]`, set at sign-in) is used, as
long as it stands (podium.web.context.session_user: not signed out, no new password since, not idle, not too old).

CSRF (podium.web.extensions calls `csrf_exempt()` before the site's check): a forged cross-site request can only
ride on credentials the browser adds by itself, the session cookie. So the API blueprints (`api`, `kaggle`) skip
the token check for requests that carry HTTP Basic credentials (scripts, the Kaggle CLI) or no signed-in session
at all (they are answered 401 anyway); a call riding on the session cookie needs the X-CSRFToken header, as the
site's own scripts send it. The Kaggle upload URL (`TOKEN_AUTHENTICATED_ENDPOINTS`) uses neither cookie nor
credentials: its unguessable single-use token is the authorisation. A request whose Origin header names another
site is never exempt (browsers cache Basic credentials too).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, jsonify, request, session

from podium.domain import Role
from podium.errors import PodiumError
from podium.services import ratelimit, users
from podium.web.context import USER_KEY, db_session, session_user

REALM = "podium"
API_BLUEPRINTS = frozenset({"api", "kaggle"})
TOKEN_AUTHENTICATED_ENDPOINTS = frozenset({"kaggle.upload"})
# Posted by a learning platform's page, from its own site, and proved by what they carry (podium.web.lti): a signed
# id_token and the state cookie this browser got when the launch began.
SIGNED_MESSAGE_ENDPOINTS = frozenset({"lti.login", "lti.launch"})


class Unauthenticated(PodiumError):
    code = 401


def current_user():
    """The caller, from HTTP Basic (email, API key) or else the browser session; None when neither identifies one."""
    if "api_user" not in g:
        g.api_user = _from_basic() if request.authorization is not None else _from_session()
        if g.api_user is not None:
            g.current_user = g.api_user  # one caller for the whole request, pages' helpers included
    return g.api_user


def _from_basic():
    auth = request.authorization
    if auth.type != "basic" or not auth.username or not auth.password:
        return None
    # authenticate_key compares hashes in constant time.
    return users.authenticate_key(db_session(), auth.username, auth.password)


def _from_session():
    return session_user()


def require_user():
    """The caller's account (a `User`), or a 401 saying how to authenticate."""
    user = current_user()
    if user is None:
        if request.authorization is not None:
            raise Unauthenticated("The email or API key is wrong. Create a new key on your profile page (or with "
                                  "`podium users token EMAIL`) and use your email as the username.")
        raise Unauthenticated("Authentication required: use HTTP Basic with your email as the username and your API "
                              "key as the password.")
    return user


def role_in(course) -> Role | None:
    return users.role_in(require_user(), course)


def is_staff(course) -> bool:
    role = role_in(course)
    return role is not None and role.is_staff


def limit_api_request():
    """Count this API request against its caller's limit, or answer 429 (JSON, with Retry-After) when it is spent.

    One conditional UPDATE per request: per account (API key or session) when the caller is identified, otherwise
    per client address, which also stops anyone trying keys. The token-authenticated upload, which carries no
    credentials, is counted per client address with the other routes that need no sign-in (podium.web.limits)."""
    if (request.blueprint or "").split(".")[0] not in API_BLUEPRINTS or request.endpoint in TOKEN_AUTHENTICATED_ENDPOINTS:
        return None
    limiter: ratelimit.Limiter = current_app.extensions["podium.limiter"]
    limit = limiter.limits.api
    user = current_user()
    if user is not None:
        scope, subject, who = ratelimit.API_KEY, f"user:{user.id}", "for each API key"
    else:
        scope, subject = ratelimit.API_ADDRESS, request.remote_addr or "unknown"
        who = "from one address without valid credentials"
    # The caller's account was read in this request's transaction; end it (it wrote nothing): on SQLite it holds the
    # one write lock, which the counter's own short transaction needs.
    db_session().commit()
    wait = limiter.take(scope, subject, limit)
    if not wait:
        return None
    response = jsonify(code=429, message=f"Too many API requests: at most {limit.describe()} {who}. Try again in "
                                         f"{ratelimit.wait_words(wait)}.", retry_after=wait)
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def csrf_exempt() -> bool:
    """Whether the current request may skip the site's CSRF check (see the module's docstring)."""
    if request.endpoint in SIGNED_MESSAGE_ENDPOINTS:
        return True
    if _from_another_site():
        return False
    if request.endpoint in TOKEN_AUTHENTICATED_ENDPOINTS:
        return True
    if request.endpoint is None and request.path.startswith("/api/"):
        # An API URL no rule took (an id beyond what an id column holds): answered 404 in JSON, doing nothing.
        return True
    if (request.blueprint or "").split(".")[0] not in API_BLUEPRINTS:
        return False
    return request.authorization is not None or session.get(USER_KEY) is None


def _from_another_site() -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host
