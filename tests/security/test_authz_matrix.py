"""Who may do what: every route of the app, for every kind of caller, with the answer each must get.

The matrix names every (rule, method) of `app.url_map`; a route added without an entry here fails
`test_the_matrix_names_every_route_and_method`, so nobody adds a page without deciding who may see it.

Callers: anonymous; two students of course c1 (`student` is A, `other` is B, and A's submission is the one asked
for); `outsider`, a student of course c2; `staff` (a TA of c1); `instructor` of c1. Pages are visited signed in
through the sign-in form and forms are sent with their CSRF token, as a browser does; /api/ routes are called with
HTTP Basic (email and API key), as scripts and the Kaggle CLI do.

Beyond the status, every answer is checked for what must hold everywhere: no student ever sees another student's
email, real name or submission description; anonymous visitors of a page are sent to sign in; API refusals are
JSON {"code", "message"} (401 with WWW-Authenticate); nothing is a server error or a traceback; and every response
carries the security headers.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from podium.models import MailState, User
from podium.services import authority, extensions, invitations, outbox, slack, upload_tickets, users
from podium.services.accounts import reset_token
from podium.services.courses import get_competition, get_course
from tests.conftest import predictions
from tests.security.conftest import EMAIL, ROLES, SECRET, People
from tests.web.helpers import PASSWORD, Browser

CID, SLUG = "c1-hw1", "c1"
REAL_NAME = {"student": "Stu Dent", "other": "Oth Er", "staff": "Tea Assistant", "instructor": "Pro Fessor",
             "outsider": "Out Sider"}
# What each student must never find in any answer: the other people's emails, real names and descriptions.
NEVER_SHOWN = {
    "student": (EMAIL["other"], REAL_NAME["other"], SECRET["other"], SECRET["outsider"]),
    "other": (EMAIL["student"], REAL_NAME["student"], SECRET["student"], SECRET["outsider"]),
    "outsider": (EMAIL["student"], EMAIL["other"], REAL_NAME["student"], REAL_NAME["other"], SECRET["student"],
                 SECRET["other"]),
}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def everyone(code: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, code)


def signed_in(code: int) -> dict[str, int]:
    return {**everyone(code), "anonymous": 302}


def members(code: int) -> dict[str, int]:
    """Anyone enrolled in c1; the outsider is refused the course."""
    return {**signed_in(code), "outsider": 403}


def staff_only(code: int) -> dict[str, int]:
    return {**members(code), "student": 403, "other": 403}


def instructor_only(code: int) -> dict[str, int]:
    return {**staff_only(code), "staff": 403}


def own(code: int) -> dict[str, int]:
    """A's submission: A and the course staff; B and the outsider are told it does not exist."""
    return {**members(code), "other": 404, "outsider": 404}


def api(expect: dict[str, int]) -> dict[str, int]:
    """The same rule for the API: without credentials, 401 instead of the sign-in page."""
    return {**expect, "anonymous": 401 if expect["anonymous"] == 302 else expect["anonymous"]}


@dataclass
class Ctx:
    """What a case may use to build its request: the app's runtime, the people, the course folder."""

    rt: object
    people: People
    folder: Path
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    rule: str
    method: str
    url: str                      # formatted with Ctx.fields and what `prepare` returns
    expect: dict[str, int]
    data: Callable[[Ctx, str, Browser], dict] | dict | None = None
    prepare: Callable[[Ctx, str], dict] | None = None   # per role, before its request
    variant: str = ""
    reveals: tuple[str, ...] = ()  # what this answer may show anyone, on purpose
    json: dict | None = None      # an API request's JSON body

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}" + (f" [{self.variant}]" if self.variant else "")


# --- request bodies --------------------------------------------------------------------------------------


def upload(ctx: Ctx, role: str, client) -> dict:
    return {"file": (io.BytesIO(predictions().encode()), "pred.csv"), "description": f"upload by {role}"}


def code_upload(ctx: Ctx, role: str, client) -> dict:
    return {"file": (io.BytesIO(f"# code by {role}\n".encode()), "code.py")}


def own_credentials(ctx: Ctx, role: str, client) -> dict:
    if role == "anonymous":
        return {"email": EMAIL["student"], "password": "not the password"}
    return {"email": EMAIL[role], "password": PASSWORD}


SETTINGS_FIELDS = ("title", "weight", "display_precision", "daily_limit", "opens", "early", "ontime", "late",
                   "cutoff_A", "cutoff_B", "cutoff_C", "cutoff_D", "cutoff_F")


def settings_form(ctx: Ctx, role: str, client) -> dict:
    """The competition's settings as its form shows them (a valid form); a caller who cannot see it sends a title."""
    text = client.get(f"/staff/competitions/{CID}").get_data(as_text=True)
    form = {"title": "Renamed by an intruder", "description": "", "slack_eligible": "on"}
    for name in SETTINGS_FIELDS:
        found = re.search(rf'name="{name}" value="([^"]*)"', text)
        if found:
            form[name] = found.group(1)
    return form


