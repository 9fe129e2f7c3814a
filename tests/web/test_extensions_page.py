"""The staff Extensions page: a grant kept to the second, refused for staff, errors shown inside the form with what
was typed kept, and the form that extends every student of a competition at once after an outage."""
from __future__ import annotations


from podium.models import Extension
from podium.services import extensions
from podium.services.courses import get_competition
from podium.services.users import get_user
from tests.test_extensions import active, events as audit
from tests.web.helpers import page

URL = "/staff/c1/extensions"
ALL = "/staff/c1/extensions/all-students"


def grant(browser, course, **fields):
    return browser.form(URL, {"competition": course.public_id, "reason": "flu", **fields})


def test_a_fraction_of_a_day_is_kept_to_the_second(as_staff, rt, course):
    response = grant(as_staff, course, email=course.student, days="1.00001")
    assert response.status_code == 302
    assert active(rt)[course.student].delta_seconds == 86_401
    assert "+1 day 1 second on every deadline" in page(as_staff.get(URL))


def test_a_refused_grant_shows_why_inside_the_form_and_keeps_what_was_typed(as_staff, rt, course):
    for days, says in [("nan", "must be a positive number of days, not nan"), ("inf", "not inf"),
                       ("0.000001", "0.000001 days is an extension of less than a second"),
                       ("two", "The number of days must be a number, not &#39;two&#39;")]:
        response = grant(as_staff, course, email=course.student, days=days, reason="flu in week 3")
        assert response.status_code == 422, days
        text = page(response)
        assert says in text, days
        form = text[text.index('id="grant"'):text.index('id="all-students"')]
        assert "Not done." in form and f'value="{days}"' in form and 'value="flu in week 3"' in form
        assert f'value="{course.student}"' in form
    assert active(rt) == {} and audit(rt, "extension.grant") == []


def test_staff_and_instructors_get_no_extension(as_staff, as_instructor, rt, course):
    for browser, email in [(as_staff, course.instructor), (as_instructor, course.instructor),
                           (as_instructor, course.staff)]:
        response = grant(browser, course, email=email, days="30")
        assert response.status_code == 409
        assert f"{email} is " in page(response) and "extensions are for students" in page(response)
    assert active(rt) == {}


def test_an_old_extension_of_a_staff_member_is_marked_as_moving_nothing(as_staff, rt, course):
    with rt.db.session() as session:
        comp, prof = get_competition(session, course.public_id), get_user(session, course.instructor)
        session.add(Extension(competition_id=comp.id, user_id=prof.id, delta_seconds=86400, reason="old",
                              granted_by="cli"))
        student = get_user(session, course.student)
        extensions.grant(session, comp, student, days=1, reason="flu", actor="cli")
    text = page(as_staff.get(URL))
    assert text.count("moves nothing: not a student of the course") == 1
    row = text[text.index(course.instructor):]
    assert row.index("moves nothing") < row.index("</tr>")


def test_a_ta_extends_every_student_at_once(as_staff, rt, course):
    assert grant(as_staff, course, email=course.student, days="1").status_code == 302
    response = as_staff.form(ALL, {"competition": course.public_id, "amount": "4", "unit": "hours",
                                   "reason": "Podium was down 14:00-18:00"}, follow_redirects=True)
    text = page(response)
    assert "2 students extended on c1-hw1 by 4 hours, 1 of them on top of an earlier extension." in text
    now = active(rt)
    assert set(now) == {course.student, course.other}
    assert now[course.student].delta_seconds == 86400 + 4 * 3600 and now[course.other].delta_seconds == 4 * 3600
    [entry] = audit(rt, "extension.grant_all")
    assert entry.actor == course.staff and entry.course_id is not None
    assert sorted(row["email"] for row in entry.details["granted"]) == sorted([course.student, course.other])


def test_the_outage_form_refuses_inside_itself_keeping_what_was_typed(as_staff, rt, course):
    for fields, says in [({"amount": "", "unit": "hours"}, "The number of hours is missing"),
                         ({"amount": "3", "unit": "weeks"}, "Choose hours or days."),
                         ({"amount": "0.0000001", "unit": "hours"}, "less than a second"),
                         ({"amount": "400", "unit": "days"}, "more than a year")]:
        response = as_staff.form(ALL, {"competition": course.public_id, "reason": "outage", **fields})
        assert response.status_code == 422, fields
        text = page(response)
        form = text[text.index('id="all-students"'):]
        assert "Not done." in form and says in form, fields
        assert f'value="{fields["amount"]}"' in form and 'value="outage"' in form
    response = as_staff.form(ALL, {"competition": course.public_id, "amount": "2", "unit": "days", "reason": ""})
    assert response.status_code == 422 and "needs a reason" in page(response)
    assert '<option value="days" selected>' in page(response)
    assert active(rt) == {} and audit(rt, "extension.grant_all") == []


def test_students_and_other_courses_cannot_extend_everyone(as_student, as_outsider, as_staff, rt, course):
    data = {"competition": course.public_id, "amount": "100", "unit": "days", "reason": "free time"}
    assert as_student.form(ALL, data).status_code == 403
    assert as_outsider.form(ALL, data).status_code == 403
    assert as_staff.form("/staff/c2/extensions/all-students", {**data, "competition": "c2-hw9"}).status_code == 403
    # A competition of another course named in this course's form is not this course's.
    assert as_staff.form(ALL, {**data, "competition": "c2-hw9"}).status_code == 422
    assert active(rt) == {}
