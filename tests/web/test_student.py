"""Student pages: the course, a competition, submitting, my submissions with final marks, my grades; and what a
student must not see."""
from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import select

from podium.models import Competition, Enrolment, Submission, User
from podium.services import competitions, extensions, users
from podium.services.courses import load_course
from tests.conftest import predictions, write_course
from tests.web.helpers import page, record


def test_course_page_lists_competitions_with_a_live_countdown(as_student, course):
    text = page(as_student.get("/courses/c1"))
    assert "Homework hw1" in text
    assert 'class="countdown" data-until="' in text
    assert "Next deadline" in text and "On-time deadline" in text
    assert 'datetime="' in text and 'data-tz="America/New_York"' in text  # the script adds the viewer's time


def test_a_submit_button_shows_exactly_when_an_upload_would_be_taken(as_student, rt, course, tmp_path, now):
    """Open: yes. Not open yet: no, practice or not. Closed with practice submissions: yes (scored, never graded)."""
    for slug, shift in (("soon", timedelta(days=20)), ("past", -timedelta(days=30))):
        write_course(tmp_path / "courses", now=now + shift, competition=slug, extra_competition="allow_practice = true")
    with rt.db.session() as session:
        load_course(session, rt.settings, tmp_path / "courses" / "c1")

    def offers_submit(cid: str, text: str) -> bool:  # a Submit button; the submit tab says why when it is shut
        return re.search(f'class="button[^"]*" href="/competitions/{cid}/submit"', text) is not None

    course_page = page(as_student.get("/courses/c1"))
    expected = {"c1-hw1": True, "c1-soon": False, "c1-past": True}
    assert {cid: offers_submit(cid, course_page) for cid in expected} == expected
    for cid, offered in expected.items():
        assert offers_submit(cid, page(as_student.get(f"/competitions/{cid}"))) == offered, cid
    refused = as_student.form("/competitions/c1-soon/submit", {"file": (io.BytesIO(predictions().encode()), "p.csv")},
                              content_type="multipart/form-data")
    assert "opens" in page(refused).lower()


def test_people_outside_the_course_cannot_open_it(as_outsider, course):
    assert as_outsider.get("/courses/c1").status_code == 403
    assert as_outsider.get(f"/competitions/{course.public_id}").status_code == 403
    assert as_outsider.get(f"/competitions/{course.public_id}/submit").status_code == 403


def test_competition_page_shows_evaluation_files_and_timeline(as_student, course):
    text = page(as_student.get(f"/competitions/{course.public_id}"))
    assert "accuracy" in text and "id,label" in text
    assert "README.md" in text and "sample_submission.csv" in text
    assert "Early deadline" in text and "On-time deadline" in text and "Late deadline" in text
    assert "multiplied by 0.9" in text
    assert "Predict the label of each id." in text  # the README stands in for a missing description


def test_the_readme_overview_is_formatted_markdown(as_student, course):
    text = page(as_student.get(f"/competitions/{course.public_id}"))
    assert "<h1>Homework</h1>" in text and "<p>Predict the label of each id.</p>" in text


def test_a_description_formats_markdown_but_never_passes_html_or_script_links(as_student, rt, course):
    with rt.db.session() as db:
        db.get(Competition, course.comp_id).description = (
            "## Task\n\n| id | label |\n|---|---|\n| 0 | 2 |\n\n<script>alert(1)</script>\n\n"
            "[click](javascript:alert(2)) and `code`")
    text = page(as_student.get(f"/competitions/{course.public_id}"))
    assert "<h2>Task</h2>" in text and "<td>2</td>" in text and "<code>code</code>" in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'href="javascript:' not in text


def test_the_timeline_shows_the_students_extension(as_student, as_other, rt, course):
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        extensions.grant(db, comp, users.get_user(db, course.student), days=2, reason="illness", actor=course.staff)
    text = page(as_student.get(f"/competitions/{course.public_id}"))
    assert "You have an extension: +2 days on every deadline" in text
    assert "class deadline:" in text
    assert "You have an extension" not in page(as_other.get(f"/competitions/{course.public_id}"))


def test_data_files_download_and_the_solution_never_does(as_student, course):
    response = as_student.get(f"/competitions/{course.public_id}/files/sample_submission.csv")
    assert response.status_code == 200 and response.data.startswith(b"id,label")
    assert as_student.get(f"/competitions/{course.public_id}/files/solution.csv").status_code == 404
    escaping = as_student.get(f"/competitions/{course.public_id}/files/..%2Fsolution.csv")
    assert escaping.status_code == 400 and "outside its folder" in page(escaping)


