"""The OpenAPI 3.1 description of every /api/ route: the REST API and the Kaggle-compatible one.

Served at /api/openapi.json. tests/api/test_openapi.py checks that it is a valid document, that it lists exactly
the routes the app serves with the same methods, and that real responses match the schemas below.
"""
from __future__ import annotations

from copy import deepcopy
from functools import lru_cache

VERSION = "1.0.0"

# --- schemas ---------------------------------------------------------------------------------------------

DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 in UTC, e.g. 2019-09-30T03:59:59Z"}


def nullable(schema: dict) -> dict:
    out = deepcopy(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def obj(properties: dict, required: list[str] | None = None, *, extra: bool = False, description: str = "") -> dict:
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required,
              "additionalProperties": extra}
    if description:
        schema["description"] = description
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


STRING, INTEGER, NUMBER, BOOLEAN = ({"type": t} for t in ("string", "integer", "number", "boolean"))
CHOSEN_NAME = {**nullable(STRING), "description": "the leaderboard name the person chose; null until they choose one"}

COMPETITION = {
    "id": {"type": "string", "description": "public id <course>-<competition>", "example": "11785-f19-hw1p2"},
    "course": STRING,
    "title": STRING,
    "metric": STRING,
    "higher_is_better": BOOLEAN,
    "state": {"type": "string", "enum": ["upcoming", "open", "late", "closed"]},
    "opens": DATE_TIME,
    "early": nullable(DATE_TIME),
    "ontime": DATE_TIME,
    "late": DATE_TIME,
    "extended": {"type": "boolean", "description": "the deadlines shown include the caller's extension"},
    "daily_limit": {"type": "integer", "description": "uploads a student may make per calendar day in the course "
                    "time zone (those that fail are given back)"},
    "submissions_used_today": {"type": "integer", "description": "the caller's uploads today that count against the "
                               "daily limit: scored ones and those still waiting to be scored (failed ones are given "
                               "back)"},
    "submissions_left_today": {**nullable(INTEGER), "description": "how many more uploads the daily limit takes today; "
                               "null when no limit applies to the caller (staff)"},
    "count_resets_at": {**DATE_TIME, "description": "when the daily count starts again: the next midnight in the "
                        "course time zone, in UTC"},
    "accepts_submissions": {"type": "boolean", "description": "an upload by the caller now would be taken (window, "
                            "finalisation, daily limit and the cap on failed uploads); the upload is checked again "
                            "when it arrives"},
    "practice_only": {"type": "boolean", "description": "an upload now is taken as a practice submission (the "
                      "competition closed and takes them): scored for its author, never graded, on no leaderboard"},
    "submission_refusal": {**nullable(STRING), "description": "why an upload now would be refused (when it opens, "
                           "when it closed, the daily limit and when it resets); null when it would be taken"},
    "display_precision": INTEGER,
    "private_released": BOOLEAN,
    "role": {"type": "string", "enum": ["student", "staff", "instructor"]},
    "url": STRING,
}
DATA_FILE = obj({"name": STRING, "size_bytes": INTEGER, "sha256": STRING, "url": STRING})
COMPETITION_DETAIL = obj({
    **COMPETITION,
    "description": STRING,
    "timezone": STRING,
    "weight": NUMBER,
    "slack_eligible": BOOLEAN,
    "allow_practice": BOOLEAN,
    "files": array(ref("DataFile")),
})
ONE_SUBMISSION = ("Only in answers about this one submission (GET /api/submissions/{n} and the 202 of an upload), "
                  "not in lists")
