"""What the course staff see and do: the overview, people, submissions, extensions and slack, grades, a
competition's settings, solution and release, the audit log and the scheduled jobs.

Every route checks the viewer's role in the course first (staff or instructor; a few changes are for
instructors only) and hands the work to a service.
"""
from __future__ import annotations

import io
from datetime import datetime

from flask import (Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request, send_file,
                   url_for)

from podium import rules
from podium.domain import Role, utcnow
from podium.errors import FieldError, NotFound, PodiumError, Refused, RegradeNeeded
from podium.services import (accounts, authority, benchmarks, browse, code, competition_settings, competitions, courses,
                             export,
                             extensions,
                             grade_tables, grading, finalisations, lti, lti_grades, mails, notifications, overview,
                             slack, standing, submissions, users)
from podium.web import tables
from podium.web.access import (competition_for_instructor, competition_for_staff, course_for_instructor,
                               course_for_staff, me, role_in, signed_in)
from podium.web.context import db_session, end_request_transaction, rt
from podium.web.forms import NOTHING, SentBack, sent_back
from podium.web.links import links_mailed, shown_url
from podium.web.security import no_store
from podium.web.tasks import Rescores

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.record_once
def keep_rescores(state) -> None:
    state.app.extensions.setdefault("podium.rescores", Rescores(state.app.extensions["podium"]))


def rescores() -> Rescores:
    return current_app.extensions["podium.rescores"]


def local_path(target: str | None) -> str | None:
    """A redirect target from a form, only when it stays on this site (browsers read a backslash as a slash, so
    "/\\host" leaves it as "//host" does)."""
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\") or any(ord(c) < 32 for c in target):
        return None
    return target


@bp.errorhandler(RegradeNeeded)
def confirm_regrade(exc: RegradeNeeded):
    """A change that would move grades of finalised or released competitions: the page lists every grade it would
    change and sends the same form again, with the regrade asked for, when staff confirm."""
    args = request.view_args or {}
    course = course_for_staff(args["slug"]) if "slug" in args else competition_for_staff(args["cid"]).course
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", "regrade")]
    fields += list(g.get("resubmitted", {}).items())  # what came as a file, sent again as text
    return render_template("staff/regrade.html", **page_args(course=course, refusal=exc, action=request.path,
                                                             fields=fields, back=request.referrer,
                                                             resend_file=_file_sent()
                                                             and "resubmitted" not in g)), 409


def _file_sent() -> bool:
    return any(upload.filename for upload in request.files.values())


def regrade_asked() -> bool:
    """The form confirmed a regrade (podium.services.regrades)."""
    return request.form.get("regrade") == "1"


def flash_ledger_change(change: slack.LedgerChange, done: str | None = None) -> None:
    """What a ledger change did, in the page's words (`done` in place of the count of entries recorded)."""
    if done is None:
        flash(f"{change.added} slack entr{'y' if change.added == 1 else 'ies'} recorded"
              + (f"; {change.already_recorded} already in the ledger or repeated, not counted again."
                 if change.already_recorded else "."))
    else:
        flash(done)
    for over in change.over_budget:
        flash(f"Over budget: {over.email} has {over.ledger_days} days recorded outside Podium, more than the "
              f"course's {over.budget}-day budget; their slack budget is 0.", "error")
    for grade in change.regraded:
        flash(f"Regraded (in the audit log): {grade.email} in {grade.competition}, "
              f"{_shown_grade(grade.old)} → {_shown_grade(grade.new)}.")


def _shown_grade(final: float | None) -> str:
    return "no grade" if final is None else f"{final:.1f}"


def page_args(**values):
    """Shared template values for every staff page of a course; `back` is a form sent back with its error."""
    return {"staff": True, "role": role_in(values["course"]), "back": NOTHING, **values}


def shown(template: str, back: SentBack = NOTHING, **values):
    """A staff page, answered with the status of the form it sends back (200 when none)."""
    return render_template(template, **page_args(back=back, **values)), back.code


# --- the course ------------------------------------------------------------------------------------------


@bp.get("/<slug>")
@signed_in
def overview_page(slug: str):
    course = course_for_staff(slug)
    glance = overview.course_glance(db_session(), course, utcnow())
    return render_template("staff/overview.html", **page_args(course=course, glance=glance, now=utcnow(),
                                                              failed_mails=mails.failed_in(db_session(), course)))


