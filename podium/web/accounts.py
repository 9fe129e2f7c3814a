"""Accounts: sign in and out, reset a password with a one-time link, the profile (leaderboard name, API key, mail
notifications)."""
from __future__ import annotations

import logging
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for

from podium.errors import PodiumError
from podium.services import accounts, mails, notifications, ratelimit, users
from podium.web.access import me, signed_in
from podium.web.context import current_user, db_session, rt, sign_in_session, sign_out_session
from podium.web.limits import limited_per_address
from podium.web.links import absolute_url, links_mailed
from podium.web.security import no_store

bp = Blueprint("accounts", __name__)
log = logging.getLogger(__name__)


def limiter() -> ratelimit.Limiter:
    return current_app.extensions["podium.limiter"]


def passwords_off_message() -> str | None:
    return accounts.passwords_refused(rt().settings)


def safe_next(target: str | None) -> str:
    """Only paths on this site: a sign-in link must not bounce people to somewhere else. Browsers read a backslash
    as a slash (`/\\evil.example` is `//evil.example`), and drop tabs and newlines, so those are refused too."""
    if (not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc
            or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target)):
        return url_for("main.index")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
@limited_per_address("sign-in", "the sign-in page")
def sign_in():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url)
        return render_template("accounts/sign_in.html", next_url=next_url, email="")
    email = request.form.get("email", "")
    if off := passwords_off_message():
        return render_template("accounts/sign_in.html", next_url=next_url, email=email, error=off), 403
    try:
        user = accounts.sign_in(db_session(), limiter(), email, request.form.get("password", ""),
                                request.remote_addr or "unknown")
    except ratelimit.RateLimited as exc:
        return (render_template("accounts/sign_in.html", next_url=next_url, email=email, error=exc.message), exc.code,
                {"Retry-After": str(exc.retry_after)})
    except PodiumError as exc:
        return render_template("accounts/sign_in.html", next_url=next_url, email=email, error=exc.message), exc.code
    sign_in_session(user)
    return redirect(next_url)


@bp.post("/sign-out")
def sign_out():
    if (user := current_user()) is not None:
        accounts.sign_out(db_session(), user)
    sign_out_session()
    flash("You are signed out.")
    return redirect(url_for("accounts.sign_in"))


@bp.post("/profile/sign-out-everywhere")
@signed_in
def sign_out_everywhere():
    accounts.sign_out_everywhere(db_session(), me())
    sign_out_session()
    flash("You are signed out everywhere: on every computer and browser, Podium asks for your password again.")
    return redirect(url_for("accounts.sign_in"))


@bp.route("/forgot", methods=["GET", "POST"])
@limited_per_address("forgot", "the forgotten-password page")
def forgot():
    if off := passwords_off_message():
        return render_template("accounts/forgot.html", passwords_off=off), 200 if request.method == "GET" else 403
    can_mail = links_mailed()
    if request.method == "GET":
        return render_template("accounts/forgot.html", can_mail=can_mail)
    # The same answer whether or not the address has an account, so the form cannot be used to test addresses; and
    # in the same time: everything that depends on the account (its lookup, the limit, writing the mail to the
    # outbox) runs once the answer has been sent. The mail itself goes out with the background work.
    response = make_response(render_template("accounts/forgot.html", can_mail=can_mail, sent=True))
    if can_mail:
        response.call_on_close(_after_the_answer(request.form.get("email", "")))
    return response


def _after_the_answer(email: str) -> Callable[[], None]:
    """Queue the reset mail for `email` when the server closes the response (after its last byte went out).

    By then the request's context is gone: it runs in an application context of its own, and its failures are
    logged, since nobody is waiting for an answer any more."""
    app = current_app._get_current_object()

    def queue() -> None:
        with app.app_context():
            try:
                mails.queue_reset_if_known(db_session(), limiter(), rt().settings, email)
            except Exception:  # noqa: BLE001 - logged: the answer is sent, nothing else can report it
                log.exception("the password reset mail asked for on /forgot was not queued")

    return queue


@bp.route("/reset/<token>", methods=["GET", "POST"])
@no_store  # its address grants access
@limited_per_address("reset", "the password reset page")
def reset(token: str):
    if off := passwords_off_message():
        raise PodiumError(off, code=403)
    secret = rt().settings.secret_key
    user = accounts.user_for_reset(db_session(), secret, token)
    if request.method == "GET":
        return render_template("accounts/reset.html", user=user)
    password, again = request.form.get("password", ""), request.form.get("again", "")
    if password != again:
        return render_template("accounts/reset.html", user=user, error="The two passwords differ."), 422
    try:
        accounts.reset_password(db_session(), secret, token, password)
    except PodiumError as exc:
        return render_template("accounts/reset.html", user=user, error=exc.message), exc.code
    sign_in_session(user)
    flash("Your password is set.")
    return redirect(url_for("main.index"))


@bp.get("/profile")
@signed_in
def profile():
    return render_template("accounts/profile.html", user=me(), new_key=None)


@bp.app_template_global()
def kaggle_endpoint() -> str:
    """What KAGGLE_API_ENDPOINT is set to for this Podium: its address (the client adds /api/v1 itself)."""
    return absolute_url("main.index").rstrip("/")


@bp.post("/profile/name")
@signed_in
def set_name():
    slug = request.form.get("course", "")
    try:
        course = accounts.course_to_name_in(me(), slug)
        accounts.set_leaderboard_name(db_session(), me(), course, request.form.get("leaderboard_name", ""))
    except PodiumError as exc:
        return render_template("accounts/profile.html", user=me(), new_key=None, name_error=exc.message,
                               name_error_course=slug), exc.code
    flash(f"Your leaderboard name in {course.slug} is saved.")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/notifications")
@signed_in
def set_notifications():
    # Unticked boxes are not sent: a box's absence is its "no".
    chosen = notifications.Choices(**{name: request.form.get(name) == "on" for name in notifications.Choices.NAMES})
    changed = notifications.choose(db_session(), me(), chosen)
    flash("Your mail notifications are saved." if changed else "Your mail notifications were already so.")
    return redirect(url_for("accounts.profile") + "#notifications")


@bp.post("/profile/api-key")
@no_store
@signed_in
def new_api_key():
    # Shown in this response only: it is neither stored nor put in the (signed, not encrypted) session cookie.
    key = users.issue_api_key(db_session(), me(), actor=me().email)
    return render_template("accounts/profile.html", user=me(), new_key=key)


@bp.post("/profile/password")
@signed_in
def change_password():
    if request.form.get("new", "") != request.form.get("again", ""):
        return render_template("accounts/profile.html", user=me(), new_key=None,
                               password_error="The two new passwords differ."), 422
    try:
        accounts.change_password(db_session(), me(), request.form.get("current", ""), request.form.get("new", ""))
    except PodiumError as exc:
        return render_template("accounts/profile.html", user=me(), new_key=None,
                               password_error=exc.message), exc.code
    sign_in_session(me())  # the new password ended every session, this browser's with them: it starts a new one
    flash("Your password is changed, and you are signed out everywhere else.")
    return redirect(url_for("accounts.profile"))