QUEUE_PLACE = obj({
    "place": {**nullable(INTEGER), "description": "1 is next; null while it is being scored"},
    "waiting": {"type": "integer", "description": "uploads waiting to be scored on the whole server"},
    "being_scored": {"type": "integer", "description": "uploads being scored now on the whole server"},
    "text": {"type": "string", "description": "the same in words, e.g. \"3rd in line to be scored: ...\""},
})
PUBLIC_RANK = obj({
    "before": {**nullable(INTEGER), "description": "the author's rank on the public leaderboard just before it was "
               "scored; null when not on it"},
    "after": {**nullable(INTEGER), "description": "the author's rank just after it was scored"},
    "students": {"type": "integer", "description": "students on the public leaderboard just after it was scored"},
    "changed": BOOLEAN,
    "text": {"type": "string", "description": "the same in words, e.g. \"Public rank: 12 → 7 of 40.\""},
})
SUBMISSION_FEEDBACK = {
    "submissions_used_today": {**INTEGER, "description": "the author's uploads today that count against the daily "
                               "limit (scored and waiting; failed ones are given back)"},
    "submissions_left_today": {**nullable(INTEGER), "description": "how many more uploads the author's daily limit "
                               "takes today; null when none applies (staff)"},
    "count_resets_at": {**DATE_TIME, "description": "when the daily count starts again (the next midnight in the "
                        "course time zone)"},
    "queue": {"oneOf": [QUEUE_PLACE, {"type": "null"}], "description": "its place in the scoring queue while it "
              "waits or is being scored; null otherwise"},
    "public_rank": {"oneOf": [PUBLIC_RANK, {"type": "null"}], "description": "once scored, the author's rank on the "
                    "public leaderboard (public scores only) just before and just after it was scored; null before, "
                    "for a failed one, and for staff's own"},
}
SUBMISSION = obj({
    "id": INTEGER,
    "competition": STRING,
    "status": {"type": "string", "enum": ["queued", "scoring", "scored", "failed"]},
    "error": nullable(STRING),
    "public_score": nullable(NUMBER),
    "private_score": {"type": ["number", "null"],
                      "description": "null for students until the private board is released, and after an early "
                                     "release, for a submission received after it, until its author's late deadline "
                                     "has passed (`private_hidden_until`)"},
    "private_hidden_until": {**nullable(DATE_TIME), "description": "for a student's submission received after an "
                             "early release: its author's late deadline, after which its private score is shown"},
    "submitted_at": DATE_TIME,
    "window": {"type": "string", "enum": ["on_time", "after", "practice", "closed", "not_open"]},
    "days_late": INTEGER,
    "description": STRING,
    "file_name": STRING,
    "file_removed_at": {**nullable(DATE_TIME), "description": "when the file was removed: files that cannot be "
                                                              "scored are kept a number of days, then deleted"},
    "selected": BOOLEAN,
    "benchmark": {**nullable(STRING), "description": "the name under which the boards show this submission of a "
                                                     "staff member as a benchmark row; null for any other"},
    "user": {**obj({"email": STRING, "name": STRING, "leaderboard_name": CHOSEN_NAME}),
             "description": "the author; in staff views only"},
    **{name: {**schema, "description": f"{schema['description']}. {ONE_SUBMISSION}"}
       for name, schema in SUBMISSION_FEEDBACK.items()},
}, required=["id", "competition", "status", "error", "public_score", "private_score", "private_hidden_until",
             "submitted_at", "window", "days_late", "description", "file_name", "file_removed_at", "selected",
             "benchmark"])
SUBMISSION_CHANGE = obj({"description": {"type": "string", "maxLength": 1000,
                                         "description": "the new description (surrounding white space removed)"}})