@bp.get("/competitions/<cid>/missed-early")
@signed_in
def missed_early(cid: str):
    """The students behind the overview's count of those without a scored submission by the early deadline."""
    comp = competition_for_staff(cid)
    missed = overview.missed_early_page(db_session(), comp, tables.read(overview.MISSED_EARLY), utcnow())
    return render_template("staff/missed_early.html", **page_args(course=comp.course, comp=comp, missed=missed,
                                                                 found=missed.found))


@bp.get("/competitions/<cid>/code")
@signed_in
def code_page(cid: str):
    """Who has and has not submitted code for the competition (POLICY.md section 12), with their downloads."""
    comp = competition_for_staff(cid)
    now = utcnow()
    return render_template("staff/code.html", **page_args(course=comp.course, comp=comp, now=now,
                                                          found=code.overview(db_session(), comp, now)))


@bp.get("/competitions/<cid>/code/<int:n>/file")
@signed_in
def code_file(cid: str, n: int):
    """One student's code upload, audited."""
    comp = competition_for_staff(cid)
    path, name = code.staff_download(rt().db, rt().settings, comp.id, n, me().email)
    if not path.is_file():
        raise PodiumError("This file is no longer stored on the server.", code=410)
    return send_file(path, as_attachment=True, download_name=name)


@bp.get("/competitions/<cid>/code.zip")
@signed_in
def code_archive(cid: str):
    """Every student's counted code in one zip with a manifest, audited."""
    comp = competition_for_staff(cid)
    path = code.archive_all(rt().db, rt().settings, comp.id, me().email)
    stream = open(path, "rb")
    path.unlink()  # the open file stays readable until it is sent; nothing is left behind
    return send_file(stream, as_attachment=True, download_name=f"{comp.public_id}-code.zip",
                     mimetype="application/zip")


@bp.get("/competitions/<cid>/remind-early")
@signed_in
def remind_early_page(cid: str):
    """The confirmation of a staff reminder: whom it mails, and that it goes whatever they chose to receive."""
    comp = competition_for_staff(cid)
    try:
        ahead, passed = notifications.to_remind(db_session(), comp, utcnow())
    except PodiumError as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.overview_page", slug=comp.course.slug))
    return render_template("staff/remind_early.html", **page_args(course=comp.course, comp=comp, ahead=ahead,
                                                                 passed=passed))


@bp.post("/competitions/<cid>/remind-early")
@signed_in
def remind_early(cid: str):
    comp = competition_for_staff(cid)
    try:
        done = notifications.remind_without_early(db_session(), comp, me().email)
    except PodiumError as exc:
        flash(exc.message, "error")
    else:
        flash(notifications.staff_reminder_words(comp, done))
    return redirect(url_for("staff.overview_page", slug=comp.course.slug))


@bp.get("/<slug>/people")
@signed_in
def people(slug: str):
    return people_page(course_for_staff(slug))


def people_page(course, back: SentBack = NOTHING):
    viewer = me()
    role_filter = request.args.get("role", "")
    found = browse.people(db_session(), course, tables.read(browse.PEOPLE), role=role_filter)
    return shown("staff/people.html", back, course=course, found=found, role_filter=role_filter,
                 counts=browse.role_counts(db_session(), course), can_mail=links_mailed(),
                 passwords=accounts.passwords_refused(rt().settings) is None,
                 may_link=lambda user: authority.may_issue_link(viewer, user),
                 may_unenrol=lambda user: authority.may_manage_enrolment(viewer, course, user, authority.REMOVED))


@bp.post("/<slug>/people/import")
@signed_in
def import_people(slug: str):
    course = course_for_staff(slug)
    try:
        text = _uploaded_text("roster") or request.form.get("roster_text", "")
        if not text.strip():
            raise FieldError("roster_text", "choose a roster CSV (columns email,name[,role], or Canvas's gradebook "
                                            "export) or paste its lines")
        result = users.import_roster(db_session(), course, text, actor=me().email, by=me(),
                                     email_domain=request.form.get("email_domain", ""),
                                     welcome=rt().settings if request.form.get("welcome_mail") else None)
    except PodiumError as exc:
        return people_page(course, sent_back("import", exc, {"welcome_mail": "Welcome mail"}))
    # Counted by the course, not by account: whether an address has an account elsewhere is not the course's to know.
    flash(f"Roster imported: {result.enrolled} enrolled, {result.already_enrolled} already in the course"
          + (f", Canvas ids kept for {result.canvas_linked}" if result.canvas_linked else "")
          + (f"; {len(result.staff_skipped)} staff in the file left as they were" if result.staff_skipped else "")
          + ".")
    if request.form.get("welcome_mail"):
        flash(f"{result.mailed} welcome mail{'' if result.mailed == 1 else 's'} queued, one to each person the "
              "import enrolled (a link to set a password for a new account, a notice for an existing one); they "
              "go out within a minute or so, and the Mail page shows each one.")
    return redirect(url_for("staff.people", slug=slug))


