"""The Kaggle-compatible routes under /api/v1/, through the test client: the upload tickets' guarantees and the
shapes the 1.6.17 client parses. tests/api/test_kaggle_cli.py drives the real client."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from podium.errors import Refused
from podium.models import Status, Submission, UploadTicket, User
from podium.services import (competitions, extensions, grade_reports, leaderboards, submissions, upload_tickets,
                             users)
from podium.services.rule_values import schedule_for
from podium.services.courses import get_competition, get_course, load_course
from tests.api.conftest import days, submit_scored
from tests.api.openapi_check import assert_matches_openapi
from tests.conftest import predictions, write_course

CID = "c1-hw1"
V1 = "/api/v1/competitions"


def ticket(client, person, text: str, *, cid: str = CID, name: str = "pred.csv", size: int | None = None):
    size = len(text.encode()) if size is None else size
    return client.post(f"{V1}/{cid}/submissions/url/{size}/1700000000", data={"fileName": name},
                       headers=person.auth, content_type="multipart/form-data")


def put(client, create_url: str, body: bytes, **headers):
    return client.put(create_url.replace("http://localhost", ""), data=body, headers=headers)


def finish(client, person, token: str, *, cid: str = CID, description: str = "via kaggle"):
    return client.post(f"{V1}/submissions/submit/{cid}",
                       data={"blobFileTokens": token, "submissionDescription": description},
                       headers=person.auth, content_type="multipart/form-data")


def submit_via_kaggle(client, person, text: str = predictions(), **kwargs):
    issued = ticket(client, person, text).get_json()
    assert put(client, issued["createUrl"], text.encode()).status_code == 200
    return finish(client, person, issued["token"], **kwargs)


def error(response, code: int) -> str:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code
    return body["message"]


# --- the three steps of a submission ---------------------------------------------------------------------


def test_the_three_steps_store_a_scored_submission_and_answer_with_its_score(client, rt, world):
    text = predictions(set(range(3)))
    issued = ticket(client, world.student, text)
    assert_matches_openapi(issued, "/api/v1/competitions/{cid}/submissions/url/{contentLength}/{lastModifiedDateUtc}",
                           "post")
    body = issued.get_json()
    assert "isComplete" not in body  # the client's switch to the PUT upload path
    assert body["createUrl"].startswith("http://localhost/api/v1/uploads/") and body["token"] in body["createUrl"]
    assert issued.headers["Cache-Control"] == "no-store"  # the address lets its holder upload as this student
    stored = put(client, body["createUrl"], text.encode())  # no credentials
    assert stored.status_code == 200 and stored.get_json() == {"receivedBytes": len(text)}
    done = finish(client, world.student, body["token"], description="resnet, lr 1e-3")
    assert_matches_openapi(done, "/api/v1/competitions/submissions/submit/{cid}", "post")
    result = done.get_json()
    assert "code" not in result  # the client treats a "code" in a 200 answer as an error
    assert result["status"] == "complete" and "public score 0.50000" in result["message"]
    assert "Public rank: not on the leaderboard → 1 of 1." in result["message"]
    assert re.search(r"4 of 5 submissions left today; the count resets at \d{4}-\d\d-\d\d 00:00 E[SD]T "
                     r"\(America/New_York\), \d{4}-\d\d-\d\dT0[45]:00:00Z\.$", result["message"])
    with rt.db.session() as session:
        sub = session.get(Submission, result["ref"])
        assert sub.status == Status.scored and sub.public_score == 0.5 and sub.description == "resnet, lr 1e-3"
        assert sub.user_id == world.student.id and sub.file_name == "pred.csv"
        assert rt.settings.located(sub.file_path).read_text() == text


def test_only_a_hash_of_the_token_is_stored(client, rt, world):
    token = ticket(client, world.student, predictions()).get_json()["token"]
    with rt.db.session() as session:
        ids = session.scalars(select(UploadTicket.id)).all()
    assert ids == [hashlib.sha256(token.encode()).hexdigest()]


def test_a_ticket_uploads_once(client, world):
    text = predictions()
    url = ticket(client, world.student, text).get_json()["createUrl"]
    assert put(client, url, text.encode()).status_code == 200
    assert "already used" in error(put(client, url, text.encode()), 404)


def test_an_unknown_upload_token_is_refused(client, world):
    assert "unknown" in error(client.put("/api/v1/uploads/not-a-token", data=b"id,label\n"), 404)


@pytest.mark.parametrize("body", [b"id,label\n", predictions().encode() + b"0,0\n"])
def test_the_upload_must_have_the_announced_size(client, world, body):
    issued = ticket(client, world.student, predictions()).get_json()
    assert "announced" in error(put(client, issued["createUrl"], body), 400)
    assert "never arrived" in error(finish(client, world.student, issued["token"]), 404)


def test_an_expired_ticket_takes_no_upload(client, rt, world):
    text = predictions()
    url = ticket(client, world.student, text).get_json()["createUrl"]
    with rt.db.session() as session:
        session.execute(update(UploadTicket).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert "expired" in error(put(client, url, text.encode()), 404)


def test_a_ticket_submits_once_and_only_for_its_owner_and_competition(client, rt, world, closed):
    text = predictions()
    issued = ticket(client, world.student, text).get_json()
    put(client, issued["createUrl"], text.encode())
    assert "not one of yours" in error(finish(client, world.other, issued["token"]), 404)
    assert "not one of yours" in error(finish(client, world.student, issued["token"], cid=closed), 404)
    first = finish(client, world.student, issued["token"])
    assert first.status_code == 200
    retried = finish(client, world.student, issued["token"])
    assert retried.status_code == 200 and retried.get_json()["ref"] == first.get_json()["ref"]
    with rt.db.session() as session:
        assert session.query(Submission).count() == 1


def test_a_ticket_refused_by_the_rules_cannot_be_handed_in_again(client, rt, world):
    text = predictions()
    issued = ticket(client, world.student, text).get_json()
    put(client, issued["createUrl"], text.encode())
    for _ in range(5):  # the student's daily limit is reached between the ticket and the submit
        submissions.receive(rt.db, rt.settings, world.comp_id, world.student.id, io.BytesIO(text.encode()), "p.csv")
    assert "limit" in error(finish(client, world.student, issued["token"]), 429).lower()
    assert "made no submission" in error(finish(client, world.student, issued["token"]), 404)


def sent(rt, person, text: str = predictions(), *, at: datetime) -> str:
    """A ticket issued and its file sent at `at`, through the services with that clock; the token to hand in."""
    size = len(text.encode())
    with rt.db.session() as session:
        comp, user = get_competition(session, CID), session.get(User, person.id)
        token = upload_tickets.issue(session, rt.settings, comp, user, "pred.csv", size, now=at).token
    upload_tickets.store_upload(rt.db, rt.settings, token, io.BytesIO(text.encode()), size, now=at)
    return token


def hand_in(rt, world, person, token: str, *, at: datetime) -> Submission:
    return upload_tickets.submit(rt.db, rt.settings, token, world.comp_id, person.id, "via kaggle", now=at)


def effective_late(rt, person) -> datetime:
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        return schedule_for(session, comp, session.get(User, person.id)).late


def extend(rt, world, person, *, by_days: float) -> None:
    with rt.db.session() as session:
        extensions.grant(session, get_competition(session, CID), session.get(User, person.id), days=by_days,
                         reason="illness", actor=world.staff.email)


def test_a_file_sent_before_the_on_time_deadline_and_handed_in_after_it_is_late(rt, world):
    """POLICY.md section 2: the hand-in is the submission's instant, not the arrival of its file."""
    with rt.db.session() as session:
        ontime = get_competition(session, CID).ontime
    token = sent(rt, world.student, at=ontime - timedelta(minutes=5))
    sub = hand_in(rt, world, world.student, token, at=ontime + timedelta(minutes=5))
    assert sub.submitted_at == ontime + timedelta(minutes=5)
    with rt.db.session() as session:
        window = submissions.window_of(session, session.get(Submission, sub.id))
    assert (window.window, window.days_late) == ("after", 1)