LEADERBOARD_ENTRY = obj({
    "rank": {"type": ["integer", "null"], "description": "the student's rank; null on a benchmark row, which ranks "
                                                         "nowhere: students' ranks are the same without it"},
    "name": {"type": "string", "description": "the student's leaderboard name; \"Benchmark: NAME\" on a benchmark row"},
    "benchmark": {**nullable(STRING), "description": "on a benchmark row (a baseline of the course staff, placed by "
                                                     "its score), its name; null on a student's row"},
    "score": {"type": "number", "description": "rounded to the competition's display precision"},
    "submitted_at": DATE_TIME,
    "entries": {"type": ["integer", "null"], "description": "the student's scored submissions; null on a benchmark "
                                                            "row"},
    "me": {"type": "boolean", "description": "this row is the caller's"},
    "email": {"type": "string", "description": "staff views only, students' rows only"},
    "submission_id": {"type": "integer", "description": "staff views only"},
}, required=["rank", "name", "benchmark", "score", "submitted_at", "entries", "me"])
LEADERBOARD = obj({
    "competition": STRING,
    "board": {"type": "string", "enum": ["public", "private"]},
    "display_precision": INTEGER,
    "higher_is_better": BOOLEAN,
    "entries": array(ref("LeaderboardEntry")),
})
PROVISIONAL = ("computed with public scores in place of private ones, because the private board is not released "
               "yet, or (after an early release) for submissions received after it whose authors' late deadlines "
               "have not passed (POLICY.md section 11)")
GRADE_CHANGE = obj({
    "old": {**nullable(NUMBER), "description": "the final grade before (null: no grade)"},
    "new": {**nullable(NUMBER), "description": "the final grade after (null: no grade)"},
    "reason": {"type": "string", "description": "why it changed: a regrade, or the release of another competition "
                                                "through the slack chain"},
    "at": DATE_TIME,
}, required=["old", "new", "reason", "at"])
COMPETITION_GRADE = obj({
    "competition": STRING,
    "title": STRING,
    "released": {"type": "boolean", "description": "the private board is released"},
    "provisional": {"type": "boolean", "description": "the row is " + PROVISIONAL},
    "window": {"type": "string", "enum": ["on_time", "slack", "late", "none"]},
    "submission_id": nullable(INTEGER),
    "days_late": INTEGER,
    "slack_used": INTEGER,
    "early_penalty": BOOLEAN,
    "score_board": {"type": "string", "enum": ["public", "private"],
                    "description": "the board whose score the grade was computed from"},
    "score": {**nullable(NUMBER), "description": "the counted submission's score on `score_board`"},
    "private_score": {**nullable(NUMBER), "description": "null while `score_board` is public"},
    "grade": {**nullable(NUMBER), "description": "null when the competition has no grades yet (its cutoffs are "
                                                 "leaderboard positions that give no values yet): see "
                                                 "`no_grade_reason`"},
    "no_grade_reason": {**nullable(STRING), "description": "why `grade` is null; null when there is a grade"},
    "explanation": STRING,
    "change": {**nullable(GRADE_CHANGE), "description": "the last change of this grade of a released competition "
                                                        "by a decision (POLICY.md section 11), with its reason"},
})
COURSE_GRADES = obj({
    "course": STRING,
    "title": STRING,
    "provisional": {"type": "boolean", "description": "some competition's row is provisional, so the slack days "
                                                      "and the total are too"},
    "slack_policy": {"type": "string", "enum": ["chronological", "optimal"]},
    "slack_budget": INTEGER,
    "slack_used": INTEGER,
    "slack_remaining": INTEGER,
    "total": {"type": "number", "description": "the weighted total over the competitions that have a grade (one "
                                              "whose `grade` is null adds nothing); provisional while "
                                              "`provisional` is true"},
    "competitions": array(ref("CompetitionGrade")),
})
GRADES = obj({
    "course": STRING,
    "title": STRING,
    "slack_policy": {"type": "string", "enum": ["chronological", "optimal"]},
    "slack_budget": INTEGER,
    "slack_used": INTEGER,
    "slack_remaining": INTEGER,
    "total": {"type": ["number", "null"], "description": "weighted total, once every competition is released"},
    "competitions": array(ref("CompetitionGrade")),
})
GRADES = obj({"courses": array(ref("CourseGrades"))})
BOARD_NAME = {"type": "string", "description": "the name the course's leaderboards show: the chosen leaderboard "
                                               "name, or \"Student <id>\" until one is chosen"}
