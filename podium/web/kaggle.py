"""The Kaggle-compatible API under /api/v1/, so that the unmodified `kaggle==1.6.17` CLI works (kaggle-api.md).

Field names, date formats and response shapes follow what that client reads (kaggle/api/kaggle_api_extended.py and
kaggle/models/kaggle_models_extended.py). Errors are `{"code", "message"}` with the HTTP status; the client prints
"<status> - <reason> - <message>", so the message says what to fix.

Submitting is three calls: a ticket for the announced file (`submission_url`), the client's PUT of the raw bytes to
the ticket's URL without credentials (`upload`), then `submit`, which receives the file as a submission and waits a
little for the background scoring, so that a file with the wrong columns gets its message at once, as on the site.
"""
from __future__ import annotations

import io
import time
import zipfile

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from werkzeug.http import http_date

from podium import rules
from podium.domain import Status, utcnow
from podium.errors import PodiumError
from podium.services import courses, export, feedback, leaderboards, rule_values, submissions, upload_tickets
from podium.web.api import member_competition, register_json_errors, send_stored_file
from podium.web.auth import require_user
from podium.web.context import db_session, end_request_transaction, rt, scoring_queue
from podium.web.limits import limited_per_address
from podium.web.links import absolute_url
from podium.web.security import no_store

bp = Blueprint("kaggle", __name__, url_prefix="/api/v1")
register_json_errors(bp)

SUBMIT_WAIT_SECONDS = 20.0  # app.config["PODIUM_KAGGLE_SUBMIT_WAIT"] overrides
POLL_SECONDS = 0.1
PAGE_SIZE = 20
KAGGLE_STATUS = {Status.queued: "pending", Status.scoring: "pending", Status.scored: "complete",
                 Status.failed: "error"}