def test_a_hand_in_by_the_students_extended_late_deadline_counts_at_the_hand_in(rt, world):
    extend(rt, world, world.student, by_days=2)
    late = effective_late(rt, world.student)
    token = sent(rt, world.student, at=late - timedelta(minutes=20))  # past hw1's own late deadline
    sub = hand_in(rt, world, world.student, token, at=late)  # deadlines are inclusive
    with rt.db.session() as session:
        stored = session.get(Submission, sub.id)
        assert stored.submitted_at == late and stored.practice is False
        assert submissions.window_of(session, stored).window == "after"


def test_a_hand_in_after_the_students_own_late_deadline_is_refused(rt, world):
    extend(rt, world, world.student, by_days=2)
    late = effective_late(rt, world.student)
    token = sent(rt, world.student, at=late - timedelta(minutes=10))
    with pytest.raises(Refused) as info:
        hand_in(rt, world, world.student, token, at=late + timedelta(seconds=1))
    message = info.value.message
    assert info.value.code == 409
    assert "handed in" in message and "your late deadline was" in message and "not recorded" in message
    assert "course staff" in message
    with rt.db.session() as session:
        assert session.query(Submission).count() == 0
    assert list(upload_tickets.staging_dir(rt.settings).iterdir()) == []


def private_standing(rt, world) -> tuple[list, dict]:
    """The private board as students see it once released, and the student's grades."""
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        board = [(r.user_id, r.score, r.submission_id)
                 for r in leaderboards.board_for(session, comp, "private", staff=False)]
        grades = grade_reports.course_grades(session, comp.course, session.get(User, world.student.id))
    return board, grades


