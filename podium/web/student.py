"""What a student sees: the course, a competition, the submit page, their submissions and their grades.

Core actions (upload, mark as final) are plain forms; the site's scripts enhance them (upload progress, the
score appearing without a reload) and fall back to these same routes.
"""
from __future__ import annotations

from datetime import datetime

from flask import (Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file,
                   url_for)

from podium.domain import utcnow
from podium.errors import FieldError, PodiumError
from podium.services import (code, courses, feedback, grade_reports, grading, leaderboards, selection, standing,
                             submissions)
from podium.web.access import (competition_for_member, course_for_member, is_staff, me, own_or_staff_submission,
                               role_in, signed_in)
from podium.web.context import db_session, end_request_transaction, rt, scoring_queue
from podium.web.forms import NOTHING, SentBack, sent_back
from podium.web.markdown import render_markdown
from podium.web.errors import wants_json

bp = Blueprint("student", __name__)
bp.add_app_template_filter(render_markdown, "markdown")


@bp.get("/courses/<slug>")
@signed_in
def course(slug: str):
    course = course_for_member(slug)
    now = utcnow()
    rows = standing.course_page(db_session(), course, me(), now)
    return render_template("student/course.html", course=course, rows=rows, now=now,
                           upcoming=standing.next_deadline(rows), staff=is_staff(course), role=role_in(course))


@bp.get("/courses/<slug>/grades")
@signed_in
def grades(slug: str):
    course = course_for_member(slug)
    if is_staff(course):
        return redirect(url_for("staff.grades", slug=slug))
    report = grading.student_report(db_session(), course, me(), staff=False)
    standings = standing.standings(db_session(), course, me(), utcnow())
    changes = grade_reports.grade_changes(db_session(), course, me())
    return render_template("student/grades.html", course=course, report=report, standings=standings,
                           changes=changes, staff=False)


@bp.get("/competitions/<cid>")
@signed_in
def competition(cid: str):
    return competition_page(competition_for_member(cid))


def competition_page(comp, code_error: str | None = None, status: int = 200):
    now = utcnow()
    staff = is_staff(comp.course)
    return render_template("student/competition.html", comp=comp, course=comp.course, now=now, staff=staff,
                           code_panel=code.code_panel(db_session(), comp, me(), now), code_error=code_error,
                           timeline=standing.timeline(db_session(), comp, me(), now),
                           outlook=submissions.upload_outlook(db_session(), rt().settings, comp, me(), now),
                           cutoff_values=leaderboards.cutoff_values(comp, staff=staff),
                           readme=courses.readme_text(rt().settings, comp, staff=staff, now=now),
                           files=courses.data_files_for(comp, staff=staff, now=now),
                           files_hidden=not courses.data_files_visible(comp, staff=False, now=now),
                           hidden_message=courses.hidden_data_message(comp)), status


@bp.post("/competitions/<cid>/code")
@signed_in
def upload_code(cid: str):
    """A member uploads their code for the competition (POLICY.md section 12); the page shows it in the Code panel,
    or says what to fix there."""
    comp = competition_for_member(cid)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return competition_page(comp, "Choose a file to upload: your code as a .zip, .tar.gz, .py or .ipynb file.",
                                422)
    comp_id, user_id = comp.id, me().id
    end_request_transaction()
    try:
        row = code.receive_code(rt().db, rt().settings, comp_id, user_id, upload.stream, upload.filename)
    except PodiumError as exc:
        return competition_page(competition_for_member(cid), exc.message, exc.code)
    flash(f"Your code {row.file_name} is stored" + (", after your code deadline: it is marked late and does not "
                                                    "count." if row.late else ": it is the code that counts."))
    return redirect(url_for("student.competition", cid=cid) + "#code")


@bp.get("/competitions/<cid>/code/<int:n>/file")
@signed_in
def code_file(cid: str, n: int):
    """One of the viewer's own code uploads."""
    comp = competition_for_member(cid)
    row = code.own_upload(db_session(), comp, me(), n)
    path = code.code_file(rt().settings, row)
    if not path.is_file():
        abort(410, "This file is no longer stored.")
    return send_file(path, as_attachment=True, download_name=row.file_name)


@bp.get("/competitions/<cid>/files/<name>")
@signed_in
def data_file(cid: str, name: str):
    comp = competition_for_member(cid)
    path = courses.data_file(rt().settings, comp, name, staff=is_staff(comp.course), now=utcnow())
    try:
        return send_file(path, as_attachment=True, download_name=name)
    except FileNotFoundError:  # removed since it was found: the same answer as a file found missing
        raise courses.missing_data_file(comp, name) from None