def whole_number(raw: str, name: str, meaning: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise PodiumError(f"{name} must be {meaning}, a whole number, not {raw!r}", code=400) from None


def page_arg() -> int | None:
    raw = request.args.get("page", "")
    if not raw:
        return None
    try:
        return max(1, int(raw))
    except ValueError:
        raise PodiumError(f"page must be a whole number, not {raw!r}", code=400) from None


# --- competitions list -----------------------------------------------------------------------------------


@bp.get("/competitions/list")
def competitions_list():
    user = require_user()
    page = page_arg() or 1
    if page > 1:  # one page holds every competition a student can see
        return jsonify([])
    search = request.args.get("search", "").strip().lower()
    entered_only = request.args.get("group") == "entered"
    items = []
    for comp, role in courses.competitions_for(user):
        if search and search not in comp.public_id.lower() and search not in comp.title.lower():
            continue
        entered = bool(submissions.listed_for(db_session(), comp, user, staff=False))
        if entered_only and not entered:
            continue
        items.append(competition_item(comp, entered))
    return jsonify(items)


def competition_item(comp, entered: bool) -> dict:
    user = require_user()
    schedule = rule_values.schedule_for(db_session(), comp, user)
    now = utcnow()
    return {
        "id": comp.id,
        "ref": comp.public_id,
        "title": comp.title,
        "url": absolute_url("api.competition", cid=comp.public_id),
        "description": comp.description,
        "organizationName": comp.course.title,
        "organizationRef": comp.course.slug,
        "category": "inClass",
        "reward": "Course grade",
        "tags": [],
        "deadline": rules.format_utc(schedule.ontime),
        "enabledDate": rules.format_utc(schedule.opens),
        "mergerDeadline": None,
        "newEntrantDeadline": None,
        "kernelCount": 0,
        "teamCount": len(leaderboards.public_board(db_session(), comp)),
        "userHasEntered": entered,
        "userRank": None,
        "maxDailySubmissions": submissions.daily_limit_of(comp),
        "maxTeamSize": 1,
        "evaluationMetric": comp.metric,
        "awardsPoints": False,
        "isKernelsSubmissionsOnly": False,
        "submissionsDisabled": submissions.upload_window(comp, schedule, now).refused,
    }


# --- submitting ------------------------------------------------------------------------------------------


@bp.post("/competitions/<cid>/submissions/url/<contentLength>/<lastModifiedDateUtc>")
@no_store  # the upload address carries a ticket that lets its holder upload as this student
def submission_url(cid: str, contentLength: str, lastModifiedDateUtc: str):  # noqa: N803 - the client's names
    comp, _, user = member_competition(cid)
    size = whole_number(contentLength, "contentLength", "the file's size in bytes")
    whole_number(lastModifiedDateUtc, "lastModifiedDateUtc", "the file's modification time in seconds")
    issued = upload_tickets.issue(db_session(), rt().settings, comp, user, request.form.get("fileName", ""), size)
    db_session().commit()  # the client PUTs right away, maybe to another server process
    return jsonify(createUrl=absolute_url("kaggle.upload", token=issued.token), token=issued.token)


@bp.put("/uploads/<token>")
@limited_per_address("kaggle-upload", "the Kaggle CLI's upload address")
def upload(token: str):
    """The raw bytes of a ticket's file, sent without credentials: the token in the URL is the authorisation."""
    size = upload_tickets.store_upload(rt().db, rt().settings, token, request.stream, request.content_length)
    return jsonify(receivedBytes=size)


@bp.post("/competitions/submissions/submit/<cid>")
def submit(cid: str):
    comp, role, user = member_competition(cid)
    token = request.form.get("blobFileTokens", "")
    description = request.form.get("submissionDescription", "")
    title, public_id, comp_id, user_id = comp.title, comp.public_id, comp.id, user.id
    end_request_transaction()  # and none is held while waiting for the scoring workers
    sub = upload_tickets.hand_in(rt().db, rt().settings, scoring_queue(), token, comp_id, user_id, description)
    outcome = wait_for_outcome(sub.id, float(current_app.config.get("PODIUM_KAGGLE_SUBMIT_WAIT",
                                                                    SUBMIT_WAIT_SECONDS)))
    told = feedback.read(rt().db, sub.id)
    left = told.allowance.summary(told.timezone)
    if outcome.status == Status.failed:
        raise PodiumError(f"Submission {sub.id} was received but could not be scored: {outcome.error} "
                          f"It does not count against the daily limit: {left}", code=422)
    said = f"Successfully submitted to {title} ({public_id}) as submission {sub.id}"
    if outcome.status == Status.scored:
        rank = f" {told.rank.text}" if told.rank is not None else ""
        message = f"{said}: public score {leaderboards.shown(comp, outcome.public_score)}.{rank} {left}"
    else:
        message = (f"{said}; it is still being scored: `kaggle competitions submissions -c {public_id}` shows its "
                   f"score. {left}")
    return jsonify(message=message, ref=sub.id, status=KAGGLE_STATUS[outcome.status])


def wait_for_outcome(submission_id: int, timeout: float):
    """The submission once scored or failed, or as it stands after `timeout` seconds. Whichever process scores
    it, the row is what tells."""
    deadline = time.monotonic() + timeout
    while True:
        sub = submissions.read_afresh(rt().db, submission_id)
        if sub.status in (Status.scored, Status.failed) or time.monotonic() >= deadline:
            return sub
        time.sleep(POLL_SECONDS)


# --- submissions -----------------------------------------------------------------------------------------


@bp.get("/competitions/submissions/list/<cid>")
def submissions_list(cid: str):
    comp, _, user = member_competition(cid)
    subs = submissions.listed_for(db_session(), comp, user, staff=False)
    page = page_arg()
    if page is not None:
        subs = subs[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    show_private = submissions.private_visible(comp, False)
    hidden = submissions.private_hidden(db_session(), comp, user=user)
    return jsonify([submission_item(comp, sub, show_private and sub.id not in hidden) for sub in subs])


def submission_item(comp, sub, show_private: bool) -> dict:
    return {
        "ref": sub.id,
        "url": absolute_url("api.submission", n=sub.id),
        "fileName": sub.file_name,
        "date": rules.format_utc(sub.submitted_at),
        "description": sub.description,
        "status": KAGGLE_STATUS[sub.status],
        "errorDescription": sub.error or "",
        "publicScore": leaderboards.shown(comp, sub.public_score),
        "privateScore": leaderboards.shown(comp, sub.private_score) if show_private else "",
        "totalBytes": sub.size_bytes,
        "submittedBy": sub.user.leaderboard_name_in(comp.course_id) or sub.user.greeting_name,
        "teamName": sub.user.leaderboard_name_in(comp.course_id) or sub.user.greeting_name,
        "type": "standard",
    }


# --- leaderboard -----------------------------------------------------------------------------------------


def shown_board(comp) -> tuple[str, list[leaderboards.Line]]:
    """The board the Kaggle CLI shows: the public one, the private one once released; with the benchmarks, each
    placed by its score with no team id (its rank) and "Benchmark: NAME" as its team name."""
    which = leaderboards.default_board(comp)
    rows = leaderboards.board_for(db_session(), comp, which, staff=False)
    benchmarks = leaderboards.benchmarks_for(db_session(), comp, which, staff=False)
    return which, leaderboards.with_benchmarks(rows, benchmarks, comp.higher_is_better)


def team(row: leaderboards.Line) -> tuple[int | str, str]:
    """A line's team id (the student's rank; none for a benchmark) and team name."""
    if isinstance(row, leaderboards.BenchmarkRow):
        return "", row.label
    return row.rank, row.name


@bp.get("/competitions/<cid>/leaderboard/view")
def leaderboard_view(cid: str):
    comp, _, _ = member_competition(cid)
    _, rows = shown_board(comp)
    return jsonify(submissions=[{"teamId": team(row)[0], "teamName": team(row)[1],
                                 "submissionDate": rules.format_utc(row.submitted_at), "score": row.shown_score}
                                for row in rows])


@bp.get("/competitions/<cid>/leaderboard/download")
def leaderboard_download(cid: str):
    comp, _, _ = member_competition(cid)
    which, rows = shown_board(comp)
    text = io.StringIO()
    writer = export.csv_writer(text)
    writer.writerow(["TeamId", "TeamName", "SubmissionDate", "Score"])
    for row in rows:
        # A leaderboard name is the student's own text: neutralised like every other CSV export, so that opening
        # the download in a spreadsheet never runs it as a formula. The score stays a number, negative or not.
        team_id, name = team(row)
        writer.writerow([team_id, export.safe_text(name), rules.format_utc(row.submitted_at), row.shown_score])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{comp.public_id}-{which}leaderboard.csv", text.getvalue())
    data = archive.getvalue()
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename={comp.public_id}.zip",
        "Content-Length": str(len(data)),
        "Last-Modified": http_date(utcnow()),
    })