def _uploaded_text(field: str) -> str:
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return ""
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FieldError(field, "{name} is not UTF-8 text; save the CSV as UTF-8 and choose it again",
                         name=upload.filename) from None


@bp.post("/<slug>/people/add")
@signed_in
def add_person(slug: str):
    course = course_for_staff(slug)
    try:
        user = users.add_user(db_session(), request.form.get("email", ""), course, request.form.get("role", "student"),
                              name=request.form.get("name", ""), actor=me().email, by=me(), regrade=regrade_asked())
    except PodiumError as exc:
        return people_page(course, sent_back("add", exc))
    flash(f"{user.email} is enrolled as {users.role_in(user, course).value}.")
    return redirect(url_for("staff.people", slug=slug))


def member_or_404(course, user_id: int):
    enrolment = browse.member(db_session(), course, user_id)
    if enrolment is None:
        raise NotFound("That person is not enrolled in this course.")
    return enrolment


@bp.post("/<slug>/people/<int:user_id>/role")
@signed_in
def change_role(slug: str, user_id: int):
    course = course_for_instructor(slug)
    enrolment = member_or_404(course, user_id)
    user = enrolment.user
    try:
        users.add_user(db_session(), user.email, course, request.form.get("role", ""), actor=me().email, by=me(),
                       regrade=regrade_asked())
    except PodiumError as exc:
        return people_page(course, sent_back("people", exc))
    flash(f"{user.email} is now {users.role_in(user, course).value}.")
    return redirect(_back_to_people(slug, request.form.get("back")))


def _back_to_people(slug: str, target: str | None) -> str:
    """The people page a form came from (its search, order and page), else the first one."""
    people_url = url_for("staff.people", slug=slug)
    target = local_path(target)
    return target if target and (target == people_url or target.startswith(people_url + "?")) else people_url


@bp.route("/<slug>/people/<int:user_id>/remove", methods=["GET", "POST"])
@signed_in
def remove_person(slug: str, user_id: int):
    """Unenrol, after a page that says what it does: the person leaves the course's boards and gradebook, the
    account and its submissions stay."""
    course = course_for_staff(slug)
    person = member_or_404(course, user_id)
    back = NOTHING
    if request.method == "POST":
        user = person.user
        try:
            kept = users.remove_enrolment(db_session(), course, user, actor=me().email, by=me(),
                                          regrade=regrade_asked())
        except PodiumError as exc:
            back = sent_back("unenrol", exc)
        else:
            flash(f"{user.email} is no longer enrolled in {course.slug}; the account and its "
                  f"{kept} submission{'' if kept == 1 else 's'} stay.")
            return redirect(_back_to_people(slug, request.form.get("back")))
        person = member_or_404(course, user_id)
    refusal = authority.enrolment_refused(me(), course, person.user, authority.REMOVED)
    return shown("staff/unenrol.html", back, course=course, person=person, refusal=refusal,
                 kept=users.submissions_in(db_session(), course, person.user),
                 back_to=_back_to_people(slug, request.values.get("back")))


@bp.post("/<slug>/people/<int:user_id>/reset-link")
@no_store
@signed_in
def reset_link(slug: str, user_id: int):
    """A reset link for a member: shown on the page to hand over, or (`mail`) mailed through the outbox, in which
    case the page shows none: the link is in the mail alone."""
    course = course_for_staff(slug)
    user = member_or_404(course, user_id).user
    try:
        authority.require_link(me(), user)
    except PodiumError as exc:
        return people_page(course, sent_back("people", exc))
    can_mail = links_mailed()
    try:
        if can_mail and request.form.get("mail"):
            mails.queue_reset(db_session(), rt().settings, user, actor=me().email, course=course)
            return shown("staff/reset_link.html", course=course, person=user, link=None, mailed=True, can_mail=True)
        token = accounts.issue_reset_token(db_session(), rt().settings, user, actor=me().email,
                                           course_id=course.id)
    except PodiumError as exc:
        return people_page(course, sent_back("people", exc))
    link = shown_url("accounts.reset", token=token)  # absolute only under PODIUM_BASE_URL
    return shown("staff/reset_link.html", course=course, person=user, link=link, mailed=False, can_mail=can_mail)


