"""The REST API under /api/: who sees what, the JSON shapes, uploads scored in the background, every error status."""
from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from podium.models import Status, Submission
from podium.runtime import Runtime
from podium.services import courses as course_service
from podium.services.courses import get_course
from podium.services import accounts, users
from podium.web import create_app
from podium.web.context import start_session
from tests.api.conftest import Person, submit_scored, wait_until_done
from tests.api.openapi_check import assert_matches_openapi
from tests.conftest import predictions

CID = "c1-hw1"

PROTECTED = [
    ("get", "/api/competitions"),
    ("get", f"/api/competitions/{CID}"),
    ("get", f"/api/competitions/{CID}/leaderboard"),
    ("get", f"/api/competitions/{CID}/submissions"),
    ("post", f"/api/competitions/{CID}/submissions"),
    ("get", "/api/submissions/1"),
    ("get", "/api/submissions/1/file"),
    ("get", f"/api/competitions/{CID}/files/README.md"),
    ("get", "/api/me"),
    ("get", "/api/me/grades"),
]


def upload(client, person, text: str = predictions(), *, name: str = "pred.csv", description: str = "", cid=CID):
    data = {"file": (io.BytesIO(text.encode()), name), "description": description}
    return client.post(f"/api/competitions/{cid}/submissions", data=data, headers=person.auth,
                       content_type="multipart/form-data")


def assert_error(response, code: int, *words: str) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.is_json, response.content_type
    body = response.get_json()
    assert body["code"] == code and body["message"]
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]
    return body


# --- authentication --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,url", PROTECTED)
def test_anonymous_callers_get_a_json_401_with_a_basic_challenge(client, world, method, url):
    response = getattr(client, method)(url)
    assert_error(response, 401, "API key")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="podium"'


@pytest.mark.parametrize("password", ["wrong-key", ""])
def test_a_wrong_key_is_refused_even_with_a_right_email(client, world, password):
    bad = replace(world.student, key=password)
    assert_error(client.get("/api/competitions", headers=bad.auth), 401)


def test_a_password_is_not_an_api_key(client, rt, world):
    with rt.db.session() as session:
        users.set_password(users.get_user(session, world.student.email), "a-long-password")
    bad = replace(world.student, key="a-long-password")
    assert_error(client.get("/api/me", headers=bad.auth), 401, "API key")


def test_the_email_is_matched_case_insensitively(client, world):
    shouting = replace(world.student, email=world.student.email.upper())
    assert client.get("/api/me", headers=shouting.auth).get_json()["email"] == world.student.email


def sign_in(client, rt, person: Person) -> None:
    """A browser session of `person`, as signing in starts it."""
    with rt.db.session() as db, client.session_transaction() as store:
        start_session(store, users.get_user(db, person.email))


def test_the_browser_session_authenticates_too(client, rt, world):
    sign_in(client, rt, world.other)
    me = client.get("/api/me")
    assert me.status_code == 200 and me.get_json()["email"] == world.other.email


def test_basic_credentials_win_over_a_session_cookie(client, rt, world):
    sign_in(client, rt, world.other)
    assert client.get("/api/me", headers=world.student.auth).get_json()["email"] == world.student.email
    assert_error(client.get("/api/me", headers=replace(world.other, key="nope").auth), 401)


def test_a_session_post_needs_the_csrf_token_but_a_basic_one_does_not(client, rt, world):
    sign_in(client, rt, world.student)
    data = {"file": (io.BytesIO(predictions().encode()), "p.csv")}
    refused = client.post(f"/api/competitions/{CID}/submissions", data=data, content_type="multipart/form-data")
    assert_error(refused, 400)
    assert upload(client, world.student).status_code == 202


