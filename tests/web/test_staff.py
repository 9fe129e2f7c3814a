"""Staff pages: every page for staff and instructors, none for students or outsiders; the actions they run."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from podium.models import AuditEvent, Competition, Enrolment, Extension, Role, SlackEntry, Submission, User
from podium.services import competitions, users
from podium.spec import read_course
from tests.conftest import predictions
from tests.web.helpers import page, record

COURSE_PAGES = ["/staff/c1", "/staff/c1/people", "/staff/c1/submissions", "/staff/c1/submissions.csv",
                "/staff/c1/extensions", "/staff/c1/slack", "/staff/c1/grades", "/staff/c1/grades.csv",
                "/staff/c1/audit", "/staff/c1/jobs", "/staff/competitions/c1-hw1",
                "/staff/competitions/c1-hw1/competition.toml", "/staff/competitions/c1-hw1/rescore.json",
                "/staff/competitions/c1-hw1/release"]


@pytest.mark.parametrize("url", COURSE_PAGES)
def test_staff_and_instructors_open_every_staff_page(as_staff, as_instructor, url):
    assert as_staff.get(url).status_code == 200
    assert as_instructor.get(url).status_code == 200


@pytest.mark.parametrize("url", COURSE_PAGES)
def test_students_and_outsiders_open_no_staff_page(as_student, as_outsider, url):
    assert as_student.get(url).status_code == 403
    assert as_outsider.get(url).status_code == 403


@pytest.mark.parametrize("number", [2**31, 2**63, 2**64])
def test_an_id_no_id_column_can_hold_is_a_404_on_every_database(as_staff, course, number):
    assert as_staff.get(f"/staff/c1/students/{number}").status_code == 404
    assert as_staff.get(f"/submissions/{number}").status_code == 404
    assert as_staff.form(f"/staff/c1/extensions/{number}/revoke").status_code == 404


def test_staff_of_one_course_see_nothing_of_another(app, rt, course):
    with rt.db.session() as db:
        c2 = db.query(Competition).filter(Competition.slug == "hw9").one().course
        users.add_user(db, "ta2@c2.test", c2, "staff", password="correct horse battery")
    ta2 = app.test_client()
    ta2.signed_in_as("ta2@c2.test")
    assert ta2.get("/staff/c2").status_code == 200
    assert ta2.get("/staff/c1").status_code == 403
    sub = record(rt, course.comp_id, course.student, predictions())
    assert ta2.get(f"/submissions/{sub}").status_code == 404
    assert ta2.get(f"/submissions/{sub}/file").status_code == 404


def test_staff_see_real_names_and_any_submission(as_staff, rt, course):
    sub = record(rt, course.comp_id, course.student, predictions())
    text = page(as_staff.get(f"/submissions/{sub}"))
    assert "Stu Dent" in text and course.student in text and "1.00000" in text  # private visible to staff
    assert as_staff.get(f"/submissions/{sub}/file").status_code == 200


def test_overview_counts_today_and_names_who_missed_the_early_deadline(as_staff, rt, course, now):
    record(rt, course.comp_id, course.student, predictions(), at=now - timedelta(days=6))  # before early
    record(rt, course.comp_id, course.other, predictions())  # after early
    text = page(as_staff.get("/staff/c1"))
    assert "Submissions today" in text
    assert "1 missed it" in text  # other@ has no submission before the early deadline
    section = text[text.index('id="early-'):]
    assert course.other in section and course.student not in section
    assert 'id="numbers-activity-c1-hw1"' in text  # submissions per hour, drawn inline with their numbers


def test_roster_import_from_the_web_same_csv_as_the_command(as_staff, rt):
    roster = "email,name\nnew1@c1.test,New One\nnew2@c1.test,New Two\n"
    response = as_staff.form("/staff/c1/people/import", {"roster": (io.BytesIO(roster.encode()), "roster.csv")},
                             content_type="multipart/form-data", follow_redirects=True)
    assert "2 enrolled, 0 already in the course" in page(response)
    bad = as_staff.form("/staff/c1/people/import", {"roster_text": "email,name\nnot-an-email,X\n"})
    assert bad.status_code == 400 and "Roster line 2" in page(bad)
    with rt.db.session() as db:
        assert users.find_user(db, "new1@c1.test") is not None
        assert users.find_user(db, "not-an-email@c1.test") is None


def test_only_instructors_enrol_staff(as_staff, as_instructor, rt):
    roster = "email,name,role\nhelper@c1.test,Helper,staff\n"
    assert as_staff.form("/staff/c1/people/import", {"roster_text": roster}).status_code == 403
    assert as_staff.form("/staff/c1/people/add", {"email": "h@c1.test", "role": "staff"}).status_code == 403
    assert as_instructor.form("/staff/c1/people/import", {"roster_text": roster}).status_code == 302
    with rt.db.session() as db:
        helper = users.get_user(db, "helper@c1.test")
        assert helper.enrolments[0].role == Role.staff


def test_roles_change_per_course_by_instructors_only(as_staff, as_instructor, rt, course):
    with rt.db.session() as db:
        student_id = db.query(User.id).filter(User.email == course.student).scalar()
    assert as_staff.form(f"/staff/c1/people/{student_id}/role", {"role": "staff"}).status_code == 403
    assert as_instructor.form(f"/staff/c1/people/{student_id}/role", {"role": "staff"}).status_code == 302
    with rt.db.session() as db:
        assert db.query(Enrolment.role).filter(Enrolment.user_id == student_id).scalar() == Role.staff


def test_extensions_are_granted_listed_and_revoked(as_staff, rt, course):
    response = as_staff.form("/staff/c1/extensions", {"competition": course.public_id, "email": course.student,
                                                      "days": "2", "reason": "flu"}, follow_redirects=True)
    assert "Extension granted" in page(response) and "+2 days on every deadline" in page(response)
    neither = as_staff.form("/staff/c1/extensions", {"competition": course.public_id, "email": course.student,
                                                     "reason": "flu"})
    assert neither.status_code == 422 and "Give one of the number of days, the number of hours or the new on-time deadline" in page(neither)
    until = as_staff.form("/staff/c1/extensions", {"competition": course.public_id, "email": course.other,
                                                   "until": "2099-01-01T12:00", "reason": "visa"})
    assert until.status_code == 302
    with rt.db.session() as db:
        ext = db.query(Extension).filter(Extension.reason == "flu").one()
    assert as_staff.form(f"/staff/c1/extensions/{ext.id}/revoke").status_code == 302
    with rt.db.session() as db:
        assert db.get(Extension, ext.id).revoked_at is not None
        actions = {a for (a,) in db.query(AuditEvent.action)}
        assert {"extension.grant", "extension.revoke"} <= actions


def test_slack_ledger_import_and_balances(as_staff, rt, course):
    response = as_staff.form("/staff/c1/slack", {"ledger_text": f"email,days,note\n{course.student},3,hw1p1\n"},
                             follow_redirects=True)
    text = page(response)
    assert "1 slack entry recorded" in text and "hw1p1" in text
    with rt.db.session() as db:
        assert db.query(SlackEntry).count() == 1
    row = text[text.index(course.student):][:400]
    assert '<td class="num">4</td>' in row  # budget 7 - 3 recorded elsewhere


def test_grades_show_both_policies_and_export(as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    text = page(as_staff.get("/staff/c1/grades"))
    assert "chr.</th>" in text and "opt.</th>" in text and course.student in text
    long = as_staff.get("/staff/c1/grades.csv?policy=optimal&fmt=long")
    rows = list(csv.DictReader(io.StringIO(long.get_data(as_text=True))))
    assert long.headers["Content-Disposition"].startswith("attachment")
    assert {r["email"] for r in rows} == {course.student, course.other}
    canvas = as_staff.get("/staff/c1/grades.csv?fmt=canvas").get_data(as_text=True)
    assert canvas.startswith("Student,ID,SIS User ID,SIS Login ID,Section")
    assert as_staff.get("/staff/c1/grades.csv?policy=lenient").status_code == 400


def test_all_submissions_filter_and_download(as_staff, rt, course, now):
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, "id,label\n1,1\n")  # fails validation
    everyone = page(as_staff.get("/staff/c1/submissions"))
    assert course.student in everyone and course.other in everyone
    failed = page(as_staff.get("/staff/c1/submissions?status=failed"))
    assert course.other in failed and course.student not in failed
    by_name = page(as_staff.get("/staff/c1/submissions?q=stu"))
    assert course.student in by_name and course.other not in by_name
    listing = as_staff.get("/staff/c1/submissions.csv?status=scored").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(listing)))
    assert [r["email"] for r in rows] == [course.student] and rows[0]["window"] == "on_time"


def test_staff_can_correct_a_students_final_mark(as_staff, rt, course):
    sub = record(rt, course.comp_id, course.student, predictions())
    assert as_staff.form(f"/staff/c1/submissions/{sub}/mark", {"selected": "1"}).status_code == 302
    with rt.db.session() as db:
        assert db.get(Submission, sub).selected
        assert db.query(AuditEvent).filter(AuditEvent.action == "submission.select").count() == 1


def _settings_form(as_instructor) -> dict:
    text = page(as_instructor.get("/staff/competitions/c1-hw1"))
    form = {}
    for name in ("title", "weight", "display_precision", "daily_limit", "opens", "early", "ontime", "late",
                 "cutoff_A", "cutoff_B", "cutoff_C", "cutoff_D", "cutoff_F"):
        marker = f'name="{name}" value="'
        start = text.index(marker) + len(marker)
        form[name] = text[start:text.index('"', start)]
    form["description"] = ""
    form["slack_eligible"] = "on"
    return form


def test_settings_form_saves_checked_values_and_audits(as_instructor, rt, course):
    form = _settings_form(as_instructor)
    form.update(title="Homework one", display_precision="3", cutoff_A="top 10%", daily_limit="4")
    response = as_instructor.form("/staff/competitions/c1-hw1", form, follow_redirects=True)
    assert "Saved:" in page(response)
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        assert (comp.title, comp.display_precision, comp.cutoffs["A"], comp.daily_limit) == \
            ("Homework one", 3, "top 10%", 4)
        event = db.query(AuditEvent).filter(AuditEvent.action == "competition.settings").one()
        assert set(event.details["changed"]) == {"title", "display_precision", "cutoffs", "daily_limit"}
    toml = as_instructor.get("/staff/competitions/c1-hw1/competition.toml").get_data(as_text=True)
    assert 'title = "Homework one"' in toml and 'A = "top 10%"' in toml


def test_settings_are_refused_with_the_same_message_as_podium_load(as_instructor, rt, course, tmp_path):
    form = _settings_form(as_instructor)
    form.update(late=form["opens"])  # late before ontime
    response = as_instructor.form("/staff/competitions/c1-hw1", form)
    assert response.status_code == 422
    # The same folder with the same mistake, read as `podium load` reads it:
    folder = tmp_path / "courses" / "c1"
    toml = folder / "hw1" / "competition.toml"
    text = toml.read_text()
    late_line = next(line for line in text.splitlines() if line.strip().startswith("late ="))
    toml.write_text(text.replace(late_line, f'late = "{form["opens"]}"'))
    with pytest.raises(Exception) as load_error:
        read_course(folder)
    expected = str(load_error.value).split("competition.toml: ", 1)[1]
    assert expected in page(response)
    with rt.db.session() as db:
        assert db.get(Competition, course.comp_id).late > db.get(Competition, course.comp_id).ontime


@pytest.mark.parametrize("change, message", [
    ({"weight": "heavy"}, "[competition] weight: must be a number, not &#39;heavy&#39;"),
    ({"cutoff_A": "0.1"}, "[grading] cutoffs"),
    ({"cutoff_A": "top ten"}, "[grading] cutoffs: cutoff A"),
    ({"ontime": "next friday"}, "[schedule] ontime"),
    ({"title": ""}, "[competition] title: must be a non-empty string"),
])
def test_settings_form_names_the_key_of_each_mistake(as_instructor, change, message):
    form = _settings_form(as_instructor)
    form.update(change)
    response = as_instructor.form("/staff/competitions/c1-hw1", form)
    assert response.status_code == 422 and message in page(response)


def test_staff_see_settings_but_only_instructors_change_them(as_staff, rt, course):
    text = page(as_staff.get("/staff/competitions/c1-hw1"))
    assert "<fieldset disabled>" in text and "Only instructors can change settings" in text
    assert as_staff.form("/staff/competitions/c1-hw1", {"title": "x"}).status_code == 403
    assert as_staff.form("/staff/competitions/c1-hw1/rescore").status_code == 403


def test_a_new_solution_is_compiled_and_every_submission_rescored(app, as_instructor, rt, course):
    sub = record(rt, course.comp_id, course.student, predictions())
    usage = ["Public"] * 6 + ["Private"] * 12 + ["Ignored"] * 2
    # The new solution shifts every label, so the old perfect file now scores 0.
    solution = "id,label,Usage\n" + "".join(f"{i},{(i + 1) % 3},{usage[i]}\n" for i in range(20))
    response = as_instructor.form("/staff/competitions/c1-hw1/solution",
                                  {"solution": (io.BytesIO(solution.encode()), "solution.csv")},
                                  content_type="multipart/form-data")
    assert response.status_code == 302
    app.extensions["podium.rescores"].wait(course.comp_id, timeout=60)
    progress = as_instructor.get("/staff/competitions/c1-hw1/rescore.json").get_json()
    assert progress == {"running": False, "done": 1, "total": 1, "counts": {"scored": 1, "failed": 0, "skipped": 0},
                        "error": None}
    with rt.db.session() as db:
        assert db.get(Submission, sub).public_score == 0.0
        assert {"competition.solution", "competition.rescore"} <= {a for (a,) in db.query(AuditEvent.action)}
    assert "Rescored 1: 1 scored, 0 failed." in page(as_instructor.get("/staff/competitions/c1-hw1"))


def test_a_solution_the_scorer_cannot_use_changes_nothing(as_instructor, rt, course):
    with rt.db.session() as db:
        before = db.get(Competition, course.comp_id).solution_sha256
    response = as_instructor.form("/staff/competitions/c1-hw1/solution",
                                  {"solution": (io.BytesIO(b"id,label\n1,1\n"), "solution.csv")},
                                  content_type="multipart/form-data")
    assert response.status_code == 422 and "The solution was not accepted" in page(response)
    with rt.db.session() as db:
        assert db.get(Competition, course.comp_id).solution_sha256 == before


def test_audit_log_lists_course_events_newest_first_and_filters(as_staff, rt, course):
    as_staff.form("/staff/competitions/c1-hw1/release", {"confirm": "yes", "override": "1", "reason": "a test"})
    text = page(as_staff.get("/staff/c1/audit"))
    assert text.index("competition.release") < text.index("course.load")
    only = page(as_staff.get("/staff/c1/audit?action=competition"))
    assert "competition.release" in only and "<code>course.load</code>" not in only


def test_student_detail_page_for_staff(as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    with rt.db.session() as db:
        student_id = db.query(User.id).filter(User.email == course.student).scalar()
    text = page(as_staff.get(f"/staff/c1/students/{student_id}"))
    assert "Stu Dent" in text and "Overfitter" in text and f'id="numbers-progress-{student_id}-c1-hw1"' in text
    assert as_staff.get("/staff/c1/students/99999").status_code == 404


def test_jobs_page_lists_the_finalisations_to_come_and_done(as_staff, rt, course):
    text = page(as_staff.get("/staff/c1/jobs"))
    upcoming = text[text.index("Upcoming finalisations"):text.index("Past finalisations")]
    assert "Homework hw1" in upcoming and "c2-hw9" not in text  # only this course's competitions
    with rt.db.session() as db:
        competitions.finalise(db, db.get(Competition, course.comp_id), actor="scheduler")
    text = page(as_staff.get("/staff/c1/jobs"))
    past = text[text.index("Past finalisations"):]
    assert "Homework hw1" in past and "scheduler" in past
    assert "Every competition is finalised." in text
