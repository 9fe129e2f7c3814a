"""The REST API under /api/ (DESIGN.md, "HTTP API"): thin adapters over the services, JSON in and out.

Every answer of every /api/ URL is JSON, errors included: `{"code": <status>, "message": "..."}`, the message
saying what to do. 401 without valid credentials, 403 for a course one is not enrolled in, 404 for what does not
exist or is someone else's (so submission ids confirm nothing), 409 when a window refuses, 413 too large, 429 at the
daily limit (with `Retry-After` and `resets_at`), 503 when the database or the storage cannot take the request now
(with `Retry-After`; nothing was kept).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge, default_exceptions

from podium import rules
from podium.domain import Role, utcnow
from podium.errors import PodiumError
from podium.services import (code, courses, feedback, grade_reports, leaderboards, notifications, rule_values,
                             submissions)
from podium.services.ratelimit import RateLimited
from podium.web.auth import REALM, require_user
from podium.web.context import db_session, end_request_transaction, rt, scoring_queue

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
UNKNOWN_ENDPOINT = "api.unknown"


# --- errors as JSON --------------------------------------------------------------------------------------


def error_response(code: int, message: str, headers: dict | None = None, **extra):
    response = jsonify(code=code, message=message, **extra)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def podium_error(exc: PodiumError):
    headers, extra = dict(exc.headers), {}
    if exc.code == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
        extra["retry_after"] = exc.retry_after
    elif (resets_at := getattr(exc, "resets_at", None)) is not None:  # a daily limit, a cap on waiting uploads
        headers["Retry-After"] = str(max(1, math.ceil((resets_at - utcnow()).total_seconds())))
        extra["resets_at"] = rules.format_utc(resets_at)
    return error_response(exc.code, exc.message, headers, **extra)


def too_large(exc: RequestEntityTooLarge):
    limit = rt().settings.max_upload_bytes / 1e6
    return error_response(413, f"The file is larger than the {limit:.0f} MB limit; compress it (.csv.gz or .zip) "
                               "and upload again.")


def http_error(exc: HTTPException):
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    code = exc.code or 500
    return error_response(code, exc.description or exc.name, headers)


def unexpected_error(exc: Exception):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    log.exception("unexpected error in %s %s", request.method, request.path)
    return error_response(500, "Podium hit an unexpected error. Try again; if it persists, tell the course staff "
                               "(the details are in the server log).")


def register_json_errors(blueprint: Blueprint) -> None:
    """Handlers by status code, so that they win over the site's page-rendering handlers for this blueprint."""
    for code in default_exceptions:
        blueprint.register_error_handler(code, http_error)
    blueprint.register_error_handler(RequestEntityTooLarge, too_large)
    blueprint.register_error_handler(PodiumError, podium_error)
    blueprint.register_error_handler(Exception, unexpected_error)


register_json_errors(bp)


@bp.route("/", defaults={"rest": ""}, methods=METHODS, strict_slashes=False)
@bp.route("/<path:rest>", methods=METHODS)
def unknown(rest: str):
    """Any other /api/ URL: a JSON 404, or 405 when the URL exists for other methods."""
    allowed = allowed_methods(request.path)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed,
                               description=f"{request.method} is not allowed on {request.path}; "
                                           f"use {', '.join(allowed)}.")
    raise NotFound(f"There is no API route {request.path}; the routes are described at /api/openapi.json.")


def allowed_methods(path: str) -> list[str]:
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except Exception:  # noqa: BLE001 - no match, a redirect or a method refusal all mean "not this one"
            continue
        if endpoint != UNKNOWN_ENDPOINT:
            allowed.append(method)
    return allowed


# --- helpers ---------------------------------------------------------------------------------------------


def member_competition(public_id: str) -> tuple:
    """The competition, the caller's role in its course and the caller; 403 when not enrolled."""
    user = require_user()
    comp, role = courses.competition_for_member(db_session(), public_id, user)
    return comp, role, user


def competition_json(comp, role: Role, user, *, detail: bool = False) -> dict:
    outlook = submissions.upload_outlook(db_session(), rt().settings, comp, user, utcnow())
    schedule = outlook.schedule
    data = {
        "id": comp.public_id,
        "course": comp.course.slug,
        "title": comp.title,
        "metric": comp.metric,
        "higher_is_better": comp.higher_is_better,
        "state": courses.competition_state(comp, utcnow()).key,
        "opens": rules.format_utc(schedule.opens),
        "early": rules.format_utc(schedule.early) if schedule.early else None,
        "ontime": rules.format_utc(schedule.ontime),
        "late": rules.format_utc(schedule.late),
        "extended": rule_values.active_extension(db_session(), comp, user) is not None,
        "daily_limit": submissions.daily_limit_of(comp),
        "submissions_used_today": outlook.allowance.used,
        "submissions_left_today": outlook.allowance.left,
        "count_resets_at": rules.format_utc(outlook.allowance.resets_at),
        "accepts_submissions": outlook.accepted,
        "practice_only": outlook.accepted and outlook.practice,
        "submission_refusal": outlook.refusal,
        "display_precision": comp.display_precision,
        "private_released": comp.released_at is not None,
        "role": role.value,
        "url": url_for("api.competition", cid=comp.public_id),
    }
    if detail:
        data.update(
            description=comp.description,
            timezone=comp.course.timezone,
            weight=comp.weight,
            slack_eligible=comp.slack_eligible,
            allow_practice=comp.allow_practice,
            files=[{"name": f.name, "size_bytes": f.size_bytes, "sha256": f.sha256,
                    "url": url_for("api.data_file", cid=comp.public_id, name=f.name)}
                   for f in courses.data_files_for(comp, staff=role.is_staff, now=utcnow())],
        )
    return data