@bp.route("/competitions/<cid>/submit", methods=["GET", "POST"])
@signed_in
def submit(cid: str):
    comp = competition_for_member(cid)
    now = utcnow()
    # Read before the upload, which ends this request's transaction: a refused upload shows the page as it was
    # sent from, without taking the database's write lock again.
    shown = submit_page_values(comp, now)
    if request.method == "GET":
        return render_template("student/submit.html", **shown)
    try:
        sub = receive_upload(comp)
    except PodiumError as exc:
        if wants_json():
            raise
        return (render_template("student/submit.html", **shown, error=exc.message,
                                description=request.form.get("description", "")), exc.code, exc.headers)
    if wants_json():
        return jsonify(id=sub.id, status_url=url_for("student.submission_json", n=sub.id),
                       page_url=url_for("student.submission", n=sub.id)), 202
    return redirect(url_for("student.submission", n=sub.id))


def submit_page_values(comp, now) -> dict:
    """What the Submit page shows: its form only when an upload now would be taken (`upload_outlook`), else why not."""
    return dict(comp=comp, course=comp.course, now=now, staff=is_staff(comp.course),
                timeline=standing.timeline(db_session(), comp, me(), now),
                outlook=submissions.upload_outlook(db_session(), rt().settings, comp, me(), now))


def receive_upload(comp):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise PodiumError("Choose a file to upload: a CSV (or .csv.gz / .zip) with the columns of the sample "
                          "submission.", code=422)
    comp_id, user_id = comp.id, me().id
    end_request_transaction()
    return submissions.upload(rt().db, rt().settings, scoring_queue(), comp_id, user_id, upload.stream,
                              upload.filename, request.form.get("description", ""))


@bp.get("/competitions/<cid>/submissions")
@signed_in
def my_submissions(cid: str):
    comp = competition_for_member(cid)
    now = utcnow()
    mine = standing.my_submissions(db_session(), comp, me(), now)
    return render_template("student/submissions.html", comp=comp, course=comp.course, mine=mine, now=now,
                           staff=is_staff(comp.course), show_private=submissions.private_visible(comp, False),
                           hidden=submissions.private_hidden(db_session(), comp, now, user=me()))


@bp.get("/submissions/<int:n>")
@signed_in
def submission(n: int):
    return submission_page(*own_or_staff_submission(n))


def submission_page(sub, staff: bool, back: SentBack = NOTHING):
    data = submissions.as_dict(db_session(), sub, staff=staff)
    hidden_until = data["private_hidden_until"] and datetime.fromisoformat(data["private_hidden_until"])
    return render_template("student/submission.html", sub=sub, data=data, comp=sub.competition,
                           course=sub.competition.course, staff=staff, hidden_until=hidden_until, back=back,
                           description_max=submissions.DESCRIPTION_MAX,
                           feedback=feedback.of_submission(db_session(), sub)), back.code


@bp.post("/submissions/<int:n>/description")
@signed_in
def describe(n: int):
    """Its author changes a submission's description (staff of the course may too: audited)."""
    try:
        sub = submissions.describe(db_session(), n, request.form.get("description", ""), by=me())
    except FieldError as exc:
        back = sent_back("description", exc)
        return submission_page(*own_or_staff_submission(n), back=back)
    flash(f"The description of submission {sub.id} is saved.")
    return redirect(url_for("student.submission", n=sub.id))


@bp.get("/submissions/<int:n>.json")
@signed_in
def submission_json(n: int):
    """What the submission's page and the Submit page's script follow until it is scored: the submission, its
    place in the queue, then the public rank it gave, and the uploads left today."""
    sub, staff = own_or_staff_submission(n)
    return jsonify(**submissions.as_dict(db_session(), sub, staff=staff),
                   **feedback.of_submission(db_session(), sub).as_dict())


@bp.get("/submissions/<int:n>/file")
@signed_in
def submission_file(n: int):
    sub, _ = own_or_staff_submission(n)
    path = submissions.stored_file(rt().settings, sub)
    if not path.is_file():
        abort(410, "The file of this submission is no longer stored.")
    return send_file(path, as_attachment=True, download_name=sub.file_name)


@bp.post("/submissions/<int:n>/mark")
@signed_in
def mark(n: int):
    sub, _ = own_or_staff_submission(n)
    selected = request.form.get("selected") == "1"
    try:
        selection.set_mark(db_session(), sub.id, selected, by=me())
    except PodiumError as exc:
        if wants_json():
            raise
        flash(exc.message, "error")
    else:
        if not wants_json():
            flash(f"Submission {sub.id} is {'marked' if selected else 'no longer marked'} as final.")
    if wants_json():
        return jsonify(submissions.as_dict(db_session(), sub, staff=False))
    back = request.form.get("back") or url_for("student.my_submissions", cid=sub.competition.public_id)
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("main.index"))
