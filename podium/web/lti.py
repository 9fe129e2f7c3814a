"""LTI 1.3: the learning platform's ways into Podium.

- /lti/login: the platform's third-party login initiation (GET or POST); the browser is sent to the platform's
  authorization endpoint with a state cookie (podium.services.lti_tool).
- /lti/launch: the platform's form with the signed id_token. It is checked whole with no transaction open (the
  platform's keys may be fetched), then `lti.land` matches the person and the course; the person is signed in as
  a password sign-in does (a fresh session). An instructor's first launch from an LMS course goes to /lti/link; a
  deep-linking launch to /lti/deep-link.
- /lti/jwks.json: Podium's public key, which the platform checks Podium's signed requests with.

The two platform-posted routes skip the site's CSRF check (podium.web.auth.SIGNED_MESSAGE_ENDPOINTS): they are
posted by the platform's page, from another site, and carry their own proof (the signed token, the state and the
browser session cookies this browser got when the launch began: the token's nonce is good in that browser only).

Framing: Podium opens in a window of its own. When the platform is registered with `--allow-framing` (HTTPS only)
and the launch asks for a frame, the session is marked with the platform page's origin: its pages then allow that
origin (and no other) to frame them, and its cookie is SameSite=None (podium.web.security).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for

from podium.errors import PodiumError
from podium.services import lti, lti_tool, users
from podium.web.access import me, signed_in
from podium.web.context import db_session, end_request_transaction, rt, sign_in_session
from podium.web.limits import limited_per_address
from podium.web.security import FRAME_ORIGIN_KEY, allow_form_target, no_store

bp = Blueprint("lti", __name__)

LAUNCH_KEY = "lti_launch"      # the launch a signed-in session may continue (choosing a course, deep linking)
STATE_COOKIE_PATH = "/lti/"


def _tool() -> lti_tool.Tool:
    return lti.tool(rt().settings, rt().db)


def _launch_url() -> str:
    return lti.require_base_url(rt().settings) + lti.LAUNCH_PATH


@bp.route("/lti/login", methods=["GET", "POST"])
@limited_per_address("lti", "the LTI launch pages")
def login():
    params = request.values.to_dict()
    end_request_transaction()
    try:
        answer = _tool().login_redirect(params, _launch_url(), secure=request.is_secure, cookies=request.cookies)
    except PodiumError as exc:
        return _refusal(exc)
    response = redirect(answer.url)
    for name, value, seconds in answer.cookies:
        # Sent back on the platform's cross-site form post: SameSite=None over HTTPS; over plain HTTP (a local
        # trial) browsers refuse None without Secure, and Lax works when platform and Podium share the site.
        response.set_cookie(name, value, max_age=seconds, path=STATE_COOKIE_PATH, httponly=True,
                            secure=request.is_secure, samesite="None" if request.is_secure else "Lax")
    return response


@bp.post("/lti/launch")
@no_store
@limited_per_address("lti", "the LTI launch pages")
def launch():
    end_request_transaction()  # the platform's keys may be fetched: no transaction waits on its network
    try:
        checked = _tool().validate(request.form.to_dict(), request.cookies, secure=request.is_secure)
        landing = lti.land(rt().db, checked)
    except PodiumError as exc:
        return _refusal(exc)
    sign_in_session(users.user_by_id(db_session(), landing.user_id))
    session[LAUNCH_KEY] = checked.launch_id
    _mark_frame(checked)
    return redirect(_next(landing))


@bp.get("/lti/jwks.json")
@limited_per_address("lti", "the LTI launch pages")
def keys():
    response = jsonify(_tool().key.jwks())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/lti/link", methods=["GET", "POST"])
@signed_in
def link():
    """An instructor's first launch from an LMS course: which of their Podium courses it is."""
    checked = _continued_launch()
    user = me()
    if request.method == "POST":
        try:
            landing = _linked(checked, user.id)
        except PodiumError as exc:
            return _link_page(checked, user, error=exc.message), exc.code
        return redirect(_next(landing))
    return _link_page(checked, user)


def _linked(checked: lti_tool.Launch, user_id: int) -> lti.Landing:
    end_request_transaction()
    return lti.link_context(rt().db, checked, user_id, request.form.get("course", ""),
                            create_accounts=request.form.get("create_accounts") == "on")


def _link_page(checked: lti_tool.Launch, user, error: str | None = None):
    try:
        choices = lti.link_choices(db_session(), checked, user)
    except PodiumError as exc:
        return _refusal(exc)
    return render_template("lti/link.html", launch=checked, choices=choices, error=error)


@bp.route("/lti/deep-link", methods=["GET", "POST"])
@signed_in
@no_store
def deep_link():
    """A deep-linking launch: staff choose competitions to place in the LMS course, each with its gradebook column."""
    checked = _continued_launch()
    user = me()
    try:
        choices = lti.deep_link_choices(db_session(), checked, user)
    except PodiumError as exc:
        return _refusal(exc)
    if request.method == "GET":
        return render_template("lti/deep_link.html", launch=checked, competitions=choices, error=None)
    try:
        items = lti.deep_link_items(db_session(), rt().settings, checked, user, request.form.getlist("competition"))
        target, token = _tool().deep_link_answer(checked, items)
    except PodiumError as exc:
        page = render_template("lti/deep_link.html", launch=checked, competitions=choices, error=exc.message)
        return page, exc.code
    allow_form_target(target)
    return render_template("lti/deep_link_return.html", target=target, token=token, count=len(items))


def _continued_launch() -> lti_tool.Launch:
    launch_id = session.get(LAUNCH_KEY)
    if not isinstance(launch_id, str):
        raise lti_tool.LaunchRefused("Open Podium from your course in the learning platform first.")
    return _tool().restored(launch_id)


def _next(landing: lti.Landing) -> str:
    if landing.needs_link:
        return url_for("lti.link")
    if landing.deep_linking:
        return url_for("lti.deep_link")
    if landing.competition_slug:
        return url_for("student.competition", cid=f"{landing.course_slug}-{landing.competition_slug}")
    return url_for("student.course", slug=landing.course_slug)


def _mark_frame(checked: lti_tool.Launch) -> None:
    """Let the platform's page frame this session's pages when the platform allows framing, the launch asked for a
    frame and both ends are HTTPS; the origin is that of the page that posted the launch (the browser's Origin
    header, which no page can forge)."""
    origin = request.headers.get("Origin", "")
    if checked.framed and request.is_secure and origin.startswith("https://") and urlsplit(origin).hostname \
            and lti.allows_framing(db_session(), checked.platform.id):
        session[FRAME_ORIGIN_KEY] = origin


def _refusal(exc: PodiumError):
    page = render_template("lti/refused.html", message=exc.message, code=exc.code)
    return page, exc.code, exc.headers