def submission_json(sub, *, staff: bool, hidden: frozenset[int] | None = None, one: bool = False) -> dict:
    """A submission as the API answers it; `one`: an answer about this submission alone, which adds what it tells
    its author (feedback.Feedback: the queue, the public rank, the uploads left today). Lists leave that out."""
    data = submissions.as_dict(db_session(), sub, staff=staff, hidden=hidden)
    if one:
        data.update(feedback.of_submission(db_session(), sub).as_dict())
    if staff:
        data["user"] = {"email": sub.user.email, "name": sub.user.name,
                        "leaderboard_name": sub.user.leaderboard_name_in(sub.competition.course_id) or None}
    return data


def board_row_json(row: leaderboards.Line, user, *, staff: bool) -> dict:
    """A student's row, or a benchmark's: no rank, no entries, `benchmark` its name and `name` "Benchmark: NAME"."""
    if isinstance(row, leaderboards.BenchmarkRow):
        data = {"rank": None, "name": row.label, "benchmark": row.name, "score": float(row.shown_score),
                "submitted_at": rules.format_utc(row.submitted_at), "entries": None, "me": False}
        if staff:
            data["submission_id"] = row.submission_id
        return data
    data = {"rank": row.rank, "name": row.name, "benchmark": None, "score": float(row.shown_score),
            "submitted_at": rules.format_utc(row.submitted_at), "entries": row.entries, "me": row.user_id == user.id}
    if staff:
        data["email"] = row.email
        data["submission_id"] = row.submission_id
    return data


def send_stored_file(path: str | Path, name: str):
    path = Path(path)
    if not path.is_file():
        raise PodiumError("This file is no longer stored on the server; tell the course staff.", code=410)
    return send_file(path, as_attachment=True, download_name=name, conditional=True, max_age=0)


# --- routes ----------------------------------------------------------------------------------------------


@bp.get("/competitions")
def competitions():
    user = require_user()
    return jsonify([competition_json(comp, role, user) for comp, role in courses.competitions_for(user)])


@bp.get("/competitions/<cid>")
def competition(cid: str):
    comp, role, user = member_competition(cid)
    return jsonify(competition_json(comp, role, user, detail=True))


@bp.get("/competitions/<cid>/leaderboard")
def leaderboard(cid: str):
    comp, role, user = member_competition(cid)
    which = request.args.get("board", leaderboards.PUBLIC)
    rows = leaderboards.board_for(db_session(), comp, which, staff=role.is_staff)
    benchmarks = leaderboards.benchmarks_for(db_session(), comp, which, staff=role.is_staff)
    return jsonify(competition=comp.public_id, board=which, display_precision=comp.display_precision,
                   higher_is_better=comp.higher_is_better,
                   entries=[board_row_json(row, user, staff=role.is_staff)
                            for row in leaderboards.with_benchmarks(rows, benchmarks, comp.higher_is_better)])


@bp.get("/competitions/<cid>/submissions")
def list_submissions(cid: str):
    comp, role, user = member_competition(cid)
    subs = submissions.listed_for(db_session(), comp, user, staff=role.is_staff)
    hidden = None if role.is_staff else submissions.private_hidden(db_session(), comp, user=user)
    return jsonify([submission_json(sub, staff=role.is_staff, hidden=hidden) for sub in subs])


@bp.post("/competitions/<cid>/submissions")
def create_submission(cid: str):
    comp, _, user = member_competition(cid)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise PodiumError("Send the predictions as multipart/form-data with the file in a field named `file` (and "
                          "optionally a `description`).", code=400)
    description = request.form.get("description", "")
    comp_id, user_id = comp.id, user.id
    end_request_transaction()
    try:
        sub = submissions.upload(rt().db, rt().settings, scoring_queue(), comp_id, user_id, upload.stream,
                                 upload.filename, description, client_key=request.headers.get("Idempotency-Key"))
    except submissions.AlreadyReceived as repeat:
        # A retry after a lost answer: the first answer again, marked as a replay, and nothing new is recorded.
        return accepted(repeat.submission_id, user, replayed=True)
    return accepted(sub.id, user)