def _upload(browser, course, content: str, *, name="preds.csv", description="", json=False):
    headers = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"} if json else {}
    return browser.form(f"/competitions/{course.public_id}/submit",
                        {"file": (io.BytesIO(content.encode()), name), "description": description},
                        content_type="multipart/form-data", headers=headers)


def test_submitting_without_javascript_lands_on_the_scored_submission(as_student, course, app):
    response = _upload(as_student, course, predictions(), description="all right")
    assert response.status_code == 302
    detail = as_student.get(response.headers["Location"])
    text = page(detail)
    assert "status-scored" in text and "1.00000" in text  # public accuracy 1.0 at 5 decimals
    assert "shown when the private leaderboard is released" in text
    assert app.extensions["podium.scoring"].submitted  # scoring was handed to the pool


def test_submitting_from_the_page_script_answers_json_and_the_status_can_be_polled(as_student, course):
    response = _upload(as_student, course, predictions(), json=True)
    assert response.status_code == 202
    body = response.get_json()
    status = as_student.get(body["status_url"]).get_json()
    assert status["status"] == "scored" and status["public_score"] == 1.0 and status["private_score"] is None
    assert status["window"] == "on_time"


def test_a_file_that_cannot_be_scored_shows_the_whole_message(as_student, course):
    response = _upload(as_student, course, "id,label\n0,0\n1,1\n", json=True)
    status = as_student.get(response.get_json()["status_url"]).get_json()
    assert status["status"] == "failed"
    assert status["error"] and len(status["error"]) > 20
    text = page(as_student.get(f"/submissions/{response.get_json()['id']}"))
    assert status["error"].split("\n")[0][:40] in text.replace("&#39;", "'").replace("&#34;", '"')