def test_a_cross_site_post_is_refused_even_with_basic_credentials(client, world):
    """Browsers remember Basic credentials and send them on cross-site form posts; the Origin header gives it away."""
    data = {"file": (io.BytesIO(predictions().encode()), "p.csv")}
    forged = client.post(f"/api/competitions/{CID}/submissions", data=data, content_type="multipart/form-data",
                         headers={**world.student.auth, "Origin": "https://elsewhere.example"})
    assert_error(forged, 400)
    data = {"file": (io.BytesIO(predictions().encode()), "p.csv")}
    same_site = client.post(f"/api/competitions/{CID}/submissions", data=data, content_type="multipart/form-data",
                            headers={**world.student.auth, "Origin": "http://localhost"})
    assert same_site.status_code == 202


def test_me_says_who_and_where(client, world):
    me = client.get("/api/me", headers=world.staff.auth)
    assert_matches_openapi(me, "/api/me", "get")
    assert me.get_json()["courses"] == [{"course": "c1", "title": "Course c1", "role": "staff",
                                         "leaderboard_name": None, "board_name": f"Student {world.staff.id}"}]


def test_me_gives_the_leaderboard_name_of_each_course(client, rt, world):
    """Names belong to the enrolment: one person, two courses, two names; the top-level pair is the first course's."""
    with rt.db.session() as session:
        user = users.get_user(session, world.student.email)
        users.add_user(session, user.email, get_course(session, "c2"), "student")
        accounts.set_leaderboard_name(session, user, get_course(session, "c2"), "Second Self")
    me = client.get("/api/me", headers=world.student.auth)
    assert_matches_openapi(me, "/api/me", "get")
    assert [(c["course"], c["leaderboard_name"], c["board_name"]) for c in me.get_json()["courses"]] == [
        ("c1", "Overfitter", "Overfitter"), ("c2", "Second Self", "Second Self")]
    assert (me.get_json()["leaderboard_name"], me.get_json()["board_name"]) == ("Overfitter", "Overfitter")


def test_me_gives_the_chosen_leaderboard_name_or_null_and_the_name_boards_show(client, rt, world):
    """POLICY.md section 8: boards show chosen names only. A student who chose none appears as "Student <id>", and
    /api/me says so rather than offering their real name as their leaderboard name."""
    chose = client.get("/api/me", headers=world.student.auth).get_json()
    assert (chose["name"], chose["leaderboard_name"], chose["board_name"]) == ("Stu Dent", "Overfitter", "Overfitter")
    with rt.db.session() as session:
        user = users.add_user(session, "quiet@c1.test", get_course(session, "c1"), "student", name="Qui Et")
        quiet = Person(user.email, users.issue_api_key(session, user), user.id, user.name)
    me = client.get("/api/me", headers=quiet.auth)
    assert_matches_openapi(me, "/api/me", "get")
    assert me.get_json()["name"] == "Qui Et"
    assert me.get_json()["leaderboard_name"] is None and me.get_json()["board_name"] == f"Student {quiet.id}"
    submit_scored(rt, world, quiet)
    board = client.get(f"/api/competitions/{CID}/leaderboard", headers=quiet.auth).get_json()
    assert [e["name"] for e in board["entries"] if e["me"]] == [f"Student {quiet.id}"]
    staff_view = client.get(f"/api/competitions/{CID}/submissions", headers=world.staff.auth).get_json()
    assert [s["user"]["leaderboard_name"] for s in staff_view] == [None]


# --- competitions ----------------------------------------------------------------------------------------


def test_each_person_lists_the_competitions_of_their_own_courses(client, world):
    student = client.get("/api/competitions", headers=world.student.auth)
    assert_matches_openapi(student, "/api/competitions", "get")
    assert [c["id"] for c in student.get_json()] == [CID]
    assert student.get_json()[0]["role"] == "student" and student.get_json()[0]["state"] == "open"
    assert [c["id"] for c in client.get("/api/competitions", headers=world.outsider.auth).get_json()] == ["c2-hw9"]
    assert client.get("/api/competitions", headers=world.instructor.auth).get_json()[0]["role"] == "instructor"


def test_a_competition_lists_its_data_files_but_never_the_solution(client, world):
    detail = client.get(f"/api/competitions/{CID}", headers=world.student.auth)
    assert_matches_openapi(detail, "/api/competitions/{cid}", "get")
    files = {f["name"]: f for f in detail.get_json()["files"]}
    assert set(files) == {"README.md", "sample_submission.csv"}
    assert files["README.md"]["url"] == f"/api/competitions/{CID}/files/README.md"


