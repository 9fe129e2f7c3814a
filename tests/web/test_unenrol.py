"""Unenrolling a person from a course: a confirmation page first, then the action; the person leaves the course's
pages, boards and gradebook, their account and submissions stay, and the audit log says who did it. TAs unenrol
students only (podium.services.authority), nobody the last instructor; the command `podium users unenrol` does the
same for the instance operator."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from podium.errors import Forbidden, Refused
from podium.models import AuditEvent, Submission
from podium.services import courses, grading, users
from tests.conftest import predictions
from tests.web.helpers import page, record


def user_id(rt, email: str) -> int:
    with rt.db.session() as db:
        return users.get_user(db, email).id


def enrolled(rt, email: str) -> bool:
    with rt.db.session() as db:
        return any(e.course.slug == "c1" for e in users.get_user(db, email).enrolments)


def test_the_confirmation_page_says_what_unenrolling_does_and_changes_nothing(as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    student = user_id(rt, course.student)
    people = page(as_staff.get("/staff/c1/people"))
    assert f'href="/staff/c1/people/{student}/remove?back=' in people  # a link to the page, not a form
    text = page(as_staff.get(f"/staff/c1/people/{student}/remove"))
    assert "Unenrol Stu Dent?" in text and "their 1 submission in this course" in text
    assert 'id="confirm-unenrol"' in text and "Cancel" in text
    assert enrolled(rt, course.student)


def test_unenrolling_keeps_the_submissions_and_is_audited(as_staff, app, rt, course):
    sub = record(rt, course.comp_id, course.student, predictions())
    student = user_id(rt, course.student)
    response = as_staff.form(f"/staff/c1/people/{student}/remove", {"back": "/staff/c1/people?q=stu"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/c1/people?q=stu"
    assert not enrolled(rt, course.student)
    with rt.db.session() as db:
        assert db.get(Submission, sub) is not None
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.unenrol")).one()
        assert (event.actor, event.target, event.details) == (course.staff, course.student,
                                                              {"role": "student", "submissions_kept": 1})
        c1 = courses.get_course(db, "c1")
        assert course.student not in {r.user.email for r in grading.gradebook(db, c1)}
    flash = page(as_staff.get("/staff/c1/people"))
    assert f"{course.student} is no longer enrolled in c1; the account and its 1 submission stay." in flash
    assert f"/submissions/{sub}" in page(as_staff.get("/staff/c1/submissions"))  # staff still find it
    student_browser = app.test_client().signed_in_as(course.student)
    assert student_browser.get("/courses/c1").status_code == 403
    with rt.db.session() as db:  # enrolled again, everything is back
        users.add_user(db, course.student, courses.get_course(db, "c1"), "student")
    assert student_browser.get(f"/submissions/{sub}").status_code == 200


def test_attack_a_ta_unenrols_staff_or_the_instructor(as_staff, as_instructor, rt, course):
    with rt.db.session() as db:
        users.add_user(db, "ta2@c1.test", courses.get_course(db, "c1"), "staff")
        users.add_user(db, "prof2@c1.test", courses.get_course(db, "c1"), "instructor")
    for email in ("ta2@c1.test", "prof2@c1.test", course.instructor, course.staff):
        target = user_id(rt, email)
        refused = as_staff.form(f"/staff/c1/people/{target}/remove")
        assert refused.status_code == 403, email
        assert "Course staff unenrol students only" in page(refused)
        confirm = page(as_staff.get(f"/staff/c1/people/{target}/remove"))
        assert "Course staff unenrol students only" in confirm and 'id="confirm-unenrol"' not in confirm
        assert enrolled(rt, email)
    people = page(as_staff.get("/staff/c1/people"))
    assert f"/people/{user_id(rt, course.instructor)}/remove" not in people  # no button where it would be refused
    assert f"/people/{user_id(rt, course.student)}/remove" in people


def test_attack_a_student_or_another_courses_staff_unenrols_someone(app, as_student, as_outsider, rt, course):
    other = user_id(rt, course.other)
    assert as_student.form(f"/staff/c1/people/{other}/remove").status_code == 403
    assert as_outsider.form(f"/staff/c1/people/{other}/remove").status_code == 403
    with rt.db.session() as db:
        users.add_user(db, "ta9@c2.test", courses.get_course(db, "c2"), "staff")
    c2_ta = app.test_client().signed_in_as("ta9@c2.test")
    assert c2_ta.form(f"/staff/c2/people/{other}/remove").status_code == 404  # not a member of c2
    assert c2_ta.form(f"/staff/c1/people/{other}/remove").status_code == 403
    assert enrolled(rt, course.other)


def test_instructors_unenrol_other_instructors_never_themselves_nor_the_last(app, as_instructor, rt, course):
    prof = user_id(rt, course.instructor)
    own = as_instructor.form(f"/staff/c1/people/{prof}/remove")
    assert own.status_code == 409 and "Ask another instructor" in page(own)
    with rt.db.session() as db:
        users.add_user(db, "prof2@c1.test", courses.get_course(db, "c1"), "instructor")
    second = user_id(rt, "prof2@c1.test")
    assert as_instructor.form(f"/staff/c1/people/{second}/remove").status_code == 302
    assert enrolled(rt, course.instructor) and not enrolled(rt, "prof2@c1.test")
    with rt.db.session() as db:  # the last instructor, asked by the operator: refused all the same
        with pytest.raises(Refused, match="last instructor"):
            users.remove_enrolment(db, courses.get_course(db, "c1"), users.get_user(db, course.instructor))


def test_the_rule_itself_for_every_role(rt, course):
    with rt.db.session() as db:
        c1 = courses.get_course(db, "c1")
        ta, student, prof = (users.get_user(db, e) for e in (course.staff, course.student, course.instructor))
        with pytest.raises(Forbidden):
            users.remove_enrolment(db, c1, prof, actor=ta.email, by=ta)
        with pytest.raises(Forbidden):
            users.remove_enrolment(db, c1, student, actor=student.email, by=student)
        with pytest.raises(Refused, match="last instructor"):
            users.remove_enrolment(db, c1, prof)  # the operator too
        assert users.remove_enrolment(db, c1, student, actor=ta.email, by=ta) == 0


def test_the_command_unenrols_and_says_what_stays(rt, podium_cli, course):
    record(rt, course.comp_id, course.other, predictions())
    result = podium_cli("users", "unenrol", course.other, "--course", "c1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"{course.other}: no longer enrolled in c1; 1 submission kept"
    assert not enrolled(rt, course.other)
    with rt.db.session() as db:
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.unenrol")).one()
        assert event.actor.startswith("cli") and event.details["submissions_kept"] == 1
    refused = podium_cli("users", "unenrol", course.instructor, "--course", "c1")
    assert refused.exit_code == 1 and "last instructor" in refused.stderr
    assert podium_cli("users", "remove", course.student, "--course", "c1").exit_code == 0  # the earlier name


@pytest.mark.parametrize("back", ["/\\evil.example/", "//evil.example/", "https://evil.example/", "/staff/c2/people",
                                  "/staff/c1/peoplex"])
def test_after_unenrolling_only_the_people_page_is_a_way_back(as_staff, rt, course, back):
    response = as_staff.form(f"/staff/c1/people/{user_id(rt, course.other)}/remove", {"back": back})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/c1/people"
    confirm = page(as_staff.get(f"/staff/c1/people/{user_id(rt, course.student)}/remove", query_string={"back": back}))
    assert 'href="/staff/c1/people">Cancel' in confirm