def test_a_file_sent_in_time_and_handed_in_after_release_changes_no_released_board(client, rt, world):
    """The finding: the file goes up while hw1 is open, staff finalise and release hw1, then the student hands
    the file in; it was recorded at the instant its bytes arrived, so it entered the released board and a grade."""
    submit_scored(rt, world, world.student, predictions(set(range(6))))  # private score 0
    submit_scored(rt, world, world.other, predictions(set(range(6, 18))))  # private score 1
    text = predictions()  # private score 1: it would lift the student's grade
    issued = ticket(client, world.student, text).get_json()
    assert put(client, issued["createUrl"], text.encode()).status_code == 200
    with rt.db.session() as session:
        comp = get_competition(session, CID)
        competitions.finalise(session, comp, actor=world.staff.email)
        competitions.release(session, comp, actor=world.staff.email, override="released early for the test")
    board, grades = private_standing(rt, world)
    assert [row[0] for row in board] == [world.other.id, world.student.id]
    message = error(finish(client, world.student, issued["token"]), 409)
    assert "handed in" in message and "finalised" in message and "not recorded" in message
    assert private_standing(rt, world) == (board, grades)
    with rt.db.session() as session:
        assert session.query(Submission).filter_by(user_id=world.student.id).count() == 1
    assert "finalised" in error(ticket(client, world.student, text), 409)


def test_a_file_that_cannot_be_scored_is_a_422_with_the_reason_and_is_kept_as_failed(client, rt, world):
    message = error(submit_via_kaggle(client, world.student, "id,prediction\n0,1\n"), 422)
    assert "could not be scored" in message and "`label`" in message
    assert "It does not count against the daily limit: 5 of 5 submissions left today" in message
    with rt.db.session() as session:
        [sub] = session.query(Submission).all()
        assert sub.status == Status.failed and sub.error in message


class HeldPool:
    """A scoring pool that takes submissions and scores none of them until told to."""

    def __init__(self):
        self.held: list[int] = []

    def submit(self, submission_id: int, student: int | None = None) -> Future:
        self.held.append(submission_id)
        return Future()