def accepted(submission_id: int, user, *, replayed: bool = False):
    sub, staff = submissions.visible_to(db_session(), submission_id, user)
    response = jsonify(submission_json(sub, staff=staff, one=True))
    response.status_code = 202
    response.headers["Location"] = url_for("api.submission", n=submission_id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# One rule for both methods: an id beyond what the column holds then fails the one rule's converter and is a 404
# for either, where two rules would answer the second method 405 (the first rule matched but for its method).
@bp.route("/submissions/<int:n>", methods=["GET", "PATCH"])
def submission(n: int):
    if request.method == "PATCH":
        return edit_submission(n)
    sub, staff = submissions.visible_to(db_session(), n, require_user())
    return jsonify(submission_json(sub, staff=staff, one=True))


def edit_submission(n: int):
    """Change the description (the one field that may change): its author, or staff of the course (audited)."""
    user = require_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"description"} or not isinstance(body["description"], str):
        raise PodiumError('Send a JSON object with the new description only, e.g. {"description": "tuned the '
                          'learning rate"}; it is the one field of a submission that can be changed.', code=400)
    sub = submissions.describe(db_session(), n, body["description"], by=user)
    return jsonify(submission_json(sub, staff=submissions.visible_to(db_session(), n, user)[1]))


@bp.get("/submissions/<int:n>/file")
def submission_file(n: int):
    sub, _ = submissions.visible_to(db_session(), n, require_user())
    return send_stored_file(submissions.stored_file(rt().settings, sub), sub.file_name)


def code_json(row, counted_id: int | None) -> dict:
    return {"id": row.id, "file_name": row.file_name, "size_bytes": row.size_bytes, "sha256": row.sha256,
            "kind": row.kind, "members": row.members, "submitted_at": rules.format_utc(row.submitted_at),
            "late": row.late, "counts": row.id == counted_id,
            "file_url": url_for("api.code_file", cid=row.competition.public_id, n=row.id)}


def code_state_json(comp, user) -> dict:
    panel = code.code_panel(db_session(), comp, user, utcnow())
    if panel is None:
        raise PodiumError(f"{comp.public_id} does not collect code.", code=404)
    return {"competition": comp.public_id, "required": panel.settings.required,
            "deadline": rules.format_utc(panel.deadline), "class_deadline": rules.format_utc(panel.settings.deadline),
            "max_mb": panel.settings.max_mb, "kinds": list(panel.settings.kinds),
            "uploads": [code_json(row, panel.counted_id) for row in panel.uploads]}


@bp.get("/competitions/<cid>/code")
def list_code(cid: str):
    """The caller's own code uploads for the competition and what counts (never anyone else's)."""
    comp, _, user = member_competition(cid)
    return jsonify(code_state_json(comp, user))


@bp.post("/competitions/<cid>/code")
def create_code(cid: str):
    comp, _, user = member_competition(cid)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise PodiumError("Send the code as multipart/form-data with the file (.zip, .tar.gz, .py or .ipynb) in a "
                          "field named `file`.", code=400)
    comp_id, user_id = comp.id, user.id
    end_request_transaction()
    row = code.receive_code(rt().db, rt().settings, comp_id, user_id, upload.stream, upload.filename)
    comp, _, user = member_competition(cid)
    state = code_state_json(comp, user)
    response = jsonify(next(u for u in state["uploads"] if u["id"] == row.id))
    response.status_code = 201
    response.headers["Location"] = url_for("api.code_file", cid=cid, n=row.id)
    return response


@bp.get("/competitions/<cid>/code/<int:n>/file")
def code_file(cid: str, n: int):
    comp, _, user = member_competition(cid)
    row = code.own_upload(db_session(), comp, user, n)
    return send_stored_file(code.code_file(rt().settings, row), row.file_name)


@bp.get("/competitions/<cid>/files/<name>")
def data_file(cid: str, name: str):
    comp, role, _ = member_competition(cid)
    return send_stored_file(courses.data_file(rt().settings, comp, name, staff=role.is_staff, now=utcnow()), name)


@bp.get("/me/grades")
def my_grades():
    user = require_user()
    return jsonify(courses=grade_reports.student_grades(db_session(), user))


@bp.get("/me")
def me():
    user = require_user()
    enrolments = sorted(user.enrolments, key=lambda e: e.course.slug)
    # Names belong to the enrolment: each course has its own. The top-level pair is the first course's, which
    # keeps single-course clients of the earlier, per-account fields working.
    first = enrolments[0] if enrolments else None
    return jsonify(email=user.email, name=user.name,
                   leaderboard_name=first.chosen_leaderboard_name if first else None,
                   board_name=first.board_name if first else leaderboards.board_name(user.id, ""),
                   courses=[{"course": e.course.slug, "title": e.course.title, "role": e.role.value,
                             "leaderboard_name": e.chosen_leaderboard_name, "board_name": e.board_name}
                            for e in enrolments],
                   notifications=notifications.Choices.of(user).as_dict())


@bp.get("/openapi.json")
def openapi():
    from podium.web.openapi import document

    return jsonify(document())