FIRST_COURSE = "; the first course's (by slug): names belong to each course, see `courses`"
ME = obj({"email": STRING, "name": STRING,
          "leaderboard_name": {**CHOSEN_NAME, "description": CHOSEN_NAME["description"] + FIRST_COURSE},
          "board_name": {**BOARD_NAME, "description": BOARD_NAME["description"] + FIRST_COURSE},
          "courses": array(obj({"course": STRING, "title": STRING,
                                "role": {"type": "string", "enum": ["student", "staff", "instructor"]},
                                "leaderboard_name": CHOSEN_NAME, "board_name": BOARD_NAME})),
          "notifications": obj({
              "submission_results": {**BOOLEAN, "description": "mail when a submission of yours is scored or fails"},
              "deadline_reminders": {**BOOLEAN, "description": "mail 24 hours before your early and on-time "
                                                              "deadlines while you have no scored submission"},
              "grade_changes": {**BOOLEAN, "description": "mail when your grades are released or changed"},
          }, description="the mails you asked for on your profile page")})
ERROR = obj({
    "code": {"type": "integer", "description": "the HTTP status"},
    "message": {"type": "string", "description": "what to do about it"},
    "resets_at": {**DATE_TIME, "description": "429 only: when the daily count starts again"},
}, required=["code", "message"])

KAGGLE_COMPETITION = obj({
    "id": INTEGER, "ref": STRING, "title": STRING, "url": STRING, "description": STRING,
    "organizationName": STRING, "organizationRef": STRING, "category": STRING, "reward": STRING,
    "tags": array(obj({})), "deadline": DATE_TIME, "enabledDate": DATE_TIME,
    "mergerDeadline": {"type": "null"}, "newEntrantDeadline": {"type": "null"}, "kernelCount": INTEGER,
    "teamCount": INTEGER, "userHasEntered": BOOLEAN, "userRank": {"type": "null"}, "maxDailySubmissions": INTEGER,
    "maxTeamSize": INTEGER, "evaluationMetric": STRING, "awardsPoints": BOOLEAN, "isKernelsSubmissionsOnly": BOOLEAN,
    "submissionsDisabled": BOOLEAN,
}, description="a competition as `kaggle competitions list` reads it; `ref` is the id to pass with -c")
KAGGLE_SUBMISSION = obj({
    "ref": INTEGER, "url": STRING, "fileName": STRING, "date": DATE_TIME, "description": STRING,
    "status": {"type": "string", "enum": ["pending", "complete", "error"]}, "errorDescription": STRING,
    "publicScore": {"type": "string", "description": "empty until scored"},
    "privateScore": {"type": "string", "description": "empty until the private board is released"},
    "totalBytes": INTEGER, "submittedBy": STRING, "teamName": STRING, "type": STRING,
})
KAGGLE_LEADERBOARD = obj({"submissions": array(obj({
    "teamId": {"type": ["integer", "string"], "description": "the rank; \"\" on a benchmark row, which ranks nowhere"},
    "teamName": {"type": "string", "description": "the leaderboard name; \"Benchmark: NAME\" on a benchmark row"},
    "submissionDate": DATE_TIME,
    "score": {"type": "string", "description": "rounded to the competition's display precision"}}))},
    description="the public board, or the private one once released")
KAGGLE_FILES = obj({"files": array(obj({"ref": STRING, "name": STRING, "totalBytes": INTEGER,
                                        "creationDate": DATE_TIME, "url": STRING, "description": STRING})),
                    "nextPageToken": STRING})
KAGGLE_UPLOAD_URL = obj({"createUrl": {"type": "string", "description": "where to PUT the file, without credentials"},
                         "token": {"type": "string", "description": "single use; pass as blobFileTokens"}})
KAGGLE_UPLOADED = obj({"receivedBytes": INTEGER})
KAGGLE_SUBMITTED = obj({"message": STRING, "ref": INTEGER,
                        "status": {"type": "string", "enum": ["pending", "complete", "error"]}})