def test_when_scoring_takes_longer_the_answer_says_it_is_pending(app, client, rt, world, monkeypatch):
    app.config["PODIUM_KAGGLE_SUBMIT_WAIT"] = 0.3
    held = HeldPool()
    monkeypatch.setitem(app.extensions, "podium.scoring", held)
    result = submit_via_kaggle(client, world.student).get_json()
    assert result["status"] == "pending" and held.held == [result["ref"]]
    assert "still being scored" in result["message"] and f"-c {CID}" in result["message"]
    assert "4 of 5 submissions left today" in result["message"]  # waiting to be scored, it counts
    submissions.score(rt.db, rt.settings, result["ref"])
    [item] = client.get(f"{V1}/submissions/list/{CID}", headers=world.student.auth).get_json()
    assert (item["ref"], item["status"], item["publicScore"]) == (result["ref"], "complete", "1.00000")


# --- refusals before the upload --------------------------------------------------------------------------


def test_a_ticket_is_refused_at_the_daily_limit_with_the_reset_time(client, rt, world):
    for _ in range(5):
        submit_scored(rt, world, world.student)
    response = ticket(client, world.student, predictions())
    assert "Daily limit reached" in error(response, 429) and "resets at" in response.get_json()["message"]
    assert int(response.headers["Retry-After"]) > 0


def test_a_ticket_is_refused_after_the_late_deadline(client, world, closed):
    assert "closed" in error(ticket(client, world.student, predictions(), cid=closed), 409)


def test_a_ticket_is_refused_for_a_file_over_the_limit(client, rt, world):
    message = error(ticket(client, world.student, "", size=rt.settings.max_upload_bytes + 1), 413)
    assert "limit" in message


@pytest.mark.parametrize("size,modified", [("12x", "1700000000"), ("12", "yesterday")])
def test_a_ticket_needs_numbers_in_its_path(client, world, size, modified):
    response = client.post(f"{V1}/{CID}/submissions/url/{size}/{modified}", headers=world.student.auth)
    assert "whole number" in error(response, 400)


def test_the_limit_still_holds_when_tickets_were_taken_before_it_was_reached(client, rt, world):
    text = predictions()
    issued = [ticket(client, world.student, text).get_json() for _ in range(2)]
    for _ in range(4):
        submit_scored(rt, world, world.student)
    for item in issued:
        put(client, item["createUrl"], text.encode())
    assert finish(client, world.student, issued[0]["token"]).status_code == 200
    assert "Daily limit" in error(finish(client, world.student, issued[1]["token"]), 429)


def test_outsiders_and_anonymous_callers_get_no_ticket(client, world):
    assert error(ticket(client, world.outsider, predictions()), 403)
    anonymous = client.post(f"{V1}/{CID}/submissions/url/10/1700000000")
    assert error(anonymous, 401) and anonymous.headers["WWW-Authenticate"] == 'Basic realm="podium"'


def test_stale_tickets_and_their_staged_files_are_purged(client, rt, world):
    text = predictions()
    issued = ticket(client, world.student, text).get_json()
    put(client, issued["createUrl"], text.encode())
    staged = list(upload_tickets.staging_dir(rt.settings).iterdir())
    assert len(staged) == 1
    with rt.db.session() as session:
        session.execute(update(UploadTicket).values(created_at=datetime.now(timezone.utc) - days(2)))
    ticket(client, world.student, text)  # issuing purges
    assert not staged[0].exists()
    with rt.db.session() as session:
        assert session.query(UploadTicket).count() == 1


# --- what the other commands read ------------------------------------------------------------------------