@bp.get("/<slug>/students/<int:user_id>")
@signed_in
def student_detail(slug: str, user_id: int):
    course = course_for_staff(slug)
    enrolment = member_or_404(course, user_id)
    person = enrolment.user
    student = enrolment.role.value == "student"
    report = grading.student_report(db_session(), course, person, staff=True) if student else None
    now = utcnow()
    cells, total = grade_tables.student_cells(db_session(), course, report, now) if report else ((), None)
    per_competition = [(comp, standing.my_submissions(db_session(), comp, person, now)) for comp in course.competitions]
    return render_template("staff/student.html", **page_args(course=course, person=person, enrolment=enrolment,
                                                             report=report, cells=cells, total=total,
                                                             per_competition=per_competition, now=now))


# --- submissions -----------------------------------------------------------------------------------------


@bp.get("/<slug>/submissions")
@signed_in
def all_submissions(slug: str):
    return submissions_page(course_for_staff(slug))


def submissions_page(course, back: SentBack = NOTHING):
    """The course's submissions under the filters of the query string, and the staff's own submissions (those of
    the chosen competition, when one is chosen), which can be shown on the boards as benchmarks."""
    f = browse.SubmissionFilter.from_args(request.args)
    found = browse.find_submissions(db_session(), course, f, tables.read(browse.SUBMISSIONS))
    chosen = next((c.id for c in course.competitions if c.public_id == f.competition), None)
    staff_subs = benchmarks.staff_submissions(db_session(), course.id, chosen)
    # A refusal about a submission not listed here (a student's, named by a hand-made request) shows at the top.
    listed = {f"benchmark-{sub.id}" for sub in staff_subs}
    return shown("staff/submissions.html", back, course=course, f=f, found=found, staff_subs=staff_subs,
                 benchmark_max=benchmarks.NAME_MAX, keep=listing_args(), unlisted=back.form not in listed)


def listing_args() -> dict[str, str]:
    """The query string of the submissions page (filters, search, sort, page), kept by its benchmark forms so that
    staff come back to the same page."""
    return {name: value for name, value in request.args.items() if name not in ("slug", "n")}


@bp.post("/<slug>/submissions/<int:n>/benchmark")
@signed_in
def name_benchmark(slug: str, n: int):
    """Show a staff member's submission on the boards as a named benchmark, or rename it (audited)."""
    course = course_for_staff(slug)
    try:
        sub = benchmarks.name_submission(db_session(), n, request.form.get("name", ""), by=me(), actor=me().email)
    except (FieldError, Refused) as exc:
        return submissions_page(course, sent_back(f"benchmark-{n}", exc, {"benchmark": "benchmark name"},
                                                  field="benchmark"))
    flash(f"Submission {n} is on the boards as “Benchmark: {sub.benchmark_name}”.")
    return redirect(url_for("staff.all_submissions", slug=slug, **listing_args()))


@bp.post("/<slug>/submissions/<int:n>/unbenchmark")
@signed_in
def unname_benchmark(slug: str, n: int):
    """Take a benchmark off the boards (audited); the submission stays."""
    course_for_staff(slug)
    benchmarks.unname_submission(db_session(), n, by=me(), actor=me().email)
    flash(f"Submission {n} is no longer a benchmark.")
    return redirect(url_for("staff.all_submissions", slug=slug, **listing_args()))


@bp.get("/<slug>/submissions.csv")
@signed_in
def submissions_csv(slug: str):
    course = course_for_staff(slug)
    rows = browse.all_submissions(db_session(), course, browse.SubmissionFilter.from_args(request.args),
                                  tables.read(browse.SUBMISSIONS))
    out = io.StringIO()
    writer = export.csv_writer(out)
    writer.writerow(["id", "competition", "email", "name", "leaderboard_name", "submitted_at", "window", "days_late",
                     "status", "public_score", "private_score", "selected", "file_name", "description", "error"])
    for sub, window in rows:
        writer.writerow([sub.id, sub.competition.public_id, *(export.safe_text(x) for x in (
            sub.user.email, sub.user.name, sub.user.leaderboard_name_in(course.id))), rules.format_utc(sub.submitted_at),
            window.window, window.days_late, sub.status.value, _number(sub.public_score), _number(sub.private_score),
            "yes" if sub.selected else "no", export.safe_text(sub.file_name), export.safe_text(sub.description),
            export.safe_text(sub.error or "")])
    return _csv_download(out.getvalue(), f"{course.slug}-submissions.csv")


def _number(x: float | None) -> str:
    return "" if x is None else repr(x)


