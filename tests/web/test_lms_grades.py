"""The staff page "LMS grades" (podium.services.lti_grades.listing): what was sent to the linked LMS gradebook, what
failed and why (failed first), what is held back and why; reachable from the staff navigation of a linked course
only; never for a student or for the staff of another course. Sending itself is tested against the test LMS in
tests/lti/test_grades.py; here the rows are written as a pass would leave them, and nothing reaches a network."""
from __future__ import annotations

from datetime import timedelta

import pytest

from podium.models import AuditEvent, LtiContext, LtiGrade, LtiPlatform, MailState
from podium.services import users
from podium.services.courses import get_course
from tests.canvas_world import ANA, BO, OTHER_TA, PROF, TA, CanvasWorld, build_canvas_world

REFUSAL = "Test LMS refused the request about the gradebook (HTTP 400: userId 'u-bo' is not a member of this context)."


@pytest.fixture
def world(rt, worlds, tmp_path, world_database) -> CanvasWorld:
    """Course cx of tests/canvas_world.py linked to an LMS course, with ana's done grade sent and bo's refused."""
    world = worlds.copy_into(rt, tmp_path, "canvas course", build_canvas_world)
    with rt.db.session() as session:
        platform = LtiPlatform(name="Test LMS", issuer="https://lms.test", client_id="podium", deployment_ids=["d1"],
                               auth_login_url="https://lms.test/auth", auth_token_url="https://lms.test/token",
                               key_set_url="https://lms.test/jwks")
        session.add(platform)
        session.flush()
        context = LtiContext(platform_id=platform.id, context_id="cx-lms", title="Course cx in the LMS",
                             course_id=get_course(session, "cx").id, lineitems_url="https://lms.test/ags/cx-lms",
                             ags_scopes=["https://purl.imsglobal.org/spec/lti-ags/scope/score"])
        session.add(context)
        session.flush()
        done, now = world.ids["done"], world.now
        session.add_all([
            LtiGrade(context_id=context.id, competition_id=done, user_id=users.get_user(session, ANA).id,
                     score=105.0, state=MailState.SENT, attempts=1, sent_score=105.0, sent_at=now, reason="released"),
            LtiGrade(context_id=context.id, competition_id=done, user_id=users.get_user(session, BO).id,
                     score=40.0, state=MailState.FAILED, attempts=1, last_error=REFUSAL, reason="released",
                     next_attempt_at=now + timedelta(minutes=1)),
        ])
    return world


def test_staff_see_failed_grades_first_with_why_then_those_sent_then_what_is_held_back(rt, world, app):
    ta = app.test_client().signed_in_as(TA)
    page = ta.get("/staff/cx/lms-grades").get_data(as_text=True)

    assert "Course cx in the LMS" in page
    failed, sent = page.index("is not a member of this context"), page.index("ana@x.test")
    held = page.index("<h2>Held back</h2>")
    assert failed < sent < held
    assert "105.0" in page and "40.0" in page
    # held (not released), extended (open to bo by his extension), soon (not open): each with why.
    rest = page[held:]
    assert "Homework held" in rest and "its private leaderboard is not released" in rest
    assert "Homework extended" in rest and "it is not closed for every student" in rest
    assert "Homework soon" in rest and "Homework done" not in rest
    # A TA sees it all, and the navigation leads here; only instructors send by hand.
    assert 'href="/staff/cx/lms-grades"' in ta.get("/staff/cx").get_data(as_text=True)
    assert 'action="/staff/cx/lms-grades/send"' not in page
    prof = app.test_client().signed_in_as(PROF)
    assert 'action="/staff/cx/lms-grades/send"' in prof.get("/staff/cx/lms-grades").get_data(as_text=True)


def test_a_course_without_a_linked_lms_course_has_neither_the_page_nor_its_link(rt, world, app):
    other_ta = app.test_client().signed_in_as(OTHER_TA)
    assert "LMS grades" not in other_ta.get("/staff/cy").get_data(as_text=True)
    missing = other_ta.get("/staff/cy/lms-grades")
    assert missing.status_code == 404 and "not linked to an LMS course" in missing.get_data(as_text=True)


@pytest.mark.parametrize("who", [ANA, OTHER_TA])
def test_a_student_and_the_staff_of_another_course_get_neither_the_page_nor_send_now(rt, world, app, who):
    browser = app.test_client().signed_in_as(who)
    assert browser.get("/staff/cx/lms-grades").status_code == 403
    assert browser.form("/staff/cx/lms-grades/send").status_code == 403
    assert "LMS grades" not in browser.get("/courses/cx").get_data(as_text=True)
    with rt.db.session() as session:
        assert session.query(AuditEvent).filter(AuditEvent.action.like("lti.%")).count() == 0
        assert {row.state for row in session.query(LtiGrade)} == {"sent", "failed"}  # nothing was queued


def test_send_now_needs_the_form_token(rt, world, app):
    prof = app.test_client().signed_in_as(PROF)
    assert prof.post("/staff/cx/lms-grades/send").status_code == 400  # no CSRF token: refused before anything
    with rt.db.session() as session:
        assert session.query(AuditEvent).filter(AuditEvent.action.like("lti.%")).count() == 0


def test_send_now_without_a_gradebook_to_post_to_says_what_to_do_on_the_page(rt, world, app):
    with rt.db.session() as session:
        session.query(LtiContext).one().ags_scopes = []  # the LMS did not let Podium post scores
    prof = app.test_client().signed_in_as(PROF)
    refused = prof.form("/staff/cx/lms-grades/send")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Not done." in page and "Course cx is linked to no LMS course whose gradebook Podium may post to" in page
    assert "The LMS has not let Podium post grades to this course yet" in page
    with rt.db.session() as session:
        assert session.query(AuditEvent).filter(AuditEvent.action.like("lti.%")).count() == 0