def test_the_competitions_list_has_what_the_client_prints(client, rt, world):
    response = client.get(f"{V1}/list", headers=world.student.auth)
    assert_matches_openapi(response, "/api/v1/competitions/list", "get")
    [item] = response.get_json()
    assert item["ref"] == CID and item["tags"] == [] and item["userHasEntered"] is False
    assert item["deadline"].endswith("Z") and item["maxDailySubmissions"] == 5
    submit_scored(rt, world, world.student)
    [item] = client.get(f"{V1}/list", headers=world.student.auth).get_json()
    assert item["userHasEntered"] is True and item["teamCount"] == 1
    assert client.get(f"{V1}/list?group=entered", headers=world.other.auth).get_json() == []
    assert client.get(f"{V1}/list?search=HW1", headers=world.other.auth).get_json()[0]["ref"] == CID
    assert client.get(f"{V1}/list?search=nothing", headers=world.other.auth).get_json() == []
    assert client.get(f"{V1}/list?page=2", headers=world.student.auth).get_json() == []


def enrolled_in(rt, world, folder, slug: str, *, now: datetime, practice: bool = False) -> str:
    """A course `slug` whose competition hw1 opens 10 days before `now` and closes 7 days after it; the student
    is enrolled."""
    with rt.db.session() as session:
        load_course(session, rt.settings, write_course(folder / slug, slug=slug, now=now,
                                                       extra_competition="allow_practice = true" if practice else ""))
        users.add_user(session, world.student.email, get_course(session, slug), "student")
    return f"{slug}-hw1"


@pytest.mark.parametrize("practice", [False, True], ids=["no-practice", "practice"])
def test_submissions_are_disabled_exactly_when_an_upload_would_be_refused(client, rt, world, tmp_path, practice):
    """Before the opening no upload is taken, practice or not; after the close only practice ones are."""
    real_now = datetime.now(timezone.utc)
    upcoming = enrolled_in(rt, world, tmp_path, "c4", now=real_now + days(20), practice=practice)
    closed = enrolled_in(rt, world, tmp_path, "c5", now=real_now - days(40), practice=practice)
    items = {i["ref"]: i for i in client.get(f"{V1}/list", headers=world.student.auth).get_json()}
    assert items[CID]["submissionsDisabled"] is False
    assert items[upcoming]["submissionsDisabled"] is True
    assert "opens" in error(ticket(client, world.student, predictions(), cid=upcoming), 409)
    assert items[closed]["submissionsDisabled"] is not practice
    response = ticket(client, world.student, predictions(), cid=closed)
    if practice:
        assert response.status_code == 200, response.get_data(as_text=True)
    else:
        assert "closed" in error(response, 409)


def test_the_submissions_list_hides_private_scores_until_release(client, rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(6))))
    response = client.get(f"{V1}/submissions/list/{CID}", headers=world.student.auth)
    assert_matches_openapi(response, "/api/v1/competitions/submissions/list/{cid}", "get")
    [item] = response.get_json()
    assert (item["status"], item["publicScore"], item["privateScore"]) == ("complete", "1.00000", "")
    assert item["totalBytes"] > 0 and item["fileName"] == "pred.csv"
    with rt.db.session() as session:
        get_competition(session, CID).released_at = datetime.now(timezone.utc)
    [item] = client.get(f"{V1}/submissions/list/{CID}", headers=world.student.auth).get_json()
    assert item["privateScore"] == "0.00000"


def test_the_leaderboard_download_is_a_zip_with_its_size_and_date(client, rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(3))))
    submit_scored(rt, world, world.other)
    response = client.get(f"{V1}/{CID}/leaderboard/download", headers=world.student.auth)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    datetime.strptime(response.headers["Last-Modified"], "%a, %d %b %Y %H:%M:%S %Z")  # the client's parse
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as zf:
        [name] = zf.namelist()
        lines = zf.read(name).decode().splitlines()
    assert name == f"{CID}-publicleaderboard.csv"
    assert lines[0] == "TeamId,TeamName,SubmissionDate,Score"
    assert [line.split(",")[1::2] for line in lines[1:]] == [["Underfitter", "1.00000"], ["Overfitter", "0.50000"]]