# --- data files ------------------------------------------------------------------------------------------


@bp.get("/competitions/data/list/<cid>")
def data_list(cid: str):
    comp, role, _ = member_competition(cid)
    files = [{"ref": f.name, "name": f.name, "totalBytes": f.size_bytes, "creationDate": rules.format_utc(f.created_at),
              "url": absolute_url("api.data_file", cid=comp.public_id, name=f.name), "description": ""}
             for f in courses.data_files_for(comp, staff=role.is_staff, now=utcnow())]
    return jsonify(files=files, nextPageToken="")


@bp.get("/competitions/data/download/<cid>/<fileName>")
def data_download(cid: str, fileName: str):  # noqa: N803 - the client's name
    comp, role, _ = member_competition(cid)
    # A 404 that says why (no such file, hidden until the opening, missing on the server), before any redirect.
    courses.data_file(rt().settings, comp, fileName, staff=role.is_staff, now=utcnow())
    return redirect(absolute_url("api.data_file", cid=comp.public_id, name=fileName))


@bp.get("/competitions/data/download-all/<cid>")
def data_download_all(cid: str):
    comp, _, _ = member_competition(cid)
    return redirect(absolute_url("kaggle.data_archive", cid=comp.public_id))


@bp.get("/competitions/data/archive/<cid>.zip")
def data_archive(cid: str):
    comp, role, _ = member_competition(cid)
    return send_stored_file(courses.data_archive(rt().settings, comp, staff=role.is_staff, now=utcnow()),
                            f"{comp.public_id}.zip")
