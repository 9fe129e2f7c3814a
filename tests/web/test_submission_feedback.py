"""What a student learns before and after an upload (issue 16, points 1 and 2): the submissions left today and when
the count resets; a Submit page that shows its form only when an upload would be taken and says why not; a waiting
submission's place in the scoring queue; and, once scored, the public rank before and after it (public scores only).
"""
from __future__ import annotations

import io
import re
from datetime import timedelta

from podium.models import Competition, Submission, User
from podium.services import competitions, leaderboards, submissions
from podium.services.courses import load_course
from tests.conftest import predictions, write_course
from tests.web.helpers import page, record

FORM = 'id="submit-form"'


def receive(rt, comp_id: int, email: str, content: str = predictions()) -> int:
    """An upload received and left waiting to be scored (nobody scores it)."""
    with rt.db.session() as session:
        user_id = session.query(User.id).filter(User.email == email).scalar()
    return submissions.receive(rt.db, rt.settings, comp_id, user_id, io.BytesIO(content.encode()), "p.csv").id


def allowance_of(rt, comp_id: int, email: str):
    with rt.db.session() as session:
        user = session.query(User).filter(User.email == email).one()
        return submissions.daily_allowance(session, session.get(Competition, comp_id), user)


def rank_of(rt, submission_id: int) -> leaderboards.RankChange | None:
    with rt.db.session() as session:
        sub = session.get(Submission, submission_id)
        return leaderboards.public_rank_change(session, sub.competition, sub)


