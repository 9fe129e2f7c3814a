"""The Canvas export and a Canvas roster from the staff pages: the same rules as the command (tests/test_canvas_export.py),
a note on the Grades page saying what Canvas will do, and no way in for another course's staff or a student."""
from __future__ import annotations

import pytest

from podium.models import Enrolment, User
from podium.services.courses import get_course
from tests.canvas_reader import CanvasCourse, CanvasStudent, canvas_import
from tests.canvas_world import ANA, BO, OTHER_TA, TA, CanvasWorld, build_canvas_world
from tests.test_canvas_export import (ANA_IN_CANVAS, ASSIGNMENTS, BO_IN_CANVAS, CANVAS_GRADEBOOK, CY_IN_CANVAS,
                                      student_grades)
from tests.web.helpers import page


@pytest.fixture
def world(rt, worlds, tmp_path, world_database) -> CanvasWorld:
    return worlds.copy_into(rt, tmp_path, "canvas course", build_canvas_world)


@pytest.fixture
def as_ta(app, world):
    return app.test_client().signed_in_as(TA)


def canvas_ids(rt) -> dict[str, str | None]:
    with rt.db.session() as session:
        return dict(session.query(User.email, Enrolment.canvas_user_id).join(Enrolment)
                    .filter(Enrolment.course_id == get_course(session, "cx").id).all())


def test_the_staff_canvas_download_fills_only_released_and_closed_competitions(rt, as_ta):
    response = as_ta.get("/staff/cx/grades.csv?fmt=canvas")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    canvas = CanvasCourse(dict(ASSIGNMENTS), [ANA_IN_CANVAS, CanvasStudent(9002, "Bo Chen", "", "", BO)])
    imported = canvas_import(response.get_data(as_text=True), canvas)
    assert imported.filled == {(501, 9001): student_grades(rt, ANA)["done"],
                               (501, 9002): student_grades(rt, BO)["done"]}
    assert imported.new_assignments == [] and imported.missing_students == []


def test_the_grades_page_says_what_canvas_will_do(as_ta):
    text = page(as_ta.get("/staff/cx/grades"))
    assert "Before you import the Canvas CSV" in text
    assert "cx-soon: no canvas_assignment_id in its competition.toml" in text
    assert "creates a new assignment" in text
    assert "cx-held: no grades yet, and Canvas will leave its assignment as it is: its private leaderboard is not " \
           "released." in text
    assert "cx-extended: no grades yet, and Canvas will leave its assignment as it is: it is not closed for every " \
           "student" in text


@pytest.mark.parametrize("who", [OTHER_TA, ANA])
def test_another_courses_staff_and_students_get_no_canvas_export(app, world, who):
    browser = app.test_client().signed_in_as(who)
    for url in ("/staff/cx/grades.csv?fmt=canvas", "/staff/cx/grades.csv?fmt=long", "/staff/cx/grades"):
        response = browser.get(url)
        assert response.status_code == 403
        assert "105.0000" not in page(response) and "Homework done" not in page(response)


def test_a_canvas_roster_from_the_people_page_keeps_the_canvas_ids(rt, as_ta):
    refused = as_ta.form("/staff/cx/people/import", {"roster_text": CANVAS_GRADEBOOK})
    assert refused.status_code == 400
    assert "no email address for this student" in page(refused) and "email domain of the SIS Login IDs" in page(refused)
    assert canvas_ids(rt)[ANA] is None
    response = as_ta.form("/staff/cx/people/import", {"roster_text": CANVAS_GRADEBOOK, "email_domain": "x.test"},
                          follow_redirects=True)
    assert "Roster imported: 1 enrolled, 2 already in the course, Canvas ids kept for 3." in page(response)
    assert canvas_ids(rt) == {ANA: "9001", BO: "9002", "cy@x.test": "9003", TA: None, "prof@x.test": None}
    download = as_ta.get("/staff/cx/grades.csv?fmt=canvas").get_data(as_text=True)
    imported = canvas_import(download, CanvasCourse(dict(ASSIGNMENTS), [ANA_IN_CANVAS, BO_IN_CANVAS, CY_IN_CANVAS]))
    assert imported.missing_students == [] and {s for _, s in imported.filled} == {9001, 9002, 9003}


def test_another_courses_ta_cannot_import_a_canvas_roster(rt, app, world):
    browser = app.test_client().signed_in_as(OTHER_TA)
    response = browser.form("/staff/cx/people/import", {"roster_text": CANVAS_GRADEBOOK, "email_domain": "x.test"})
    assert response.status_code == 403
    assert "cy@x.test" not in canvas_ids(rt) and canvas_ids(rt)[ANA] is None