CODE_UPLOAD = obj({
    "id": INTEGER,
    "file_name": STRING,
    "size_bytes": INTEGER,
    "sha256": STRING,
    "kind": {"type": "string", "enum": [".zip", ".tar.gz", ".py", ".ipynb"]},
    "members": {"type": "integer", "description": "the files in it (1 for a single .py or .ipynb)"},
    "submitted_at": DATE_TIME,
    "late": {"type": "boolean", "description": "received after your code deadline: kept, never counted"},
    "counts": {"type": "boolean", "description": "the code that counts: your latest upload by your code deadline"},
    "file_url": STRING,
}, description="One of your code uploads (POLICY.md section 12); nobody else's is ever listed")
CODE_STATE = obj({
    "competition": STRING,
    "required": BOOLEAN,
    "deadline": {**DATE_TIME, "description": "your code deadline (your extension moves it)"},
    "class_deadline": DATE_TIME,
    "max_mb": NUMBER,
    "kinds": array(STRING),
    "uploads": array(ref("CodeUpload")),
})

SCHEMAS = {
    "CodeUpload": CODE_UPLOAD, "CodeState": CODE_STATE,
    "Error": ERROR, "Competition": obj(COMPETITION), "CompetitionDetail": COMPETITION_DETAIL, "DataFile": DATA_FILE,
    "Submission": SUBMISSION, "SubmissionChange": SUBMISSION_CHANGE, "Leaderboard": LEADERBOARD,
    "LeaderboardEntry": LEADERBOARD_ENTRY,
    "Grades": GRADES, "CourseGrades": COURSE_GRADES, "CompetitionGrade": COMPETITION_GRADE, "Me": ME,
    "KaggleCompetition": KAGGLE_COMPETITION, "KaggleSubmission": KAGGLE_SUBMISSION,
    "KaggleLeaderboard": KAGGLE_LEADERBOARD, "KaggleFileList": KAGGLE_FILES, "KaggleUploadUrl": KAGGLE_UPLOAD_URL,
    "KaggleUploaded": KAGGLE_UPLOADED, "KaggleSubmitResult": KAGGLE_SUBMITTED,
}

# --- responses -------------------------------------------------------------------------------------------

ERRORS = {
    400: "The request is malformed (a missing field, a parameter of the wrong type); the message says which.",
    401: "No valid credentials: use HTTP Basic with your email and API key (or sign in on the site).",
    403: "You are not enrolled in this competition's course, or may not see this yet.",
    404: "No such competition, submission or file, or it is not yours to see.",
    409: "The rules refuse it now: the competition is not open yet or has closed (or an Idempotency-Key was reused "
         "for a different file).",
    410: "The file is no longer stored on the server (files that could not be scored are removed after some "
         "days; the message says when).",
    413: "The file is larger than the upload limit.",
    422: "The file was received but could not be scored; the message says what to fix (at the cap on failed "
         "uploads per day, such a file is not kept).",
    429: "Too many: the API's request limit for your key (or, without valid credentials, your address) is spent, "
         "or for uploads the daily submission limit is reached, or too many bytes of your Kaggle CLI uploads wait "
         "to be handed in (then `resets_at` says when it resets). `Retry-After` says how many seconds to wait.",
    503: "Podium cannot take the request at the moment: its database is busy or out of reach, or its storage "
         "refuses the file. Nothing was kept; send the same request again after `Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait before trying again"}}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Basic realm="podium"'}},
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}


def error_response(code: int) -> dict:
    response = {"description": ERRORS[code], "content": {"application/json": {"schema": ref("Error")}}}
    if code in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[code]
    return response


def json_response(description: str, schema: dict, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def file_response(description: str, media_type: str = "*/*") -> dict:
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {"Content-Length": {"schema": {"type": "string"}},
                        "Last-Modified": {"schema": {"type": "string"}}}}


def redirect_response(description: str) -> dict:
    return {"description": description, "headers": {"Location": {"schema": {"type": "string"},
                                                                 "description": "the file's URL"}}}


def path_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema or STRING}


def query_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STRING}


