"""Single sign-on: "Sign in with <provider>" (OpenID Connect) and an authenticating proxy's header; the page a
person enrolled in no course lands on.

Both ways end as a password sign-in does (podium.web.context.sign_in_session: a fresh session of the account's
current generation), after one service call (podium.services.sign_on.account_for_verified_email). The provider
is asked with no database transaction of the request open (`end_request_transaction`), so a slow provider holds no
lock and no connection.

The proxy's header is believed only from the proxy's own address (PODIUM_AUTH_PROXY_ADDRESSES, the TCP peer, not
what X-Forwarded-For says: behind PODIUM_TRUST_PROXY hops that is only what the proxies were told), and never on
the APIs, which authenticate with HTTP Basic and an API key or the session as before: a cross-site form sent to an
API would carry the proxy's sign-in without a session cookie, so without the CSRF check a session brings.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for

from podium.errors import NotFound, PodiumError
from podium.services import oidc, sign_on, users
from podium.web.access import me, signed_in
from podium.web.accounts import safe_next
from podium.web.auth import API_BLUEPRINTS
from podium.web.context import db_session, end_request_transaction, rt, session_user, sign_in_session
from podium.web.limits import limited_per_address
from podium.web.links import external_url
from podium.web.security import no_store

bp = Blueprint("sign_on", __name__)
log = logging.getLogger(__name__)

FLOWS_KEY = "sign_on_flows"
FLOWS_KEPT = 3  # sign-ins started in other tabs of the browser and not finished yet
PROXY_NAME = "your institution's sign-in"


def init_app(app: Flask) -> None:
    settings = app.extensions["podium"].settings
    if settings.oidc is not None:
        with app.app_context():
            redirect_uri = external_url("sign_on.callback")
        app.extensions["podium.oidc"] = oidc.Provider(settings.oidc, redirect_uri)
    app.before_request(sign_in_from_proxy)

    @app.context_processor
    def ways_to_sign_in():
        return {"sign_on_name": settings.oidc.provider_name if settings.oidc else None,
                "password_sign_in": settings.password_sign_in,
                "proxy_sign_in": settings.auth_proxy is not None}


def provider() -> oidc.Provider:
    found = current_app.extensions.get("podium.oidc")
    if found is None:
        raise NotFound("Single sign-on is not set up on this Podium (PODIUM_OIDC_DISCOVERY_URL); sign in with your "
                       "email and password.")
    return found


# --- OpenID Connect ----------------------------------------------------------------------------------------


@bp.get("/sign-in/oidc")
@limited_per_address("sign-on", "the single sign-on pages")
def start():
    """Leave for the provider's sign-in page, with what the browser keeps until it comes back."""
    chosen = provider()
    next_url = safe_next(request.args.get("next"))
    end_request_transaction()  # the provider's discovery document may be fetched now
    try:
        url, flow = chosen.start(next_url)
    except PodiumError as exc:
        return _sign_in_page(exc, next_url)
    flows = {state: kept for state, kept in _flows().items() if oidc.Flow.from_dict(kept) is not None}
    flows[flow.state] = flow.as_dict()
    session[FLOWS_KEY] = dict(sorted(flows.items(), key=lambda item: item[1]["started"])[-FLOWS_KEPT:])
    return redirect(url)


@bp.get("/sign-in/oidc/callback")
@no_store  # its address carries a sign-in code
@limited_per_address("sign-on", "the single sign-on pages")
def callback():
    """Where the provider sends the person back: the code is exchanged and its ID token checked (oidc.Provider),
    then the person is signed in to the account of their verified email."""
    chosen = provider()
    flow = _take_flow(request.args.get("state", ""))
    next_url = flow.next_url if flow else url_for("main.index")
    try:
        if flow is None:
            raise oidc.SignOnRefused("This sign-in answer is not one this browser is waiting for: it was used "
                                     "already, or the sign-in was started in another browser or was left too long. "
                                     "Start again from the sign-in page.")
        if error := request.args.get("error"):
            cancelled = error == "access_denied"
            raise oidc.SignOnRefused(f"{chosen.name} did not sign you in ("
                                     f"{'you cancelled' if cancelled else request.args.get('error_description') or error}"
                                     "). Start again when you are ready.")
        end_request_transaction()  # no transaction stays open while the provider is asked
        identity = chosen.finish(flow, request.args.get("code", ""))
        user = _signed_on(identity.email, identity.name, via=sign_on.VIA_OIDC, verified=identity.email_verified,
                          provider=chosen.name)
    except PodiumError as exc:
        return _sign_in_page(exc, next_url)
    sign_in_session(user)
    return redirect(_after_sign_on(user, next_url))


def _flows() -> dict:
    flows = session.get(FLOWS_KEY)
    return dict(flows) if isinstance(flows, dict) else {}


def _take_flow(state: str) -> oidc.Flow | None:
    """The flow this answer's `state` belongs to, taken out of the session: a state is good once."""
    flows = _flows()
    kept = flows.pop(state, None) if state else None
    if kept is not None:
        session[FLOWS_KEY] = flows
    return oidc.Flow.from_dict(kept)


def _sign_in_page(exc: PodiumError, next_url: str):
    page = render_template("accounts/sign_in.html", next_url=next_url, email="", error=exc.message)
    return page, exc.code, exc.headers


def _after_sign_on(user, next_url: str) -> str:
    """Where a person signed in by a provider goes: where they were headed, or, when no course has them, to the page
    that says how to join one."""
    return next_url if user.enrolments else url_for("sign_on.enrolled_nowhere")


# --- an authenticating proxy -------------------------------------------------------------------------------


def sign_in_from_proxy():
    """Before every page: sign in the person the proxy's header names, when the request came from the proxy."""
    proxy = rt().settings.auth_proxy
    if proxy is None or request.endpoint == "static" or (request.blueprint or "").split(".")[0] in API_BLUEPRINTS:
        return None
    email = request.headers.get(proxy.header, "").strip()
    if not email:
        return None
    peer = _peer_address()
    if not proxy.believes(peer):
        log.warning("a request from %s carried %s, which is believed only from PODIUM_AUTH_PROXY_ADDRESSES; it was "
                    "ignored", peer, proxy.header)
        return None
    current = session_user()
    if current is not None and current.email == users.email_key(email):
        return None
    sign_in_session(_signed_on(email, "", via=sign_on.VIA_PROXY, verified=True, provider=PROXY_NAME))
    return None


def _signed_on(email: str, name: str, **how):
    """The account the provider vouches for, made or found in a unit of work of its own (this request's session
    only reads when it is a GET), read back through the request's session."""
    end_request_transaction()
    return users.user_by_id(db_session(), sign_on.sign_in(rt().db, email, name, **how))


def _peer_address() -> str | None:
    """The address of whoever opened the connection to Podium, before X-Forwarded-For was believed (ProxyFix keeps
    the original)."""
    original = request.environ.get("werkzeug.proxy_fix.orig")
    if isinstance(original, dict):
        return original.get("REMOTE_ADDR")
    return request.environ.get("REMOTE_ADDR")


# --- enrolled nowhere --------------------------------------------------------------------------------------


@bp.get("/no-course")
@signed_in
def enrolled_nowhere():
    """What a person whom no course has is told: that it is so, how to join one, and whom to ask."""
    user = me()
    if user.enrolments:
        return redirect(url_for("main.index"))
    return render_template("accounts/enrolled_nowhere.html", user=user, contact=rt().settings.contact_email)