def test_the_deadlines_shown_are_the_callers_own(client, rt, world):
    from podium.services import extensions

    before = client.get(f"/api/competitions/{CID}", headers=world.student.auth).get_json()
    with rt.db.session() as session:
        comp = course_service.get_competition(session, CID)
        extensions.grant(session, comp, users.get_user(session, world.student.email), days=2, reason="illness",
                         actor="ta@c1.test")
    after = client.get(f"/api/competitions/{CID}", headers=world.student.auth).get_json()
    other = client.get(f"/api/competitions/{CID}", headers=world.other.auth).get_json()
    assert after["extended"] is True and other["extended"] is False
    assert after["ontime"] > before["ontime"] == other["ontime"]


def test_another_courses_competition_is_refused_and_an_unknown_one_is_not_found(client, world):
    assert_error(client.get("/api/competitions/c2-hw9", headers=world.student.auth), 403, "not enrolled")
    assert_error(client.get("/api/competitions/c1-nope", headers=world.student.auth), 404, "c1-nope")


def test_a_nul_character_in_a_url_is_a_json_400_not_a_server_error(client, world):
    assert_error(client.get("/api/competitions/c1-hw1%00", headers=world.student.auth), 400, "NUL character")


# --- leaderboards ----------------------------------------------------------------------------------------


def test_the_public_board_ranks_students_by_best_public_score_with_their_board_names(client, rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(3))))  # public 0.5
    submit_scored(rt, world, world.other, predictions(set(range(4))))  # public 0.66667
    submit_scored(rt, world, world.student, predictions(set(range(5))))  # public 0.83333: the student's best
    submit_scored(rt, world, world.staff, predictions())  # staff never rank
    board = client.get(f"/api/competitions/{CID}/leaderboard", headers=world.student.auth)
    assert_matches_openapi(board, "/api/competitions/{cid}/leaderboard", "get")
    entries = board.get_json()["entries"]
    assert [(e["rank"], e["name"], e["score"], e["entries"], e["me"]) for e in entries] == [
        (1, "Overfitter", 0.83333, 2, True), (2, "Underfitter", 0.66667, 1, False)]
    assert "email" not in json.dumps(board.get_json()) and "c1.test" not in board.get_data(as_text=True)


def test_staff_see_emails_on_the_board(client, rt, world):
    submit_scored(rt, world, world.student)
    entry = client.get(f"/api/competitions/{CID}/leaderboard", headers=world.staff.auth).get_json()["entries"][0]
    assert entry["email"] == world.student.email and entry["name"] == "Overfitter"


def test_the_private_board_is_for_staff_until_released(client, rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(6, 12))))  # public 0, private 0.5
    url = f"/api/competitions/{CID}/leaderboard?board=private"
    assert_error(client.get(url, headers=world.student.auth), 403, "release")
    staff_view = client.get(url, headers=world.staff.auth).get_json()
    assert staff_view["board"] == "private" and staff_view["entries"][0]["score"] == 0.5
    with rt.db.session() as session:
        course_service.get_competition(session, CID).released_at = datetime.now(timezone.utc)
    released = client.get(url, headers=world.student.auth)
    assert released.status_code == 200 and released.get_json()["entries"][0]["name"] == "Overfitter"


def test_an_unknown_board_is_a_400(client, world):
    assert_error(client.get(f"/api/competitions/{CID}/leaderboard?board=secret", headers=world.staff.auth), 400,
                 "public or private")


def test_another_courses_student_cannot_read_the_board(client, world):
    assert_error(client.get(f"/api/competitions/{CID}/leaderboard", headers=world.outsider.auth), 403)


# --- submissions: reading --------------------------------------------------------------------------------