CID = path_param("cid", "the competition's public id, <course>-<competition>")
SUBMISSION_ID = path_param("n", "the submission's id", {"type": "integer", "format": "int64"})
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "a fresh key (e.g. a UUID) per upload; sending the same file again with the same "
                                  "key, after a lost answer, returns the first submission instead of making a "
                                  "second one", "schema": {"type": "string", "maxLength": 100}}
PUBLIC = []  # no security requirement


def operation(summary: str, tag: str, responses: dict, errors: tuple[int, ...], *, params: list | None = None,
              body: dict | None = None, security: list | None = None, description: str = "",
              rate_limited: bool = True) -> dict:
    # Every API request counts against a request limit: the caller's (podium.web.auth.limit_api_request), or for
    # the upload URL, which carries no credentials, its client address's (podium.web.limits). The count is kept in
    # the database, so every such request may also find the database unavailable (503).
    errors = tuple(sorted({*errors, 429, 503})) if rate_limited else errors
    op = {"summary": summary, "tags": [tag], "responses": {**{str(k): v for k, v in responses.items()},
                                                         **{str(code): error_response(code) for code in errors}}}
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if security is not None:
        op["security"] = security
    return op


def multipart(properties: dict, required: list[str]) -> dict:
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}


# --- paths -----------------------------------------------------------------------------------------------

REST = "REST API"
KAGGLE = "Kaggle-compatible API"


def paths() -> dict:
    return {
        "/api/competitions": {"get": operation(
            "The competitions of the courses you are enrolled in", REST,
            {200: json_response("Competitions, by course and on-time deadline", array(ref("Competition")))}, (401,))},
        "/api/competitions/{cid}": {"get": operation(
            "One competition, with its data files (for students, none before it opens unless staff show them early)",
            REST,
            {200: json_response("The competition", ref("CompetitionDetail"))}, (401, 403, 404), params=[CID])},
        "/api/competitions/{cid}/leaderboard": {"get": operation(
            "A leaderboard", REST,
            {200: json_response("Students ranked, best first, with the staff's benchmark rows placed by their "
                                "scores", ref("Leaderboard"))},
            (400, 401, 403, 404), params=[CID, query_param(
                "board", "public (default) or private; the private board is for staff, and for students once "
                         "released", {"type": "string", "enum": ["public", "private"], "default": "public"})])},
        "/api/competitions/{cid}/submissions": {
            "get": operation(
                "Your submissions (staff: everyone's)", REST,
                {200: json_response("Newest first", array(ref("Submission")))}, (401, 403, 404), params=[CID]),
            "post": operation(
                "Upload predictions", REST,
                {202: json_response("Received and queued for scoring", ref("Submission"),
                                    {"Location": {"schema": {"type": "string"},
                                                  "description": "the submission's URL, to poll for the score"},
                                     "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                                             "description": "present when the Idempotency-Key "
                                                                            "named an earlier submission, which "
                                                                            "this answer describes"}})},
                (400, 401, 403, 404, 409, 413, 422, 429), params=[CID, IDEMPOTENCY_KEY],
                body=multipart({"file": {"type": "string", "format": "binary",
                                         "description": "a CSV, .csv.gz or .zip with the sample submission's columns"},
                                "description": {"type": "string"}}, ["file"]),
                description="The upload is stored durably before the answer; scoring runs in the background. Poll "
                            "the Location until `status` is `scored` or `failed` (with `error` saying why). "
                            "Send an Idempotency-Key to retry safely."),
        },
        "/api/competitions/{cid}/code": {
            "get": operation(
                "Your code uploads for a competition that collects code, and which one counts", REST,
                {200: json_response("Newest first", ref("CodeState"))}, (401, 403, 404), params=[CID]),
            "post": operation(
                "Upload your code", REST,
                {201: json_response("Stored", ref("CodeUpload"),
                                    {"Location": {"schema": {"type": "string"},
                                                  "description": "the upload's file URL"}})},
                (400, 401, 403, 404, 413, 422), params=[CID],
                body=multipart({"file": {"type": "string", "format": "binary",
                                         "description": "your code: .zip, .tar.gz, .py or .ipynb (those the "
                                                        "competition accepts)"}}, ["file"]),
                description="Checked before it is stored (no links, no paths leaving the archive, no archive "
                            "bombs; 422 says what to fix) and stored durably before the answer. Your latest upload "
                            "by your code deadline counts; one after it is kept, marked late."),
        },
        "/api/competitions/{cid}/code/{n}/file": {"get": operation(
            "One of your code uploads", REST, {200: file_response("The file as uploaded")}, (401, 403, 404, 410),
            params=[CID, path_param("n", "the code upload's id", {"type": "integer", "format": "int64"})])},
        "/api/submissions/{n}": {
            "get": operation(
                "One submission (yours, or any of your course for staff)", REST,
                {200: json_response("The submission", ref("Submission"))}, (401, 404), params=[SUBMISSION_ID]),
            "patch": operation(
                "Change a submission's description (yours; staff: any of your course, audited)", REST,
                {200: json_response("The submission, changed", ref("Submission"))}, (400, 401, 404, 422),
                params=[SUBMISSION_ID],
                body={"required": True, "content": {"application/json": {"schema": ref("SubmissionChange")}}},
                description="The description is the one field that can be changed, at any time: it counts for "
                            "nothing. 422 when it is longer than 1000 characters."),
        },
        "/api/submissions/{n}/file": {"get": operation(
            "The uploaded file of a submission", REST, {200: file_response("The file as uploaded")},
            (401, 404, 410), params=[SUBMISSION_ID])},
        "/api/competitions/{cid}/files/{name}": {"get": operation(
            "A data file of a competition (only those listed for students; 404 for students before it opens, unless "
            "staff show them early)", REST,
            {200: file_response("The file")}, (401, 403, 404, 410),
            params=[CID, path_param("name", "the file's name, as listed")])},
        "/api/me": {"get": operation(
            "Who you are authenticated as, and your courses", REST, {200: json_response("You", ref("Me"))}, (401,))},
        "/api/me/grades": {"get": operation(
            "Your grades in every course you are a student of", REST,
            {200: json_response("Grades: provisional (from public scores) for competitions not released yet",
                                ref("Grades"))}, (401,))},
        "/api/openapi.json": {"get": operation(
            "This document", REST, {200: json_response("OpenAPI 3.1", {"type": "object"})}, (), security=PUBLIC)},
        **kaggle_paths(),
    }