def _csv_download(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.post("/<slug>/submissions/<int:n>/mark")
@signed_in
def mark_for_student(slug: str, n: int):
    """Staff correcting a student's final marks (audited; the per-group limit still holds)."""
    course_for_staff(slug)
    from podium.services import selection

    back = local_path(request.form.get("back")) or url_for("staff.all_submissions", slug=slug)
    try:
        selection.set_mark(db_session(), n, request.form.get("selected") == "1", by=me(), regrade=regrade_asked())
    except Refused as exc:
        # A button, nothing typed: its refusal (the group's limit) is shown at the top of the page it was pressed on.
        db_session().rollback()
        flash(f"Submission {n} was not changed: {exc.message}", "error")
        return redirect(back)
    flash(f"Submission {n} updated.")
    return redirect(back)


# --- extensions and slack --------------------------------------------------------------------------------


@bp.get("/<slug>/extensions")
@signed_in
def extensions_page(slug: str):
    return _extensions_page(course_for_staff(slug))


def _extensions_page(course, back: SentBack = NOTHING):
    show_all = request.args.get("all") == "1"
    rows = extensions.listing(db_session(), course.id, include_revoked=show_all)
    return shown("staff/extensions.html", back, course=course, rows=rows, show_all=show_all,
                 describe=extensions.describe, without_effect=extensions.without_effect(db_session(), course.id, rows))


# The extension forms' fields as their labels name them, for the messages of podium.services.extensions.
EXTENSION_FIELDS = {"days": "the number of days", "hours": "the number of hours", "until": "the new on-time deadline",
                    "reason": "a reason"}
ALL_STUDENTS_FIELDS = {"days": "the number of days", "hours": "the number of hours", "until": "a new deadline",
                       "reason": "a reason"}


@bp.post("/<slug>/extensions")
@signed_in
def grant_extension(slug: str):
    course = course_for_staff(slug)
    try:
        comp = _chosen_competition(course)
        try:
            user = users.course_member(db_session(), course, request.form.get("email", ""))
        except NotFound as exc:
            raise FieldError("email", "{message}", message=exc.message, code=exc.code) from None
        days, until = _extension_amount(course.timezone)
        ext = extensions.grant(db_session(), comp, user, days=days, until=until,
                               reason=request.form.get("reason", ""), actor=me().email, regrade=regrade_asked())
    except PodiumError as exc:
        return _extensions_page(course, sent_back("grant", exc, EXTENSION_FIELDS))
    flash(f"Extension granted to {user.email} on {comp.public_id}: {extensions.describe(ext, course.timezone)}.")
    return redirect(url_for("staff.extensions_page", slug=slug))


@bp.post("/<slug>/extensions/all-students")
@signed_in
def grant_all_students(slug: str):
    """After an outage: the same time for every student of the course, in one audited action."""
    course = course_for_staff(slug)
    try:
        comp = _chosen_competition(course)
        unit = request.form.get("unit", "hours")
        if unit not in ("days", "hours"):
            raise FieldError("unit", "choose hours or days")
        amount = {unit: _typed_number(request.form.get("amount", ""), "amount", f"The number of {unit}")}
        granted = extensions.grant_all_students(db_session(), comp, **amount, reason=request.form.get("reason", ""),
                                                actor=me().email, regrade=regrade_asked())
    except PodiumError as exc:
        return _extensions_page(course, sent_back("all", exc, ALL_STUDENTS_FIELDS))
    added = sum(g.replaced is not None for g in granted)
    on_top = f", {added} of them on top of an earlier extension" if added else ""
    flash(f"{len(granted)} student{'s' if len(granted) != 1 else ''} extended on {comp.public_id} by "
          f"{extensions.describe_duration(**amount)}"
          f"{on_top}. One entry in the audit log lists them.")
    return redirect(url_for("staff.extensions_page", slug=slug))


def _chosen_competition(course):
    comp = next((c for c in course.competitions if c.public_id == request.form.get("competition")), None)
    if comp is None:
        raise FieldError("competition", "choose the competition the extension is for")
    return comp


def _typed_number(text: str, field: str, what: str) -> float:
    text = text.strip()
    if not text:
        raise FieldError(field, "{what} is missing: give a number", what=what)
    try:
        return float(text)
    except ValueError:
        raise FieldError(field, "{what} must be a number, not {given!r}", what=what, given=text) from None


def _extension_amount(tz: str) -> tuple[float | None, datetime | None]:
    """The days or the new on-time deadline as typed (whether to give one or the other is the service's rule)."""
    days_text, until_text = request.form.get("days", "").strip(), request.form.get("until", "").strip()
    days = until = None
    if days_text:
        try:
            days = float(days_text)
        except ValueError:
            raise FieldError("days", "{days} must be a number, not {given!r}", given=days_text) from None
    if until_text:
        try:
            until = rules.local_to_utc(until_text.replace("T", " ") + (":00" if until_text.count(":") == 1 else ""), tz)
        except ValueError as exc:
            raise FieldError("until", "{until}: {problem}", problem=str(exc)) from None
    return days, until


@bp.post("/<slug>/extensions/<int:extension_id>/revoke")
@signed_in
def revoke_extension(slug: str, extension_id: int):
    course = course_for_staff(slug)
    try:
        extensions.revoke(db_session(), extension_id, actor=me().email, course=course, regrade=regrade_asked())
    except PodiumError as exc:
        return _extensions_page(course, sent_back("revoke", exc))
    flash(f"Extension {extension_id} revoked.")
    return redirect(url_for("staff.extensions_page", slug=slug))


@bp.get("/<slug>/slack")
@signed_in
def slack_page(slug: str):
    return _slack_page(course_for_staff(slug))


def _slack_page(course, back: SentBack = NOTHING):
    balances = grade_tables.slack_balances(db_session(), course, tables.read(grade_tables.BALANCES))
    entries = browse.slack_entries(db_session(), course, tables.read(browse.LEDGER))
    over = {o.email: o for o in slack.over_budget(db_session(), course)}
    return shown("staff/slack.html", back, course=course, balances=balances, entries=entries, over_budget=over)


@bp.post("/<slug>/slack")
@signed_in
def import_slack(slug: str):
    course = course_for_staff(slug)
    try:
        text = _uploaded_text("ledger") or request.form.get("ledger_text", "")
        if not text.strip():
            raise FieldError("ledger_text", "choose a ledger CSV (columns email,days,note) or paste its lines")
        g.resubmitted = {"ledger_text": text}  # for the regrade confirmation, when the file needs one
        change = slack.import_ledger(db_session(), course, text, actor=me().email, regrade=regrade_asked())
    except PodiumError as exc:
        return _slack_page(course, sent_back("ledger", exc))
    flash_ledger_change(change)
    return redirect(url_for("staff.slack_page", slug=slug))


@bp.post("/<slug>/slack/entries/<int:entry_id>")
@signed_in
def edit_slack_entry(slug: str, entry_id: int):
    course = course_for_staff(slug)
    try:
        change = slack.edit_entry(db_session(), course, entry_id, actor=me().email, days=request.form.get("days"),
                                  note=request.form.get("note"), regrade=regrade_asked())
    except NotFound:
        raise
    except PodiumError as exc:
        return _slack_page(course, sent_back(f"entry-{entry_id}", exc))
    flash_ledger_change(change, done=f"Ledger entry {entry_id} corrected.")
    return redirect(url_for("staff.slack_page", slug=slug))


@bp.post("/<slug>/slack/entries/<int:entry_id>/remove")
@signed_in
def remove_slack_entry(slug: str, entry_id: int):
    course = course_for_staff(slug)
    change = slack.remove_entry(db_session(), course, entry_id, actor=me().email, regrade=regrade_asked())
    flash_ledger_change(change, done=f"Ledger entry {entry_id} removed.")
    return redirect(url_for("staff.slack_page", slug=slug))


# --- grades ----------------------------------------------------------------------------------------------


@bp.get("/<slug>/grades")
@signed_in
def grades(slug: str):
    course = course_for_staff(slug)
    book = grade_tables.gradebook(db_session(), course, request.args, utcnow())
    return render_template("staff/grades.html", **page_args(course=course, book=book, found=book.lines,
                                                            canvas_notes=export.canvas_notes(db_session(), course)))


@bp.get("/<slug>/grades.csv")
@signed_in
def grades_csv(slug: str):
    course = course_for_staff(slug)
    slack_policy = request.args.get("policy") or None
    fmt = request.args.get("fmt", "long")
    text = export.export_csv(db_session(), course, slack_policy=slack_policy, fmt=fmt)
    return _csv_download(text, f"{course.slug}-grades-{slack_policy or 'course'}-{fmt}.csv")


# --- the audit log and the jobs --------------------------------------------------------------------------


@bp.get("/<slug>/audit")
@signed_in
def audit_page(slug: str):
    course = course_for_staff(slug)
    action = request.args.get("action", "")
    found = browse.audit_log(db_session(), course, tables.read(browse.AUDIT), action=action)
    return render_template("staff/audit.html", **page_args(course=course, found=found, action=action,
                                                           actions=browse.audit_actions(db_session(), course)))


@bp.get("/<slug>/jobs")
@signed_in
def jobs_page(slug: str):
    course = course_for_staff(slug)
    report = finalisations.report(db_session(), course, rt().settings.jobs.finalise_grace_seconds)
    return render_template("staff/jobs.html", **page_args(course=course, report=report, now=utcnow()))


@bp.get("/<slug>/mail")
@signed_in
def mail_page(slug: str):
    return _mail_page(course_for_staff(slug))


def _mail_page(course, back: SentBack = NOTHING):
    return shown("staff/mail.html", back, course=course, mail=mails.course_mails(db_session(), course),
                 can_mail=links_mailed(), now=utcnow())


@bp.post("/<slug>/mail/<int:mail_id>/retry")
@signed_in
def retry_mail(slug: str, mail_id: int):
    course = course_for_staff(slug)
    try:
        mail = mails.retry(db_session(), rt().settings, mail_id, actor=me().email, course=course)
    except NotFound:
        raise
    except PodiumError as exc:
        return _mail_page(course, sent_back("mail", exc))
    flash(f"Mail {mail.id} to {mail.recipient} is queued again; it goes out within a minute or so.")
    return redirect(url_for("staff.mail_page", slug=slug))


# --- grades in the linked LMS gradebook (LTI) ---------------------------------------------------------------


@bp.app_template_global()
def lms_linked(course) -> bool:
    """The course has a linked LMS course: the staff navigation shows "LMS grades"."""
    return lti_grades.linked(db_session(), course)


@bp.get("/<slug>/lms-grades")
@signed_in
def lms_grades_page(slug: str):
    return _lms_grades_page(course_for_staff(slug))


def _lms_grades_page(course, back: SentBack = NOTHING):
    listing = lti_grades.listing(db_session(), course)
    if not listing.linked:
        raise NotFound(f"{course.title} is not linked to an LMS course: its instructor links it by opening Podium "
                       "once from the LMS course.")
    # Sending writes into the gradebook students read in the LMS, which Podium cannot take back: the instructors'
    # decision, as a release is. TAs see everything; the scheduler sends without anyone's click anyway.
    return shown("staff/lms_grades.html", back, course=course, lms=listing, now=utcnow(),
                 can_send=role_in(course) == Role.instructor)


@bp.post("/<slug>/lms-grades/send")
@signed_in
def send_lms_grades(slug: str):
    """"Send now": `podium grades push COURSE` for the course, audited with the instructor's email."""
    course = course_for_instructor(slug)
    slug, actor = course.slug, me().email
    end_request_transaction()  # the platform is waited on with no transaction of this request open
    try:
        done = lti_grades.push(rt().db, lti.tool(rt().settings, rt().db), slug, actor=actor,
                               attempts=rt().settings.jobs.lti_push_attempts)
    except PodiumError as exc:
        if isinstance(exc, NotFound):
            raise
        return _lms_grades_page(course_for_staff(slug), sent_back("send", exc))
    flash(done.summary() + ".", "message" if done.ok else "error")
    return redirect(url_for("staff.lms_grades_page", slug=slug))


# --- one competition -------------------------------------------------------------------------------------


@bp.route("/competitions/<cid>", methods=["GET", "POST"])
@signed_in
def competition(cid: str):
    comp = competition_for_staff(cid)
    form = competition_settings.SettingsForm.of(comp)
    error = None
    if request.method == "POST":
        comp = competition_for_instructor(cid)
        form = competition_settings.SettingsForm.from_form(request.form)
        try:
            changed = competition_settings.update(db_session(), rt().settings, comp, form, actor=me().email,
                                                  regrade=regrade_asked())
        except RegradeNeeded:
            raise  # the confirmation page
        except PodiumError as exc:
            error = exc.message
        else:
            flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.")
            return redirect(url_for("staff.competition", cid=cid))
    page, status = competition_page(comp, form=form, error=error)
    return page, (422 if error else status)


def competition_page(comp, back: SentBack = NOTHING, *, form=None, error: str | None = None):
    now = utcnow()
    return shown("staff/competition.html", back, course=comp.course, comp=comp,
                 form=form or competition_settings.SettingsForm.of(comp), error=error,
                 instructor=role_in(comp.course) == Role.instructor, now=now,
                 state=courses.competition_state(comp, now), progress=rescores().progress(comp.id))


@bp.get("/competitions/<cid>/competition.toml")
@signed_in
def competition_toml(cid: str):
    comp = competition_for_staff(cid)
    return Response(competition_settings.competition_toml(comp), mimetype="application/toml",
                    headers={"Content-Disposition": "attachment; filename=competition.toml"})


@bp.post("/competitions/<cid>/solution")
@signed_in
def upload_solution(cid: str):
    comp = competition_for_instructor(cid)
    upload = request.files.get("solution")
    regrade = regrade_asked()
    try:
        if upload is None or not upload.filename:
            raise FieldError("solution", "choose the new solution CSV (id, target column(s), Usage)")
        changed = competition_settings.replace_solution(db_session(), rt().settings, comp, upload.stream, me().email,
                                                        regrade=regrade)
    except PodiumError as exc:
        return competition_page(comp, sent_back("solution", exc, field="solution"))
    if not changed:
        flash("This solution is the one in use already; nothing to rescore.")
        return redirect(url_for("staff.competition", cid=cid))
    db_session().commit()  # the rescore reads the new solution from its own sessions
    rescores().start(comp.id, me().email, regrade=regrade)
    flash("New solution in use; every submission is being rescored.")
    return redirect(url_for("staff.competition", cid=cid))


@bp.post("/competitions/<cid>/data-files")
@signed_in
def upload_data_file(cid: str):
    comp = competition_for_staff(cid)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise FieldError("file", "choose the file students should download (README.md, sample_submission.csv, "
                                     "...)")
        name = competition_settings.data_file_name(request.form.get("name"), upload.filename)
        change = competition_settings.replace_data_file(db_session(), rt().settings, comp, name, upload.stream,
                                                        me().email)
        db_session().commit()  # tell staff it is done only once it is
    except PodiumError as exc:
        return competition_page(comp, sent_back("data-file", exc))
    if not change.changed:
        flash(f"{name} is this file already; nothing changed.")
    elif change.added:
        flash(f"Students can now download {name}.")
    else:
        flash(f"Students now download the new {name}.")
    return redirect(url_for("staff.competition", cid=cid) + "#data-files")


@bp.post("/competitions/<cid>/rescore")
@signed_in
def rescore(cid: str):
    comp = competition_for_instructor(cid)
    submissions.check_rescore(comp, regrade_asked())
    started = rescores().start(comp.id, me().email, regrade=regrade_asked())
    flash("Rescoring every submission." if started else "A rescore is already running.")
    return redirect(url_for("staff.competition", cid=cid))


@bp.get("/competitions/<cid>/rescore.json")
@signed_in
def rescore_progress(cid: str):
    comp = competition_for_staff(cid)
    progress = rescores().progress(comp.id)
    return jsonify(progress.as_dict() if progress else {"running": False, "done": 0, "total": 0, "counts": {},
                                                        "error": None})


@bp.get("/competitions/<cid>/release")
@signed_in
def release_page(cid: str):
    """The confirmation page: what students will see, and whether the release needs an override."""
    comp = competition_for_staff(cid)
    return release_confirmation(comp, form={}, error=None)


def release_confirmation(comp, *, form, error: str | None, status: int = 200):
    plan = competitions.plan_release(db_session(), comp)
    return render_template("staff/release.html", **page_args(
        course=comp.course, comp=comp, plan=plan, form=form, error=error,
        back=local_path(form.get("back") or request.args.get("back")))), status


@bp.post("/competitions/<cid>/release")
@signed_in
def release(cid: str):
    """Release once confirmed on the confirmation page; without the confirmation, that page is shown."""
    comp = competition_for_staff(cid)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("staff.release_page", cid=cid, back=local_path(request.form.get("back"))))
    override = request.form.get("reason", "") if request.form.get("override") else None
    try:
        done = competitions.release(db_session(), comp, actor=me().email, override=override)
    except competitions.ReleaseRefused as exc:
        wait = exc.readiness.wait_for(comp.course.timezone)
        return release_confirmation(comp, form=request.form, status=exc.code, error=(
            f"It is not ready (see above). To release now, tick “Release early anyway” and give the reason; "
            f"otherwise wait {wait}."))
    except PodiumError as exc:
        return release_confirmation(comp, form=request.form, error=exc.message, status=exc.code)
    if not done:
        flash("The private leaderboard was already released.")
    else:
        early = " early (the override is in the audit log)" if done.early else ""
        changed = (f" {len(done.changes)} grade(s) of other released competitions changed through the slack chain; "
                   "the audit log lists them." if done.changes else "")
        flash(f"The private leaderboard is released to students{early}.{changed}")
    return redirect(local_path(request.form.get("back")) or url_for("leaderboards.board", cid=cid, board="private"))