def words(response) -> str:
    """The page's text with its tags and spacing collapsed, as a reader sees it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page(response))).replace("&#39;", "'")


# --- submissions left today ------------------------------------------------------------------------------


def test_waiting_uploads_count_failed_ones_are_given_back_and_the_limit_shuts_the_form(as_student, as_staff, rt,
                                                                                       course):
    submit, overview = f"/competitions/{course.public_id}/submit", f"/competitions/{course.public_id}"
    assert "5 of 5 submissions left today" in words(as_student.get(submit))
    receive(rt, course.comp_id, course.student)  # waiting to be scored: it counts
    failed = record(rt, course.comp_id, course.student, "id,prediction\n0,1\n")  # could not be scored: given back
    allowance = allowance_of(rt, course.comp_id, course.student)
    assert (allowance.used, allowance.left) == (1, 4)
    text = words(as_student.get(submit))
    assert "4 of 5 submissions left today" in text and "the count resets at" in text
    reset = as_student.get(submit).get_data(as_text=True)
    assert re.search(r'<time class="when" datetime="[^"]+T0[45]:00:00Z" data-tz="America/New_York">', reset)  # midnight
    assert "4 of 5 submissions left today" in words(as_student.get(overview))  # beside the Submit button
    assert as_student.get(f"/submissions/{failed}.json").get_json()["submissions_left_today"] == 4

    for _ in range(4):
        record(rt, course.comp_id, course.student, predictions())
    shut = as_student.get(submit)
    assert FORM not in page(shut) and "No submissions left today. You have used 5 of 5" in words(shut)
    assert 'href="/competitions/c1-hw1/submit">Submit predictions' not in page(as_student.get(overview))
    refused = as_student.form(submit, {"file": (io.BytesIO(predictions().encode()), "p.csv")},
                              content_type="multipart/form-data")
    assert refused.status_code == 429 and "Daily limit reached" in words(refused)  # the POST never trusts the page
    assert FORM in page(as_staff.get(submit)) and "No daily limit applies to you" in words(as_staff.get(submit))


# --- the Submit page of a competition that takes no upload now ---------------------------------------------


def test_the_submit_page_shows_its_form_only_when_an_upload_would_be_taken_and_says_why(as_student, rt, course,
                                                                                        tmp_path, now):
    for slug, shift, practice in (("soon", timedelta(days=20), False), ("past", -timedelta(days=30), True),
                                  ("shut", -timedelta(days=30), False)):
        write_course(tmp_path / "courses", now=now + shift, competition=slug,
                     extra_competition=f"allow_practice = {'true' if practice else 'false'}")
    with rt.db.session() as session:
        load_course(session, rt.settings, tmp_path / "courses" / "c1")

    soon = as_student.get("/competitions/c1-soon/submit")
    assert FORM not in page(soon)
    assert "Not open yet. Uploads are taken from the opening" in words(soon) and 'class="countdown"' in page(soon)
    assert re.search(r'id="upload-shut">.*?<time class="when" datetime=', page(soon), re.S)  # when, in both zones
    shut = as_student.get("/competitions/c1-shut/submit")
    assert FORM not in page(shut) and "takes no practice submissions" in words(shut)
    practice = as_student.get("/competitions/c1-past/submit")
    assert FORM in page(practice)
    assert "This upload will not count. An upload now is a practice submission" in words(practice)
    assert "never graded and never on a leaderboard" in words(practice)
    assert "will not count" not in words(as_student.get(f"/competitions/{course.public_id}/submit"))
    # The competition page's button follows the same rule, and says why where there is none.
    assert "Submit predictions" not in words(as_student.get("/competitions/c1-shut"))
    assert "takes no practice submissions" in words(as_student.get("/competitions/c1-shut"))
    assert "This upload will not count" in words(as_student.get("/competitions/c1-past"))
    # The page is no gate: the upload itself is refused as before.
    refused = as_student.form("/competitions/c1-shut/submit", {"file": (io.BytesIO(predictions().encode()), "p.csv")},
                              content_type="multipart/form-data")
    assert refused.status_code == 409 and "The competition closed at" in words(refused)


# --- a waiting submission's place in the scoring queue -------------------------------------------------------


def test_a_waiting_submission_shows_its_place_by_the_queues_turn_rule(as_student, as_other, rt, course):
    first = receive(rt, course.comp_id, course.student)
    second = receive(rt, course.comp_id, course.student)
    theirs = receive(rt, course.comp_id, course.other)  # received last, taken before the student's second upload
    with rt.db.session() as session:
        places = {n: submissions.queue_place(session, n) for n in (first, second, theirs)}
    assert {n: p.place for n, p in places.items()} == {first: 1, theirs: 2, second: 3}
    assert places[second].waiting == 3 and places[second].being_scored == 0

    with rt.db.session() as session:
        assert submissions.claim(session, first)  # a worker starts on it
    status = as_student.get(f"/submissions/{second}.json").get_json()
    assert status["queue"]["place"] == 2 and status["queue"]["being_scored"] == 1
    assert status["queue"]["text"].startswith("2nd in line to be scored: 1 upload waits before it, 1 is being scored "
                                              "now (counting every course's uploads on this server")  # what it counts
    assert status["public_rank"] is None
    assert "Being scored now." in words(as_student.get(f"/submissions/{first}"))
    assert "2nd in line to be scored" in words(as_student.get(f"/submissions/{second}"))
    assert as_other.get(f"/submissions/{second}.json").status_code == 404  # nobody else's place to read

    for n in (first, second, theirs):
        submissions.score(rt.db, rt.settings, n)
    scored = as_student.get(f"/submissions/{second}.json").get_json()
    assert scored["queue"] is None and scored["public_rank"] is not None
    assert "in line" not in words(as_student.get(f"/submissions/{second}"))


def test_places_are_written_as_ordinals():
    assert [submissions.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "112th"]


# --- the public rank before and after a scored submission ---------------------------------------------------


def test_the_rank_moves_with_a_better_public_score_and_stays_with_a_worse_one(as_student, rt, course):
    record(rt, course.comp_id, course.other, predictions(set(range(3))))  # public 0.5
    entry = record(rt, course.comp_id, course.student, predictions(set(range(2))))  # public 0.33
    better = record(rt, course.comp_id, course.student, predictions())  # public 1.0
    worse = record(rt, course.comp_id, course.student, predictions(set(range(1))))  # public 0.17

    assert (rank_of(rt, entry).before, rank_of(rt, entry).after, rank_of(rt, entry).students) == (None, 2, 2)
    assert rank_of(rt, entry).text == "Public rank: not on the leaderboard → 2 of 2."
    assert (rank_of(rt, better).before, rank_of(rt, better).after) == (2, 1)
    assert rank_of(rt, worse).text == ("Public rank: 1 of 2, unchanged: an earlier submission keeps the better "
                                       "public score.")
    assert rank_of(rt, worse).moved is False and rank_of(rt, worse).best is False

    # As of its scoring: what was scored later changes nothing of what the first one did.
    record(rt, course.comp_id, course.other, predictions())  # 1.0 too, later: ranked after the student's
    assert (rank_of(rt, entry).before, rank_of(rt, entry).after) == (None, 2)
    with rt.db.session() as session:
        board = leaderboards.public_board(session, session.get(Competition, course.comp_id))
    mine = next(row for row in board if row.submission_id == better)
    assert mine.rank == rank_of(rt, better).after  # the board's own ordering

    shown = words(as_student.get(f"/submissions/{better}"))
    assert "Public rank: 2 → 1 of 2." in shown
    answer = as_student.get(f"/submissions/{worse}.json").get_json()["public_rank"]
    assert answer == {"before": 1, "after": 1, "students": 2, "changed": False,
                      "text": "Public rank: 1 of 2, unchanged: an earlier submission keeps the better public score."}


def test_ranks_read_public_scores_only_before_and_after_the_release(as_student, rt, course):
    # The private scores rank the other way round: a rank read off them would put the student second.
    theirs = record(rt, course.comp_id, course.other, predictions(set(range(6, 18))))  # public 0.0, private 1.0
    mine = record(rt, course.comp_id, course.student, predictions(set(range(6))))  # public 1.0, private 0.0
    before_release = as_student.get(f"/submissions/{mine}.json").get_json()["public_rank"]
    assert (before_release["before"], before_release["after"], before_release["students"]) == (None, 1, 2)
    assert (rank_of(rt, theirs).before, rank_of(rt, theirs).after, rank_of(rt, theirs).students) == (None, 1, 1)
    with rt.db.session() as db:
        competitions.release(db, db.get(Competition, course.comp_id), actor=course.staff, override="for the test")
    assert as_student.get(f"/submissions/{mine}.json").get_json()["public_rank"] == before_release


def test_a_practice_submission_leaves_the_rank_as_it_was_and_staff_uploads_have_none(as_staff, rt, course, now):
    record(rt, course.comp_id, course.student, predictions(set(range(3))))
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        comp.allow_practice = True
        comp.opens, comp.early = now - timedelta(days=20), now - timedelta(days=15)
        comp.ontime, comp.late = now - timedelta(days=10), now - timedelta(days=5)
    practice = record(rt, course.comp_id, course.student, predictions())
    change = rank_of(rt, practice)
    assert (change.before, change.after, change.practice) == (1, 1, True)
    assert change.text.startswith("Public rank: 1 of 1, unchanged: practice submissions")
    own = record(rt, course.comp_id, course.staff, predictions())
    assert rank_of(rt, own) is None and "Public rank" not in words(as_staff.get(f"/submissions/{own}"))
    assert "Public rank: 1 of 1, unchanged" in words(as_staff.get(f"/submissions/{practice}"))