def same_solution(ctx: Ctx, role: str, client) -> dict:
    return {"solution": (io.BytesIO((ctx.folder / "hw1" / "solution.csv").read_bytes()), "solution.csv")}


# --- per-role preparations -------------------------------------------------------------------------------


def fresh_extension(ctx: Ctx, role: str) -> dict:
    """A new active extension of A on c1-hw1 (it replaces the previous one), for a revoke to act on."""
    with ctx.rt.db.session() as session:
        ext = extensions.grant(session, get_competition(session, CID), session.get(User, ctx.people.ids["student"]),
                               days=1, reason="for the matrix", actor="cli")
        session.flush()
        return {"ext": ext.id}


def other_enrolled(ctx: Ctx, role: str) -> dict:
    """B enrolled again as a student (an earlier role's unenrolment took B out), for an unenrolment to act on."""
    with ctx.rt.db.session() as session:
        users.add_user(session, EMAIL["other"], get_competition(session, CID).course, "student")
    return {}


def uploaded_ticket(ctx: Ctx, role: str) -> dict:
    """A Kaggle upload ticket of A's, its file already PUT: only A may hand it in."""
    body = predictions().encode()
    with ctx.rt.db.session() as session:
        issued = upload_tickets.issue(session, ctx.rt.settings, get_competition(session, CID),
                                      session.get(User, ctx.people.ids["student"]), "pred.csv", len(body))
    upload_tickets.store_upload(ctx.rt.db, ctx.rt.settings, issued.token, io.BytesIO(body), len(body))
    return {"ticket": issued.token}


def empty_ticket(ctx: Ctx, role: str) -> dict:
    """A fresh ticket of A's, nothing uploaded yet; the upload URL's token is its only authorisation."""
    body = predictions().encode()
    with ctx.rt.db.session() as session:
        issued = upload_tickets.issue(session, ctx.rt.settings, get_competition(session, CID),
                                      session.get(User, ctx.people.ids["student"]), "pred.csv", len(body))
    return {"ticket": issued.token}


def ledger_entry(slug: str, email: str) -> Callable[[Ctx, str], dict]:
    """A fresh slack ledger entry of course `slug` for each role to try to correct or remove."""
    def prepare(ctx: Ctx, role: str) -> dict:
        with ctx.rt.db.session() as session:
            slack.record_entry(session, get_course(session, slug), email, 1, f"entry for {role} to try", actor="test")
        with ctx.rt.db.session() as session:
            [entry] = [e.id for e in slack.ledger(session, get_course(session, slug))
                       if e.note.endswith(role + " to try")]
        return {"entry": entry}
    return prepare


def invitation_of(slug: str) -> Callable[[Ctx, str], dict]:
    """A fresh invitation link of course `slug` for each role to open, join through or revoke."""
    def prepare(ctx: Ctx, role: str) -> dict:
        with ctx.rt.db.session() as session:
            made = invitations.create(session, get_course(session, slug), by=authority.OPERATOR, actor="test",
                                      label=f"for {role}")
            return {"invite": made.token, "invite_id": made.invitation.id}
    return prepare


def failed_mail(slug: str) -> Callable[[Ctx, str], dict]:
    """A mail of course `slug` that failed, for each role to try again."""
    def prepare(ctx: Ctx, role: str) -> dict:
        with ctx.rt.db.session() as session:
            mail = outbox.enqueue(session, kind="added", to=EMAIL["student"], subject=f"for {role} to try",
                                  body="x", course_id=get_course(session, slug).id)
            mail.state, mail.last_error = MailState.FAILED, "550 no such user"
            session.flush()
            return {"mail": mail.id}
    return prepare


def ticket_body(ctx: Ctx, role: str, client) -> bytes:
    return predictions().encode()


# --- the matrix ------------------------------------------------------------------------------------------

API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
V1 = "/api/v1/competitions"