def test_students_list_their_own_submissions_and_staff_everyones(client, rt, world):
    mine = submit_scored(rt, world, world.student)
    theirs = submit_scored(rt, world, world.other)
    student = client.get(f"/api/competitions/{CID}/submissions", headers=world.student.auth)
    assert_matches_openapi(student, "/api/competitions/{cid}/submissions", "get")
    assert [s["id"] for s in student.get_json()] == [mine]
    assert "user" not in student.get_json()[0]
    staff = client.get(f"/api/competitions/{CID}/submissions", headers=world.staff.auth)
    assert_matches_openapi(staff, "/api/competitions/{cid}/submissions", "get")
    assert {s["id"] for s in staff.get_json()} == {mine, theirs}
    assert {s["user"]["email"] for s in staff.get_json()} == {world.student.email, world.other.email}
    assert_error(client.get(f"/api/competitions/{CID}/submissions", headers=world.outsider.auth), 403)


def test_a_submission_is_visible_to_its_author_and_the_courses_staff_only(client, rt, world):
    sub = submit_scored(rt, world, world.student)
    own = client.get(f"/api/submissions/{sub}", headers=world.student.auth)
    assert_matches_openapi(own, "/api/submissions/{n}", "get")
    data = own.get_json()
    assert data["status"] == "scored" and data["public_score"] == 1.0 and data["private_score"] is None
    assert data["window"] == "on_time" and data["file_name"] == "pred.csv" and data["competition"] == CID
    staff = client.get(f"/api/submissions/{sub}", headers=world.instructor.auth).get_json()
    assert staff["private_score"] == 1.0 and staff["user"]["email"] == world.student.email
    for stranger in (world.other, world.outsider):
        assert_error(client.get(f"/api/submissions/{sub}", headers=stranger.auth), 404, f"no submission {sub}")
    # the same answer as for an id nobody has: existence is not confirmed
    assert client.get(f"/api/submissions/{sub}", headers=world.other.auth).get_json() == {
        "code": 404, "message": f"no submission {sub}"}
    assert_error(client.get("/api/submissions/99999", headers=world.student.auth), 404)
    for beyond in (2**31, 2**64):  # more than an id column holds (32 bits on PostgreSQL): a JSON 404 too
        assert_error(client.get(f"/api/submissions/{beyond}/file", headers=world.student.auth), 404)


def test_the_file_of_a_submission_is_for_its_author_and_staff(client, rt, world):
    text = predictions(set(range(7)))
    sub = submit_scored(rt, world, world.student, text)
    own = client.get(f"/api/submissions/{sub}/file", headers=world.student.auth)
    assert own.status_code == 200 and own.get_data(as_text=True) == text
    assert "attachment" in own.headers["Content-Disposition"]
    assert client.get(f"/api/submissions/{sub}/file", headers=world.staff.auth).get_data(as_text=True) == text
    assert_error(client.get(f"/api/submissions/{sub}/file", headers=world.other.auth), 404)
    assert_error(client.get(f"/api/submissions/{sub}/file", headers=world.outsider.auth), 404)


def test_a_lost_submission_file_is_a_410(client, rt, world):
    sub = submit_scored(rt, world, world.student)
    with rt.db.session() as session:
        rt.settings.located(session.get(Submission, sub).file_path).unlink()
    assert_error(client.get(f"/api/submissions/{sub}/file", headers=world.student.auth), 410)


# --- submissions: uploading ------------------------------------------------------------------------------


def test_an_upload_is_queued_at_once_and_scored_in_the_background(client, rt, world):
    response = upload(client, world.student, predictions(set(range(6))), description="first try")
    assert_matches_openapi(response, "/api/competitions/{cid}/submissions", "post")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] in ("queued", "scoring", "scored") and body["description"] == "first try"
    assert response.headers["Location"] == f"/api/submissions/{body['id']}"
    assert body["submissions_used_today"] == 1 and body["submissions_left_today"] == 4  # waiting or not, it counts
    assert body["count_resets_at"].endswith(("T04:00:00Z", "T05:00:00Z"))  # midnight in New York
    done = wait_until_done(rt, body["id"])
    assert done.status == Status.scored and done.public_score == 1.0 and done.private_score == 0.0
    polled = client.get(response.headers["Location"], headers=world.student.auth)
    assert_matches_openapi(polled, "/api/submissions/{n}", "get")
    polled = polled.get_json()
    assert polled["status"] == "scored" and polled["public_score"] == 1.0 and polled["queue"] is None
    assert polled["public_rank"] == {"before": None, "after": 1, "students": 1, "changed": True,
                                     "text": "Public rank: not on the leaderboard → 1 of 1."}
    [listed] = client.get(f"/api/competitions/{CID}/submissions", headers=world.student.auth).get_json()
    assert "public_rank" not in listed and "submissions_left_today" not in listed  # answers about one only