def test_the_leaderboard_shows_the_private_board_once_released(client, rt, world):
    submit_scored(rt, world, world.student, predictions(set(range(6))))  # public 1, private 0
    submit_scored(rt, world, world.other, predictions(set(range(6, 18))))  # public 0, private 1
    view = f"{V1}/{CID}/leaderboard/view"
    assert [e["teamName"] for e in client.get(view, headers=world.student.auth).get_json()["submissions"]] == [
        "Overfitter", "Underfitter"]
    with rt.db.session() as session:
        get_competition(session, CID).released_at = datetime.now(timezone.utc)
    shown = client.get(view, headers=world.student.auth)
    assert_matches_openapi(shown, "/api/v1/competitions/{cid}/leaderboard/view", "get")
    assert [(e["teamId"], e["teamName"], e["score"]) for e in shown.get_json()["submissions"]] == [
        (1, "Underfitter", "1.00000"), (2, "Overfitter", "0.00000")]


def test_file_downloads_redirect_to_the_files_url(client, world):
    listing = client.get(f"{V1}/data/list/{CID}", headers=world.student.auth)
    assert_matches_openapi(listing, "/api/v1/competitions/data/list/{cid}", "get")
    assert [f["name"] for f in listing.get_json()["files"]] == ["README.md", "sample_submission.csv"]
    one = client.get(f"{V1}/data/download/{CID}/README.md", headers=world.student.auth)
    assert one.status_code == 302 and one.headers["Location"].endswith(f"/api/competitions/{CID}/files/README.md")
    missing = client.get(f"{V1}/data/download/{CID}/solution.csv", headers=world.student.auth)
    assert "no data file 'solution.csv'" in error(missing, 404)
    everything = client.get(f"{V1}/data/download-all/{CID}", headers=world.student.auth)
    assert everything.status_code == 302 and everything.headers["Location"].endswith(f"/{CID}.zip")
    archive = client.get(everything.headers["Location"].replace("http://localhost", ""), headers=world.student.auth)
    with zipfile.ZipFile(io.BytesIO(archive.get_data())) as zf:
        assert sorted(zf.namelist()) == ["README.md", "sample_submission.csv"]
        assert zf.read("README.md").decode().startswith("# Homework")


def test_the_kaggle_routes_answer_outsiders_and_strangers_in_json(client, world):
    for url in (f"{V1}/submissions/list/{CID}", f"{V1}/{CID}/leaderboard/view", f"{V1}/data/list/{CID}"):
        assert error(client.get(url, headers=world.outsider.auth), 403)
        assert error(client.get(url, headers=replace(world.student, key="wrong").auth), 401)
    assert "no competition" in error(client.get(f"{V1}/data/list/c1-zzz", headers=world.student.auth), 404)


def test_links_given_to_the_client_use_the_configured_address_not_the_hosts_header(client, rt, world):
    """The upload address lets its holder upload as the student: with PODIUM_BASE_URL set, no Host or
    X-Forwarded-Host header chooses where it points."""
    rt.settings = replace(rt.settings, base_url="https://podium.c1.test/course-site/")
    spoofed = {**world.student.auth, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    text = predictions()
    issued = client.post(f"{V1}/{CID}/submissions/url/{len(text)}/1700000000", data={"fileName": "pred.csv"},
                         headers=spoofed, content_type="multipart/form-data").get_json()
    assert issued["createUrl"].startswith("https://podium.c1.test/course-site/api/v1/uploads/")
    listing = client.get(f"{V1}/data/list/{CID}", headers=spoofed).get_json()
    assert {f["url"].split("/api/")[0] for f in listing["files"]} == {"https://podium.c1.test/course-site"}
    moved = client.get(f"{V1}/data/download-all/{CID}", headers=spoofed)
    assert moved.headers["Location"] == f"https://podium.c1.test/course-site/api/v1/competitions/data/archive/{CID}.zip"
