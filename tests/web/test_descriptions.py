"""A submission's description: its author edits it on the submission page at any time; staff of the course may too
(audited: the description may be one they typed recording the upload, or hold something to take out); nobody else,
and a description too long is refused inline with what was typed kept."""
from __future__ import annotations

from sqlalchemy import select

from podium.models import AuditEvent, Submission
from podium.services import users
from podium.services.courses import get_course
from tests.conftest import predictions
from tests.web.helpers import PASSWORD, page, record


def test_the_author_edits_a_description_staff_may_too_audited_and_nobody_else(app, as_student, as_other, as_staff,
                                                                                rt, course):
    sub_id = record(rt, course.comp_id, course.student, predictions(), description="first try")
    url = f"/submissions/{sub_id}/description"
    assert 'name="description"' in page(as_student.get(f"/submissions/{sub_id}"))

    saved = as_student.form(url, {"description": "  tuned the learning rate  "})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/submissions/{sub_id}")
    shown = page(as_student.get(saved.headers["Location"]))
    assert ">tuned the learning rate</textarea>" in shown and "is saved" in shown

    long = "x" * 1001
    refused = as_student.form(url, {"description": long})
    assert refused.status_code == 422
    assert "The description is 1001 characters long; shorten it to at most 1000 characters." in page(refused)
    assert f">{long}</textarea>" in page(refused)  # what was typed is kept

    with rt.db.session() as session:  # a TA of another course
        users.add_user(session, "ta@c2.test", get_course(session, "c2"), "staff", password=PASSWORD)
    other_ta = app.test_client().signed_in_as("ta@c2.test")
    for stranger in (as_other, other_ta):
        assert stranger.form(url, {"description": "defaced"}).status_code == 404

    assert as_staff.form(url, {"description": "removed a link to the solution"}).status_code == 302
    with rt.db.session() as session:
        assert session.get(Submission, sub_id).description == "removed a link to the solution"
        events = [(e.actor, e.target, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "submission.describe"))]
    assert events == [(course.staff, str(sub_id), {"student": course.student, "previous": "tuned the learning rate",
                                                   "description": "removed a link to the solution"})]