def test_a_file_with_the_wrong_columns_is_stored_as_failed_with_the_reason(client, rt, world):
    response = upload(client, world.student, "id,prediction\n0,1\n")
    assert response.status_code == 202
    done = wait_until_done(rt, response.get_json()["id"])
    assert done.status == Status.failed and "label" in done.error
    polled = client.get(f"/api/submissions/{done.id}", headers=world.student.auth).get_json()
    assert polled["status"] == "failed" and polled["error"] == done.error
    assert polled["submissions_left_today"] == 5 and polled["public_rank"] is None  # a failed upload is given back


def test_an_upload_without_a_file_field_is_a_400(client, world):
    response = client.post(f"/api/competitions/{CID}/submissions", data={"description": "x"},
                           headers=world.student.auth, content_type="multipart/form-data")
    assert_error(response, 400, "`file`")


def test_uploading_to_another_courses_competition_is_refused(client, world):
    assert_error(upload(client, world.outsider), 403, "not enrolled")


def test_the_daily_limit_is_a_429_that_says_when_it_resets(client, rt, world):
    for _ in range(5):  # the course's daily limit
        submit_scored(rt, world, world.student)
    told = client.get(f"/api/competitions/{CID}", headers=world.student.auth)
    assert_matches_openapi(told, "/api/competitions/{cid}", "get")
    told = told.get_json()
    assert (told["daily_limit"], told["submissions_used_today"], told["submissions_left_today"]) == (5, 5, 0)
    assert told["accepts_submissions"] is False and told["submission_refusal"].startswith("Daily limit reached")
    response = upload(client, world.student)
    body = assert_error(response, 429, "daily limit", "resets")
    assert_matches_openapi(response, "/api/competitions/{cid}/submissions", "post")
    resets_at = datetime.fromisoformat(body["resets_at"].replace("Z", "+00:00"))
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 25 * 3600
    assert abs((resets_at - datetime.now(timezone.utc)).total_seconds() - seconds) < 120
    assert body["resets_at"] == told["count_resets_at"]
    assert client.get(f"/api/competitions/{CID}", headers=world.other.auth).get_json()["submissions_left_today"] == 5
    assert upload(client, world.other).status_code == 202  # the limit is per student


def test_staff_are_not_held_to_the_daily_limit(client, rt, world):
    for _ in range(5):
        submit_scored(rt, world, world.staff)
    told = client.get(f"/api/competitions/{CID}", headers=world.staff.auth).get_json()
    assert (told["submissions_used_today"], told["submissions_left_today"], told["accepts_submissions"]) == (5, None, True)
    assert upload(client, world.staff).status_code == 202


def test_an_upload_after_the_late_deadline_is_a_409(client, world, closed):
    told = client.get(f"/api/competitions/{closed}", headers=world.student.auth).get_json()
    assert told["accepts_submissions"] is False and told["submission_refusal"].startswith("The competition closed at")
    assert told["practice_only"] is False
    assert_error(upload(client, world.student, cid=closed), 409)


def test_an_upload_over_the_size_limit_is_a_413(rt, world):
    small = Runtime(settings=replace(rt.settings, max_upload_bytes=50), db=rt.db)
    app = create_app(runtime=small)
    try:
        response = upload(app.test_client(), world.student)
        assert_error(response, 413, "limit")
        assert_matches_openapi(response, "/api/competitions/{cid}/submissions", "post")
        with rt.db.session() as session:
            assert session.query(Submission).count() == 0
    finally:
        app.extensions["podium.scoring"].shutdown()


