"""Course invitation links (podium.services.invitations): the staff page that makes, lists and revokes them, and the
page a link opens, which asks before it enrols (a GET never changes anything).

The link's own page is reached signed in only: a visitor is sent to sign in (any way the site offers) and comes
back to the link. Its address grants access, so no browser or proxy keeps a copy (no-store), and the staff page
that shows a new link is answered the same way.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from podium import rules
from podium.domain import utcnow
from podium.errors import FieldError, PodiumError
from podium.services import invitations, ratelimit
from podium.web.access import course_for_staff, me, signed_in
from podium.web.context import db_session, rt
from podium.web.forms import NOTHING, SentBack, sent_back
from podium.web.links import links_mailed, shown_url
from podium.web.security import no_store
from podium.web.staff import shown

bp = Blueprint("invitations", __name__)

# The form's fields as its labels name them, for the service's messages.
FIELDS = {"label": "The label", "expires": "The expiry", "domains": "The allowed email domains",
          "mail_to": "Mail the link to"}


def limiter() -> ratelimit.Limiter:
    return current_app.extensions["podium.limiter"]


def client_address() -> str:
    return request.remote_addr or "unknown"


# --- staff ------------------------------------------------------------------------------------------------


@bp.get("/staff/<slug>/invitations")
@signed_in
def staff_page(slug: str):
    return _page(course_for_staff(slug))


def _page(course, back: SentBack = NOTHING, *, new_link: str | None = None, new_id: int | None = None):
    listed = invitations.listing(db_session(), course, by=me())
    return shown("staff/invitations.html", back, course=course, listed=listed, new_link=new_link, new_id=new_id,
                 describe_domains=invitations.describe_domains, can_mail=links_mailed())


@bp.post("/staff/<slug>/invitations")
@no_store  # the answer shows the new link, whose address enrols
@signed_in
def create(slug: str):
    course = course_for_staff(slug)
    try:
        made = invitations.create(db_session(), course, by=me(), actor=me().email,
                                  label=request.form.get("label", ""), expires_at=_expiry(course.timezone),
                                  domains=request.form.get("domains", ""),
                                  mail_to=request.form.get("mail_to", ""), settings=rt().settings)
    except PodiumError as exc:
        return _page(course, sent_back("create", exc, FIELDS))
    # Shown in this answer only: never stored, and not put in the (signed, not encrypted) session cookie by a flash.
    return _page(course, new_link=shown_url("invitations.join", token=made.token), new_id=made.invitation.id)


def _expiry(tz: str):
    typed = request.form.get("expires", "").strip()
    if not typed:
        return None
    try:
        return rules.local_to_utc(typed.replace("T", " ") + (":00" if typed.count(":") == 1 else ""), tz)
    except ValueError as exc:
        raise FieldError("expires", "{expires}: {problem}", problem=str(exc)) from None


@bp.post("/staff/<slug>/invitations/<int:invitation_id>/revoke")
@signed_in
def revoke(slug: str, invitation_id: int):
    course = course_for_staff(slug)
    try:
        revoked = invitations.revoke(db_session(), course, invitation_id, by=me(), actor=me().email)
    except PodiumError as exc:
        if exc.code == 404:
            raise  # another course's link, or none: a page of its own, as for other ids of the course
        return _page(course, sent_back("revoke", exc))
    flash(f"Invitation link {revoked.label or revoked.id} revoked: it enrols nobody any more; the "
          f"{revoked.joined} who joined through it stay.")
    return redirect(url_for("invitations.staff_page", slug=slug))


# --- whoever opens a link ---------------------------------------------------------------------------------


@bp.get("/join/<token>")
@no_store
@signed_in
def join(token: str):
    try:
        opened = invitations.open_link(db_session(), limiter(), token, me(), client_address(), utcnow())
    except PodiumError as exc:
        return _refused(exc)
    return render_template("invitations/join.html", opened=opened, token=token, role_words=_role_words)


@bp.post("/join/<token>")
@no_store
@signed_in
def join_now(token: str):
    try:
        done = invitations.join(db_session(), limiter(), token, me(), client_address(), utcnow())
    except PodiumError as exc:
        return _refused(exc)
    course = done.course
    if done.already_in:
        flash(f"You are already in {course.title} as {_role_words(done.role)}; the invitation link changed nothing.")
    else:
        flash(f"You joined {course.title} as a student. Choose the name leaderboards show for you on your profile.")
    return redirect(url_for("student.course", slug=course.slug))


def _refused(exc: PodiumError):
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ratelimit.RateLimited) else {}
    return render_template("invitations/join.html", opened=None, refusal=exc.message), exc.code, headers


ROLE_WORDS = {"student": "a student", "staff": "course staff (a TA)", "instructor": "an instructor"}


def _role_words(role) -> str:
    return ROLE_WORDS.get(role.value, role.value)