def kaggle_paths() -> dict:
    v1 = "/api/v1/competitions"
    return {
        f"{v1}/list": {"get": operation(
            "kaggle competitions list", KAGGLE,
            {200: json_response("Competitions", array(ref("KaggleCompetition")))}, (400, 401),
            params=[query_param("group", "`entered`: only those you submitted to"),
                    query_param("category", "ignored"), query_param("sortBy", "ignored"),
                    query_param("page", "1 holds everything", {"type": "integer", "minimum": 1}),
                    query_param("search", "part of the id or title")])},
        f"{v1}/{{cid}}/submissions/url/{{contentLength}}/{{lastModifiedDateUtc}}": {"post": operation(
            "kaggle competitions submit, step 1: a single-use upload URL", KAGGLE,
            {200: json_response("Where to PUT the file", ref("KaggleUploadUrl"))}, (400, 401, 403, 404, 409, 413, 429),
            params=[CID, path_param("contentLength", "the file's size in bytes", {"type": "integer", "minimum": 0}),
                    path_param("lastModifiedDateUtc", "the file's modification time, seconds since the epoch",
                               INTEGER)],
            body=multipart({"fileName": STRING}, []),
            description="Refuses at once what the submission would be refused for (window, daily limit, size), "
                        "and a file that would pass the student's cap on uploads waiting to be handed in "
                        "(PODIUM_STAGED_MB; 429 with `resets_at`, when the first of them expires).")},
        "/api/v1/uploads/{token}": {"put": operation(
            "kaggle competitions submit, step 2: the file's bytes", KAGGLE,
            {200: json_response("Stored", ref("KaggleUploaded"))}, (400, 404, 409, 413, 503),
            params=[path_param("token", "the token of step 1")],
            body={"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            security=PUBLIC,
            description="No credentials: the unguessable token (valid 30 minutes, once) is the authorisation. "
                        "The body must have exactly the size announced in step 1. Refused with 409 when the "
                        "student's uploads waiting to be handed in would pass their cap (PODIUM_STAGED_MB), and "
                        "with 429 when this client address sent too many requests to it (PODIUM_PUBLIC_LIMIT). "
                        "After a failure (400, 503) the same URL takes the file again.")},
        f"{v1}/submissions/submit/{{cid}}": {"post": operation(
            "kaggle competitions submit, step 3: submit the uploaded file", KAGGLE,
            {200: json_response("Submitted; scored already unless still pending", ref("KaggleSubmitResult"))},
            (400, 401, 403, 404, 409, 422, 429), params=[CID],
            body=multipart({"blobFileTokens": STRING, "submissionDescription": STRING}, ["blobFileTokens"]),
            description="Waits a little for the background scoring, so a file that cannot be scored is answered "
                        "with 422 and the reason; the submission is stored either way. After a 503 the same token "
                        "can be handed in again.")},
        f"{v1}/submissions/list/{{cid}}": {"get": operation(
            "kaggle competitions submissions", KAGGLE,
            {200: json_response("Your submissions, newest first", array(ref("KaggleSubmission")))},
            (400, 401, 403, 404),
            params=[CID, query_param("page", "pages of 20; everything without it", {"type": "integer", "minimum": 1})])},
        f"{v1}/{{cid}}/leaderboard/view": {"get": operation(
            "kaggle competitions leaderboard --show", KAGGLE,
            {200: json_response("Ranked, best first", ref("KaggleLeaderboard"))}, (401, 403, 404), params=[CID])},
        f"{v1}/{{cid}}/leaderboard/download": {"get": operation(
            "kaggle competitions leaderboard --download", KAGGLE,
            {200: file_response("A zip holding <id>-<board>leaderboard.csv (TeamId,TeamName,SubmissionDate,Score)",
                                "application/zip")}, (401, 403, 404), params=[CID])},
        f"{v1}/data/list/{{cid}}": {"get": operation(
            "kaggle competitions files", KAGGLE, {200: json_response("The data files", ref("KaggleFileList"))},
            (401, 403, 404), params=[CID])},
        f"{v1}/data/download/{{cid}}/{{fileName}}": {"get": operation(
            "kaggle competitions download -f FILE", KAGGLE,
            {302: redirect_response("To /api/competitions/{cid}/files/{fileName}")}, (401, 403, 404),
            params=[CID, path_param("fileName", "the file's name, as listed")])},
        f"{v1}/data/download-all/{{cid}}": {"get": operation(
            "kaggle competitions download", KAGGLE,
            {302: redirect_response("To the zip of all the data files")}, (401, 403, 404), params=[CID])},
        f"{v1}/data/archive/{{cid}}.zip": {"get": operation(
            "All the data files of a competition in one zip", KAGGLE,
            {200: file_response("The zip", "application/zip")}, (401, 403, 404, 410), params=[CID])},
    }


@lru_cache(maxsize=1)
def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Podium API",
            "version": VERSION,
            "description": "Podium's REST API, and the Kaggle-compatible routes that let the unmodified "
                           "`kaggle==1.6.17` CLI work with KAGGLE_API_ENDPOINT pointing at Podium. Every error is "
                           "JSON `{\"code\": <status>, \"message\": \"...\"}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}, {"sessionCookie": []}],
        "tags": [{"name": REST}, {"name": KAGGLE}],
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic",
                              "description": "username: your email; password: your API key"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "the site's session; writes also need the X-CSRFToken header"},
            },
        },
    }


def document() -> dict:
    return deepcopy(_document())