def test_a_request_over_the_servers_content_length_limit_is_a_json_413(app, client, world):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = upload(client, world.student, predictions())
    assert_error(response, 413, "limit")


# --- data files ------------------------------------------------------------------------------------------


def test_data_files_download_with_their_size_and_date(client, world):
    response = client.get(f"/api/competitions/{CID}/files/README.md", headers=world.student.auth)
    assert response.status_code == 200 and response.get_data(as_text=True).startswith("# Homework")
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    assert response.headers["Last-Modified"].endswith("GMT")


@pytest.mark.parametrize("name", ["solution.csv", "competition.toml"])
def test_only_the_listed_data_files_are_served(client, world, name):
    response = client.get(f"/api/competitions/{CID}/files/{name}", headers=world.student.auth)
    assert_error(response, 404)


@pytest.mark.parametrize("name", ["..%2Fsolution.csv", "..%2F..%2F..%2Fsecret_key", "%2E%2E"])
def test_a_name_stepping_out_of_its_folder_is_refused_with_the_reason(client, world, name):
    response = client.get(f"/api/competitions/{CID}/files/{name}", headers=world.student.auth)
    assert_error(response, 400, "outside its folder")


def test_data_files_are_for_the_courses_members(client, world):
    assert_error(client.get(f"/api/competitions/{CID}/files/README.md", headers=world.outsider.auth), 403)


# --- grades ----------------------------------------------------------------------------------------------


def test_my_grades_are_provisional_from_public_scores_until_the_board_is_released(client, rt, world):
    sub = submit_scored(rt, world, world.student, predictions(set(range(6, 18))))  # public 0.0, private 1.0
    response = client.get("/api/me/grades", headers=world.student.auth)
    assert_matches_openapi(response, "/api/me/grades", "get")
    [course] = response.get_json()["courses"]
    [row] = course["competitions"]
    assert course["course"] == "c1" and course["slack_budget"] == 7 and course["provisional"] is True
    assert row["submission_id"] == sub and row["window"] == "on_time" and row["released"] is False
    # Graded from the public score, 0.0 (an F), and said so; the private score stays hidden.
    assert row["provisional"] is True and row["score_board"] == "public" and row["score"] == 0.0
    assert row["private_score"] is None and row["grade"] == 0.0 and course["total"] == 0.0
    assert "public 0.00000" in row["explanation"] and "Provisional" in row["explanation"]
    with rt.db.session() as session:
        course_service.get_competition(session, CID).released_at = datetime.now(timezone.utc)
    [course] = client.get("/api/me/grades", headers=world.student.auth).get_json()["courses"]
    [row] = course["competitions"]
    # 100 + the full bonus as the class best, times 0.9: nothing was scored before the early deadline
    assert row["private_score"] == 1.0 and row["score_board"] == "private" and row["early_penalty"] is True
    assert row["provisional"] is False and course["provisional"] is False
    assert "private 1.00000" in row["explanation"] and "Provisional" not in row["explanation"]
    assert row["grade"] == pytest.approx(0.9 * 105) and course["total"] == pytest.approx(0.9 * 105)


def test_staff_have_no_grades_of_their_own(client, world):
    assert client.get("/api/me/grades", headers=world.staff.auth).get_json() == {"courses": []}


# --- every error is JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api", "/api/", "/api/nothing/here", "/api/v1/nothing", "/api/competitions/x/y/z"])
def test_unknown_api_urls_are_json_404s(client, world, url):
    assert_error(client.get(url, headers=world.student.auth), 404, "openapi.json")


def test_a_wrong_method_is_a_json_405_naming_the_right_ones(client, world):
    response = client.delete(f"/api/competitions/{CID}/submissions", headers=world.student.auth)
    assert_error(response, 405, "GET", "POST")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_an_unexpected_failure_is_a_json_500_not_a_page(client, world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(course_service, "competitions_for", broken)
    response = client.get("/api/competitions", headers=world.student.auth)
    assert_error(response, 500, "unexpected")
    assert "boom" not in response.get_data(as_text=True)