CASES = [
    # The front page, health, static files, signing in and out: for everyone.
    Case("/", "GET", "/", everyone(200)),
    Case("/healthz", "GET", "/healthz", everyone(200)),
    Case("/static/<path:filename>", "GET", "/static/podium.js", everyone(200)),
    Case("/sign-in", "GET", "/sign-in", {**everyone(302), "anonymous": 200}),
    Case("/sign-in", "POST", "/sign-in", {**everyone(302), "anonymous": 401}, data=own_credentials),
    Case("/sign-out", "POST", "/sign-out", everyone(302)),
    # Single sign-on is not set up in this app: its pages say so (tests/oidc test them set up).
    Case("/sign-in/oidc", "GET", "/sign-in/oidc", everyone(404)),
    Case("/sign-in/oidc/callback", "GET", "/sign-in/oidc/callback?code=x&state=y", everyone(404)),
    # Everyone here is enrolled somewhere: the enrolled-nowhere page sends them home.
    Case("/no-course", "GET", "/no-course", signed_in(302)),
    # LTI is not set up in this app (no PODIUM_BASE_URL): its login says so; a launch without the platform's signed
    # token and the state cookie is refused whoever sends it; Podium's public key is public; the pages that continue
    # a launch need one begun in this session (tests/lti test them set up).
    Case("/lti/login", "GET", "/lti/login?iss=https://lms.test&login_hint=x", everyone(404)),
    Case("/lti/login", "POST", "/lti/login", everyone(404), data={"iss": "https://lms.test", "login_hint": "x"}),
    Case("/lti/launch", "POST", "/lti/launch", everyone(400), data={"id_token": "a.b.c", "state": "s"}),
    Case("/lti/jwks.json", "GET", "/lti/jwks.json", everyone(200)),
    Case("/lti/link", "GET", "/lti/link", signed_in(400)),
    Case("/lti/link", "POST", "/lti/link", signed_in(400), data={"course": "c1"}),
    Case("/lti/deep-link", "GET", "/lti/deep-link", signed_in(400)),
    Case("/lti/deep-link", "POST", "/lti/deep-link", signed_in(400), data={"competition": CID}),
    Case("/forgot", "GET", "/forgot", everyone(200)),
    Case("/forgot", "POST", "/forgot", everyone(200), data={"email": EMAIL["student"]}),
    # A reset link is its own authorisation, whoever opens it (the page names the account it sets the password of);
    # a forged one is refused.
    Case("/reset/<token>", "GET", "/reset/{reset}", everyone(200), reveals=(EMAIL["student"],)),
    Case("/reset/<token>", "GET", "/reset/forged-token", everyone(404), variant="forged"),
    Case("/reset/<token>", "POST", "/reset/{reset}", everyone(422), data={"password": "aaaaaaaa1", "again": "b"}),
    # The profile: one's own only.
    Case("/profile", "GET", "/profile", signed_in(200)),
    # Each role renames itself with a name of its own: a course's members cannot share one.
    Case("/profile/name", "POST", "/profile/name", signed_in(302),
         data=lambda ctx, role, client: {"leaderboard_name": f"Renamed {role}"}),
    Case("/profile/api-key", "POST", "/profile/api-key", signed_in(200)),
    Case("/profile/password", "POST", "/profile/password", signed_in(302),
         data={"current": PASSWORD, "new": "a new password 1", "again": "a new password 1"}),
    Case("/profile/sign-out-everywhere", "POST", "/profile/sign-out-everywhere", signed_in(302)),
    Case("/profile/notifications", "POST", "/profile/notifications", signed_in(302),
         data={"submission_results": "on", "grade_changes": "on"}),
    # Student pages of course c1.
    Case("/courses/<slug>", "GET", "/courses/c1", members(200)),
    Case("/courses/<slug>", "GET", "/courses/c2", {**everyone(403), "anonymous": 302, "outsider": 200},
         variant="another course"),
    Case("/courses/<slug>/grades", "GET", "/courses/c1/grades", {**members(200), "staff": 302, "instructor": 302}),
    Case("/competitions/<cid>", "GET", f"/competitions/{CID}", members(200)),
    Case("/competitions/<cid>", "GET", "/competitions/c2-hw9", {**everyone(403), "anonymous": 302, "outsider": 200},
         variant="another course"),
    Case("/competitions/<cid>/files/<name>", "GET", f"/competitions/{CID}/files/README.md", members(200)),
    Case("/competitions/<cid>/submit", "GET", f"/competitions/{CID}/submit", members(200)),
    Case("/competitions/<cid>/submit", "POST", f"/competitions/{CID}/submit", members(302), data=upload),
    Case("/competitions/<cid>/submissions", "GET", f"/competitions/{CID}/submissions", members(200)),
    Case("/competitions/<cid>/leaderboard", "GET", f"/competitions/{CID}/leaderboard", members(200)),
    Case("/competitions/<cid>/leaderboard", "GET", f"/competitions/{CID}/leaderboard?board=private",
         staff_only(200), variant="private board before release"),
    Case("/competitions/<cid>/leaderboard.csv", "GET", f"/competitions/{CID}/leaderboard.csv", members(200)),
    Case("/competitions/<cid>/leaderboard.csv", "GET", f"/competitions/{CID}/leaderboard.csv?board=private",
         staff_only(200), variant="private board before release"),
    Case("/submissions/<int:n>", "GET", "/submissions/{sub}", own(200)),
    # Its author edits a submission's description; the course's staff may too (audited); nobody else finds it.
    Case("/submissions/<int:n>/description", "POST", "/submissions/{sub}/description", own(302),
         data={"description": "described again"}),
    Case("/submissions/<int:n>", "GET", "/submissions/{sub_c2}",
         {**everyone(404), "anonymous": 302, "outsider": 200}, variant="a submission of another course"),
    Case("/submissions/<int:n>.json", "GET", "/submissions/{sub}.json", own(200)),
    Case("/submissions/<int:n>/file", "GET", "/submissions/{sub}/file", own(200)),
    Case("/submissions/<int:n>/mark", "POST", "/submissions/{sub}/mark", own(302), data={"selected": "1"}),
    # Charts: the course's members; the activity picture and other students' progress only for staff.
    Case("/charts/<cid>/distribution.svg", "GET", f"/charts/{CID}/distribution.svg", members(200)),
    Case("/charts/<cid>/activity.svg", "GET", f"/charts/{CID}/activity.svg", staff_only(200)),
    Case("/charts/<cid>/progress.svg", "GET", f"/charts/{CID}/progress.svg", members(200)),
    Case("/charts/<cid>/progress.svg", "GET", f"/charts/{CID}/progress.svg?student={{other_id}}", staff_only(200),
         variant="another student"),
    # Staff pages of the course: staff and instructors; some changes for instructors only.
    Case("/staff/<slug>", "GET", "/staff/c1", staff_only(200)),
    Case("/staff/<slug>", "GET", "/staff/c2", {**everyone(403), "anonymous": 302}, variant="another course"),
    Case("/staff/<slug>/audit", "GET", "/staff/c1/audit", staff_only(200)),
    Case("/staff/<slug>/extensions", "GET", "/staff/c1/extensions", staff_only(200)),
    Case("/staff/<slug>/extensions", "POST", "/staff/c1/extensions", staff_only(302),
         data={"competition": CID, "email": EMAIL["other"], "days": "1", "reason": "ill"}),
    Case("/staff/<slug>/extensions/all-students", "POST", "/staff/c1/extensions/all-students", staff_only(302),
         data={"competition": CID, "amount": "2", "unit": "hours", "reason": "outage"}),
    Case("/staff/<slug>/extensions/all-students", "POST", "/staff/c2/extensions/all-students",
         {**everyone(403), "anonymous": 302}, data={"competition": "c2-hw9", "amount": "2", "unit": "hours",
                                                    "reason": "outage"}, variant="another course"),
    Case("/staff/<slug>/extensions/<int:extension_id>/revoke", "POST", "/staff/c1/extensions/{ext}/revoke",
         staff_only(302), prepare=fresh_extension),
    Case("/staff/<slug>/extensions/<int:extension_id>/revoke", "POST", "/staff/c1/extensions/{ext_c2}/revoke",
         staff_only(404), variant="an extension of another course"),
    Case("/staff/<slug>/grades", "GET", "/staff/c1/grades", staff_only(200)),
    Case("/staff/<slug>/grades.csv", "GET", "/staff/c1/grades.csv", staff_only(200)),
    Case("/staff/<slug>/jobs", "GET", "/staff/c1/jobs", staff_only(200)),
    # Benchmarks are staff members' submissions: a student's (A's) is refused even to the course's staff.
    Case("/staff/<slug>/submissions/<int:n>/benchmark", "POST", "/staff/c1/submissions/{sub}/benchmark",
         staff_only(409), data={"name": "Baseline"}),
    Case("/staff/<slug>/submissions/<int:n>/unbenchmark", "POST", "/staff/c1/submissions/{sub}/unbenchmark",
         staff_only(302)),  # A's submission is no benchmark: nothing to take off
    # The LMS grades page exists for a course linked to an LMS course (tests/lti); c1 is not: staff are told so.
    Case("/staff/<slug>/lms-grades", "GET", "/staff/c1/lms-grades", staff_only(404)),
    Case("/staff/<slug>/lms-grades/send", "POST", "/staff/c1/lms-grades/send", instructor_only(404)),
    # The course's mail: its own mails only; a mail of another course is not found from this course's pages.
    Case("/staff/<slug>/mail", "GET", "/staff/c1/mail", staff_only(200)),
    Case("/staff/<slug>/mail", "GET", "/staff/c2/mail", {**everyone(403), "anonymous": 302},
         variant="another course"),
    Case("/staff/<slug>/mail/<int:mail_id>/retry", "POST", "/staff/c1/mail/{mail}/retry", staff_only(302),
         prepare=failed_mail("c1")),
    Case("/staff/<slug>/mail/<int:mail_id>/retry", "POST", "/staff/c1/mail/{mail}/retry", staff_only(404),
         prepare=failed_mail("c2"), variant="a mail of another course"),
    Case("/staff/<slug>/people", "GET", "/staff/c1/people", staff_only(200)),
    Case("/staff/<slug>/people/import", "POST", "/staff/c1/people/import", staff_only(302),
         data={"roster_text": "email,name\nnew1@c1.test,New One\n"}),
    Case("/staff/<slug>/people/add", "POST", "/staff/c1/people/add", staff_only(302),
         data={"email": "new2@c1.test", "name": "New Two", "role": "student"}),
    Case("/staff/<slug>/people/<int:user_id>/role", "POST", "/staff/c1/people/{student_id}/role",
         instructor_only(302), data={"role": "student"}),
    Case("/staff/<slug>/people/<int:user_id>/role", "POST", "/staff/c1/people/{outsider_id}/role",
         {**instructor_only(404)}, data={"role": "staff"}, variant="someone of another course"),
    # Unenrolling: a confirmation page, then the action; TAs unenrol students only, nobody the last instructor.
    Case("/staff/<slug>/people/<int:user_id>/remove", "GET", "/staff/c1/people/{other_id}/remove", staff_only(200)),
    Case("/staff/<slug>/people/<int:user_id>/remove", "POST", "/staff/c1/people/{other_id}/remove",
         staff_only(302), prepare=other_enrolled),
    Case("/staff/<slug>/people/<int:user_id>/remove", "POST", "/staff/c1/people/{instructor_id}/remove",
         {**staff_only(409), "staff": 403}, variant="the last instructor"),
    Case("/staff/<slug>/people/<int:user_id>/remove", "POST", "/staff/c1/people/{outsider_id}/remove",
         staff_only(404), variant="someone of another course"),
    Case("/staff/<slug>/people/<int:user_id>/reset-link", "POST", "/staff/c1/people/{student_id}/reset-link",
         staff_only(200)),
    # A staff account's link is an instance administrator's to give (podium users reset-link), whoever asks here.
    Case("/staff/<slug>/people/<int:user_id>/reset-link", "POST", "/staff/c1/people/{instructor_id}/reset-link",
         staff_only(403), variant="a staff account: an instance administrator's"),
    Case("/staff/<slug>/people/<int:user_id>/reset-link", "POST", "/staff/c1/people/{outsider_id}/reset-link",
         staff_only(404), variant="someone of another course"),
    # Invitation links: whoever may enrol students (TAs and instructors) makes, sees and revokes a course's links.
    Case("/staff/<slug>/invitations", "GET", "/staff/c1/invitations", staff_only(200)),
    Case("/staff/<slug>/invitations", "GET", "/staff/c2/invitations", {**everyone(403), "anonymous": 302},
         variant="another course"),
    Case("/staff/<slug>/invitations", "POST", "/staff/c1/invitations", staff_only(200), data={"label": "matrix"}),
    Case("/staff/<slug>/invitations", "POST", "/staff/c2/invitations", {**everyone(403), "anonymous": 302},
         data={"label": "matrix"}, variant="another course"),
    Case("/staff/<slug>/invitations/<int:invitation_id>/revoke", "POST", "/staff/c1/invitations/{invite_id}/revoke",
         staff_only(302), prepare=invitation_of("c1")),
    Case("/staff/<slug>/invitations/<int:invitation_id>/revoke", "POST", "/staff/c1/invitations/{invite_id}/revoke",
         staff_only(404), prepare=invitation_of("c2"), variant="a link of another course"),
    # A link is its own invitation: anyone signed in may open it; it enrols only who is not in the course yet (the
    # outsider), and changes no one's role.
    Case("/join/<token>", "GET", "/join/{invite}", signed_in(200), prepare=invitation_of("c1")),
    Case("/join/<token>", "GET", "/join/not-a-link", signed_in(404), variant="unknown token"),
    Case("/join/<token>", "POST", "/join/{invite}", signed_in(302), prepare=invitation_of("c1")),
    Case("/join/<token>", "POST", "/join/not-a-link", signed_in(404), variant="unknown token"),
    Case("/staff/<slug>/slack", "GET", "/staff/c1/slack", staff_only(200)),
    Case("/staff/<slug>/slack", "POST", "/staff/c1/slack", staff_only(302),
         data={"ledger_text": f"email,days,note\n{EMAIL['student']},1,hw0\n"}),
    Case("/staff/<slug>/slack/entries/<int:entry_id>", "POST", "/staff/c1/slack/entries/{entry}", staff_only(302),
         data={"days": "2"}, prepare=ledger_entry("c1", EMAIL["student"])),
    Case("/staff/<slug>/slack/entries/<int:entry_id>", "POST", "/staff/c1/slack/entries/{entry}", staff_only(404),
         data={"days": "2"}, prepare=ledger_entry("c2", EMAIL["outsider"]), variant="an entry of another course"),
    Case("/staff/<slug>/slack/entries/<int:entry_id>/remove", "POST", "/staff/c1/slack/entries/{entry}/remove",
         staff_only(302), prepare=ledger_entry("c1", EMAIL["student"])),
    Case("/staff/<slug>/slack/entries/<int:entry_id>/remove", "POST", "/staff/c1/slack/entries/{entry}/remove",
         staff_only(404), prepare=ledger_entry("c2", EMAIL["outsider"]), variant="an entry of another course"),
    Case("/staff/<slug>/students/<int:user_id>", "GET", "/staff/c1/students/{student_id}", staff_only(200)),
    Case("/staff/<slug>/students/<int:user_id>", "GET", "/staff/c1/students/{outsider_id}", staff_only(404),
         variant="someone of another course"),
    Case("/staff/<slug>/submissions", "GET", "/staff/c1/submissions", staff_only(200)),
    Case("/staff/<slug>/submissions.csv", "GET", "/staff/c1/submissions.csv", staff_only(200)),
    Case("/staff/<slug>/submissions/<int:n>/mark", "POST", "/staff/c1/submissions/{sub}/mark", staff_only(302),
         data={"selected": "1"}),
    Case("/staff/<slug>/submissions/<int:n>/mark", "POST", "/staff/c1/submissions/{sub_c2}/mark", staff_only(404),
         data={"selected": "1"}, variant="a submission of another course"),
    Case("/staff/competitions/<cid>", "GET", f"/staff/competitions/{CID}", staff_only(200)),
    Case("/staff/competitions/<cid>", "GET", "/staff/competitions/c2-hw9", {**everyone(403), "anonymous": 302},
         variant="another course"),
    Case("/staff/competitions/<cid>", "POST", f"/staff/competitions/{CID}", instructor_only(302), data=settings_form),
    Case("/staff/competitions/<cid>/competition.toml", "GET", f"/staff/competitions/{CID}/competition.toml",
         staff_only(200)),
    Case("/staff/competitions/<cid>/missed-early", "GET", f"/staff/competitions/{CID}/missed-early", staff_only(200)),
    Case("/staff/competitions/<cid>/missed-early", "GET", "/staff/competitions/c2-hw9/missed-early",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    # A staff reminder of the early deadline: the course's staff only, never a student nor another course's staff
    # (tests/test_notifications.py checks that nothing is mailed on a refusal).
    # Code (POLICY.md section 12): staff read everyone's, audited; a student reaches their own only.
    Case("/staff/competitions/<cid>/code", "GET", f"/staff/competitions/{CID}/code", staff_only(200)),
    Case("/staff/competitions/<cid>/code", "GET", "/staff/competitions/c2-hw9/code",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    Case("/staff/competitions/<cid>/code/<int:n>/file", "GET", f"/staff/competitions/{CID}/code/{{code}}/file",
         staff_only(200)),
    Case("/staff/competitions/<cid>/code/<int:n>/file", "GET", "/staff/competitions/c2-hw9/code/{code}/file",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    Case("/staff/competitions/<cid>/code.zip", "GET", f"/staff/competitions/{CID}/code.zip", staff_only(200)),
    Case("/competitions/<cid>/code", "POST", f"/competitions/{CID}/code", members(302), data=code_upload),
    Case("/competitions/<cid>/code/<int:n>/file", "GET", f"/competitions/{CID}/code/{{code}}/file",
         {**members(404), "student": 200}),
    Case("/staff/competitions/<cid>/remind-early", "GET", f"/staff/competitions/{CID}/remind-early", staff_only(200)),
    Case("/staff/competitions/<cid>/remind-early", "GET", "/staff/competitions/c2-hw9/remind-early",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    Case("/staff/competitions/<cid>/remind-early", "POST", f"/staff/competitions/{CID}/remind-early",
         staff_only(302)),
    Case("/staff/competitions/<cid>/remind-early", "POST", "/staff/competitions/c2-hw9/remind-early",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    # Data files: every staff member may replace them (the page offers the form to TAs too), unlike the solution.
    Case("/staff/competitions/<cid>/data-files", "POST", f"/staff/competitions/{CID}/data-files", staff_only(302),
         data=lambda ctx, role, client: {"file": (io.BytesIO(f"# Homework\nNotes from {role}.\n".encode()),
                                                  "README.md")}),
    Case("/staff/competitions/<cid>/release", "GET", f"/staff/competitions/{CID}/release", staff_only(200)),
    Case("/staff/competitions/<cid>/release", "GET", "/staff/competitions/c2-hw9/release",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    # Without the confirmation a POST leads to the confirmation page; with it, during the late window, the release
    # is refused on that page unless overridden (tests/web/test_release.py).
    Case("/staff/competitions/<cid>/release", "POST", f"/staff/competitions/{CID}/release", staff_only(302)),
    Case("/staff/competitions/<cid>/release", "POST", f"/staff/competitions/{CID}/release", staff_only(409),
         data={"confirm": "yes"}, variant="confirmed during the late window"),
    Case("/staff/competitions/<cid>/rescore", "POST", f"/staff/competitions/{CID}/rescore", instructor_only(302)),
    Case("/staff/competitions/<cid>/rescore.json", "GET", f"/staff/competitions/{CID}/rescore.json",
         staff_only(200)),
    Case("/staff/competitions/<cid>/solution", "POST", f"/staff/competitions/{CID}/solution", instructor_only(302),
         data=same_solution),
    # The integrity report (staff only; c1-hw1 collects no code, so there is no pair to open: 404 for its staff).
    Case("/staff/competitions/<cid>/integrity", "GET", f"/staff/competitions/{CID}/integrity", staff_only(200)),
    Case("/staff/competitions/<cid>/integrity", "GET", "/staff/competitions/c2-hw9/integrity",
         {**everyone(403), "anonymous": 302}, variant="another course"),
    Case("/staff/competitions/<cid>/integrity", "POST", f"/staff/competitions/{CID}/integrity", staff_only(302)),
    Case("/staff/competitions/<cid>/integrity.json", "GET", f"/staff/competitions/{CID}/integrity.json",
         staff_only(200)),
    Case("/staff/competitions/<cid>/integrity/code/<int:a>/<int:b>", "GET",
         f"/staff/competitions/{CID}/integrity/code/1/2", staff_only(404)),
    # The REST API, with HTTP Basic.
    *[Case("/api/", method, "/api/", everyone(404)) for method in API_METHODS],
    *[Case("/api/<path:rest>", method, "/api/no/such/route", everyone(404)) for method in API_METHODS],
    Case("/api/openapi.json", "GET", "/api/openapi.json", everyone(200)),
    Case("/api/competitions", "GET", "/api/competitions", api(signed_in(200))),
    Case("/api/competitions/<cid>", "GET", f"/api/competitions/{CID}", api(members(200))),
    Case("/api/competitions/<cid>/files/<name>", "GET", f"/api/competitions/{CID}/files/README.md",
         api(members(200))),
    Case("/api/competitions/<cid>/leaderboard", "GET", f"/api/competitions/{CID}/leaderboard", api(members(200))),
    Case("/api/competitions/<cid>/leaderboard", "GET", f"/api/competitions/{CID}/leaderboard?board=private",
         api(staff_only(200)), variant="private board before release"),
    Case("/api/competitions/<cid>", "GET", "/api/competitions/c2-hw9", {**everyone(403), "anonymous": 401,
                                                                        "outsider": 200}, variant="another course"),
    Case("/api/competitions/<cid>/submissions", "GET", f"/api/competitions/{CID}/submissions", api(members(200))),
    Case("/api/competitions/<cid>/submissions", "POST", f"/api/competitions/{CID}/submissions", api(members(202)),
         data=upload),
    Case("/api/competitions/<cid>/code", "GET", f"/api/competitions/{CID}/code", api(members(200))),
    Case("/api/competitions/<cid>/code", "POST", f"/api/competitions/{CID}/code", api(members(201)),
         data=code_upload),
    Case("/api/competitions/<cid>/code/<int:n>/file", "GET", f"/api/competitions/{CID}/code/{{code}}/file",
         {**api(members(404)), "student": 200}),
    Case("/api/me", "GET", "/api/me", api(signed_in(200))),
    Case("/api/me/grades", "GET", "/api/me/grades", api(signed_in(200))),
    Case("/api/submissions/<int:n>", "GET", "/api/submissions/{sub}", api(own(200))),
    Case("/api/submissions/<int:n>", "PATCH", "/api/submissions/{sub}", api(own(200)),
         json={"description": "described by the API"}),
    Case("/api/submissions/<int:n>", "GET", "/api/submissions/{sub_c2}",
         {**everyone(404), "anonymous": 401, "outsider": 200}, variant="a submission of another course"),
    Case("/api/submissions/<int:n>/file", "GET", "/api/submissions/{sub}/file", api(own(200))),
    # The Kaggle-compatible API, with HTTP Basic.
    Case(f"{V1}/list", "GET", f"{V1}/list", api(signed_in(200))),
    Case(f"{V1}/<cid>/leaderboard/view", "GET", f"{V1}/{CID}/leaderboard/view", api(members(200))),
    Case(f"{V1}/<cid>/leaderboard/download", "GET", f"{V1}/{CID}/leaderboard/download", api(members(200))),
    Case(f"{V1}/<cid>/submissions/url/<contentLength>/<lastModifiedDateUtc>", "POST",
         f"{V1}/{CID}/submissions/url/100/1700000000", api(members(200)), data={"fileName": "pred.csv"}),
    # A ticket of A's: only A may hand it in; anyone else is told there is no such upload.
    Case(f"{V1}/submissions/submit/<cid>", "POST", f"{V1}/submissions/submit/{CID}",
         {**api(members(404)), "student": 200}, prepare=uploaded_ticket,
         data=lambda ctx, role, client: {"blobFileTokens": ctx.fields["ticket"], "submissionDescription": "x"}),
    Case(f"{V1}/submissions/list/<cid>", "GET", f"{V1}/submissions/list/{CID}", api(members(200))),
    Case(f"{V1}/data/list/<cid>", "GET", f"{V1}/data/list/{CID}", api(members(200))),
    Case(f"{V1}/data/download/<cid>/<fileName>", "GET", f"{V1}/data/download/{CID}/README.md", api(members(302))),
    Case(f"{V1}/data/download-all/<cid>", "GET", f"{V1}/data/download-all/{CID}", api(members(302))),
    Case(f"{V1}/data/archive/<cid>.zip", "GET", f"{V1}/data/archive/{CID}.zip", api(members(200))),
    # The upload URL carries its own authorisation (the Kaggle CLI PUTs to it without credentials).
    Case("/api/v1/uploads/<token>", "PUT", "/api/v1/uploads/{ticket}", everyone(200), prepare=empty_ticket,
         data=ticket_body),
    Case("/api/v1/uploads/<token>", "PUT", "/api/v1/uploads/not-a-ticket", everyone(404), data=ticket_body,
         variant="unknown token"),
]

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def test_the_matrix_names_every_route_and_method(app):
    """A route added without deciding who may use it fails here; so does an entry for a route that is gone."""
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}}
    named = {(case.rule, case.method) for case in CASES}
    assert routes - named == set(), "routes missing from the authorisation matrix"
    assert named - routes == set(), "matrix entries for routes that do not exist"


def test_every_case_reaches_the_rule_it_names(app):
    adapter = app.url_map.bind("localhost")
    for case in CASES:
        path = re.sub(r"\{[a-z_0-9]+\}", "7", case.url).split("?")[0]
        rule, _ = adapter.match(path, method=case.method, return_rule=True)
        assert rule.rule == case.rule, case.id
        assert set(case.expect) == set(ROLES), case.id


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_authorisation(case: Case, app, rt, people, tmp_path):
    ctx = Ctx(rt, people, tmp_path / "courses" / "c1")
    with rt.db.session() as session:
        student = session.get(User, people.ids["student"])
        reset = reset_token(rt.settings.secret_key, student)
    ctx.fields = {"sub": people.subs["student"], "sub_c2": people.subs["outsider"], "reset": reset,
                  "student_id": people.ids["student"], "other_id": people.ids["other"],
                  "outsider_id": people.ids["outsider"],
                  "instructor_id": people.ids["instructor"], "ext_c2": people.c2_extension,
                  "code": people.code["student"]}
    wrong = []
    try:
        for role in ROLES:
            client = app.test_client()
            if role != "anonymous" and not case.api:
                client.signed_in_as(EMAIL[role])
            if case.prepare:
                ctx.fields.update(case.prepare(ctx, role))
            response = send(case, ctx, role, client)
            wrong.extend(f"{role}: {problem}" for problem in problems(case, role, response))
    finally:
        app.extensions["podium.rescores"].wait(people.course.comp_id, timeout=60)
    assert not wrong, f"{case.id}:\n" + "\n".join(wrong)


def send(case: Case, ctx: Ctx, role: str, client: Browser):
    url = case.url.format(**ctx.fields)
    data = case.data(ctx, role, client) if callable(case.data) else dict(case.data or {})
    headers = ctx.people.basic(role) if case.api and role != "anonymous" else {}
    if case.method == "GET":
        return client.get(url, headers=headers)
    if not case.api:
        return client.form(url, data)  # with the page's CSRF token, like a browser
    if case.json is not None:
        return client.open(url, method=case.method, json=case.json, headers=headers)
    return client.open(url, method=case.method, data=data, headers=headers)


def problems(case: Case, role: str, response) -> list[str]:
    found = []
    expected = case.expect[role]
    body = response.get_data(as_text=True) if response.mimetype != "application/zip" else ""
    if response.status_code != expected:
        found.append(f"answered {response.status_code}, expected {expected}: {body[:200]!r}")
    if response.status_code >= 500 or "Traceback" in body:
        found.append("a server error")
    for header in SECURITY_HEADERS:
        if header not in response.headers:
            found.append(f"no {header} header")
    if response.status_code == 302 and expected == 302 and role == "anonymous" and not case.api \
            and case.rule not in ("/sign-out",):
        if not response.headers["Location"].startswith("/sign-in"):
            found.append(f"sent to {response.headers['Location']}, not to sign in")
    if case.api and response.status_code >= 400:
        payload = response.get_json(silent=True) or {}
        if payload.get("code") != response.status_code or not payload.get("message"):
            found.append(f"the refusal is not JSON {{code, message}}: {body[:200]!r}")
        if response.status_code == 401 and "Basic" not in response.headers.get("WWW-Authenticate", ""):
            found.append("401 without WWW-Authenticate")
    if response.status_code < 300:
        for secret in NEVER_SHOWN.get(role, ()):
            if secret in body and secret not in case.reveals:
                found.append(f"shows {secret!r}")
    return found