def test_an_upload_without_a_file_is_explained(as_student, course):
    response = as_student.form(f"/competitions/{course.public_id}/submit", {"description": "x"},
                               content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file to upload" in page(response)


def test_uploads_after_the_late_deadline_are_refused_with_the_reason(as_student, rt, course, now):
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        comp.opens, comp.early = now - timedelta(days=20), now - timedelta(days=15)
        comp.ontime, comp.late = now - timedelta(days=10), now - timedelta(days=5)
    response = _upload(as_student, course, predictions())
    assert response.status_code == 409
    assert "The competition closed at" in page(response)
    json = _upload(as_student, course, predictions(), json=True)
    assert json.status_code == 409 and json.get_json()["message"].startswith("The competition closed at")


def test_too_large_uploads_are_refused_with_the_limit(app, as_student, course):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    response = _upload(as_student, course, "id,label\n" + "1,1\n" * 1000, json=True)
    assert response.status_code == 413 and "MB limit" in response.get_json()["message"]


def test_my_submissions_show_windows_counted_marks_and_downloads(as_student, rt, course, now):
    early = record(rt, course.comp_id, course.student, predictions(set(range(10))), at=now - timedelta(days=6),
                   description="first try")
    best = record(rt, course.comp_id, course.student, predictions())
    text = page(as_student.get(f"/competitions/{course.public_id}/submissions"))
    assert f'>{early}</a>' in text and f'>{best}</a>' in text
    assert "first try" in text
    assert text.count('data-label="Counts"><span class="counted-key">') == 2  # K = 2: both count, none marked
    assert "0 of 2</strong> marked" in text
    download = as_student.get(f"/submissions/{best}/file")
    assert download.status_code == 200 and download.data.decode() == predictions()
    assert "Private</th>" not in text  # not released yet


def test_marking_final_without_javascript_and_the_k_limit(as_student, rt, course, now):
    ids = [record(rt, course.comp_id, course.student, predictions(set(range(i + 5)))) for i in range(3)]
    for sub_id in ids[:2]:
        response = as_student.form(f"/submissions/{sub_id}/mark", {"selected": "1"})
        assert response.status_code == 302
    third = as_student.form(f"/submissions/{ids[2]}/mark", {"selected": "1"}, follow_redirects=True)
    assert "already marked 2 on-time submissions as final (at most 2)" in page(third)
    text = page(as_student.get(f"/competitions/{course.public_id}/submissions"))
    assert "2 of 2</strong> marked" in text and text.count("★ final") == 2
    as_student.form(f"/submissions/{ids[0]}/mark", {"selected": "0"})
    with rt.db.session() as db:
        assert [db.get(Submission, i).selected for i in ids] == [False, True, False]


def test_students_cannot_see_or_touch_each_others_submissions(as_student, as_other, rt, course):
    theirs = record(rt, course.comp_id, course.other, predictions())
    assert as_student.get(f"/submissions/{theirs}").status_code == 404
    assert as_student.get(f"/submissions/{theirs}.json").status_code == 404
    assert as_student.get(f"/submissions/{theirs}/file").status_code == 404
    assert as_student.form(f"/submissions/{theirs}/mark", {"selected": "1"}).status_code == 404
    assert f">{theirs}</a>" not in page(as_student.get(f"/competitions/{course.public_id}/submissions"))
    assert as_other.get(f"/submissions/{theirs}").status_code == 200


def test_private_scores_appear_after_release(as_student, rt, course):
    sub = record(rt, course.comp_id, course.student, predictions())
    assert as_student.get(f"/submissions/{sub}.json").get_json()["private_score"] is None
    with rt.db.session() as db:
        competitions.release(db, db.get(Competition, course.comp_id), actor=course.staff, override="early, for the test")
    assert as_student.get(f"/submissions/{sub}.json").get_json()["private_score"] == 1.0
    assert "Private</th>" in page(as_student.get(f"/competitions/{course.public_id}/submissions"))


def test_my_grades_are_provisional_from_public_scores_until_release(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions(set(range(12))))  # public 1.0, private 0.5
    before = page(as_student.get("/courses/c1/grades"))
    assert "Slack budget" in before and "provisional" in before
    # The only (so the class's best) on-time public score earns the full bonus, 105; the early deadline passed
    # without a submission, so x0.9.
    assert re.search(r"Counted: submission \d+ \(on time\), public 1\.00000, base 100\.0 \+ bonus 5\.0 = 105\.0; "
                     r"no early submission, so x0\.9 = 94\.5; 7 slack days remain\. Provisional: computed from public "
                     r"scores until the private leaderboard is released\.", before)
    assert "0.50000" not in before and "private 0" not in before
    with rt.db.session() as db:
        competitions.release(db, db.get(Competition, course.comp_id), actor=course.staff, override="early, for the test")
    after = page(as_student.get("/courses/c1/grades"))
    # Released: the private score, 0.5, is the D cutoff (40 points), x0.9 for the missed early deadline.
    assert re.search(r"Counted: submission \d+ \(on time\), private 0\.50000, base 40\.0; no early submission, so "
                     r"x0\.9 = 36\.0; 7 slack days remain\.</td>", after)
    assert "<strong>36.0</strong>" in after and "no early submission ×0.9" in after and "provisional</span>" not in after


def _move_schedule(rt, course, delta: timedelta) -> None:
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        comp.opens, comp.early, comp.ontime, comp.late = (t + delta for t in (comp.opens, comp.early, comp.ontime,
                                                                             comp.late))


def test_my_grades_say_a_competition_without_a_submission_is_still_open_instead_of_showing_zero(as_student, course):
    html = page(as_student.get("/courses/c1/grades"))
    assert "No scored submission yet; submissions are accepted until the on-time deadline" in html
    assert "<strong>0.0</strong>" not in html and "grade 0" not in html


def test_my_grades_say_when_a_competition_not_yet_open_opens(as_student, rt, course):
    _move_schedule(rt, course, timedelta(days=20))
    html = page(as_student.get("/courses/c1/grades"))
    assert "Not open yet: it opens" in html and "<strong>0.0</strong>" not in html


def test_my_grades_show_zero_once_a_competition_closed_without_a_submission(as_student, rt, course):
    _move_schedule(rt, course, timedelta(days=-20))
    html = page(as_student.get("/courses/c1/grades"))
    assert "<strong>0.0</strong>" in html and "No scored submission counts for this competition: grade 0." in html


def test_my_grades_count_the_students_extension_as_still_open(as_student, rt, course):
    _move_schedule(rt, course, timedelta(days=-8))  # the late deadline passed a day ago for the class
    assert "<strong>0.0</strong>" in page(as_student.get("/courses/c1/grades"))
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        student = db.query(User).filter_by(email=course.student).one()
        extensions.grant(db, comp, student, days=3, reason="illness", actor=course.staff)
    html = page(as_student.get("/courses/c1/grades"))
    assert "No scored submission yet; submissions are accepted until the late deadline" in html


def test_staff_opening_my_grades_go_to_the_gradebook(as_staff):
    response = as_staff.get("/courses/c1/grades")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/c1/grades")


def test_user_text_is_escaped_everywhere(as_student, rt, course):
    with rt.db.session() as db:
        db.query(Enrolment).filter(Enrolment.user_id == db.scalar(select(User.id).where(User.email == course.student))
                                   ).update({"leaderboard_name": "<script>alert(1)</script>"})
    sub = record(rt, course.comp_id, course.student, predictions(), description="<img src=x onerror=alert(2)>",
                 name="<b>x</b>.csv")
    for url in ("/courses/c1", f"/competitions/{course.public_id}/submissions", f"/submissions/{sub}"):
        text = page(as_student.get(url))
        assert "<script>alert(1)" not in text and "<img src=x" not in text and "<b>x</b>" not in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page(as_student.get(f"/submissions/{sub}"))
