"""Every text a person supplies is shown escaped: competition and course titles and descriptions from the course
folder, submission descriptions, leaderboard names, real names, extension reasons, and what a form or an address
echoes back. Each is set to a payload that would run script if written raw; every page that shows it must show it
as text, and no page may contain the raw tag."""
from __future__ import annotations

import html
import io
import re

import pytest

from podium.services.courses import load_course
from tests.conftest import predictions
from tests.security.conftest import EMAIL
from tests.web.helpers import page

RAW = re.compile(r"<script>x\(|<img src=x")


def payload(tag: str) -> str:
    """Breaks out of an attribute and opens a script: harmless only if escaped (at most 40 characters)."""
    return f'"><script>x("{tag}")</script>'


def shown_escaped(tag: str, body: str) -> bool:
    """The payload is on the page as text: its tag, inside an escaped script element (quotes escaped any way)."""
    text = html.unescape(body)
    return payload(tag) in text and "&lt;script&gt;x(" in body


@pytest.fixture
def hostile(rt, people, app, tmp_path):
    """Course c1 reloaded with hostile titles and a description, and every person-supplied text set to a payload
    through the pages a person would use. Returns the student's submission id."""
    folder = tmp_path / "courses" / "c1"
    course_toml = folder / "course.toml"
    course_toml.write_text(course_toml.read_text().replace('title = "Course c1"',
                                                           f"title = '{payload('course-title')}'"))
    comp_toml = folder / "hw1" / "competition.toml"
    comp_toml.write_text(comp_toml.read_text().replace(
        'title = "Homework hw1"',
        f"title = '{payload('comp-title')}'\ndescription = '''Read this: {payload('comp-description')}'''"))
    with rt.db.session() as session:
        load_course(session, rt.settings, folder)

    student = app.test_client()
    student.signed_in_as(EMAIL["student"])
    assert student.form("/profile/name", {"leaderboard_name": payload("board-name")}).status_code == 302
    answer = student.form("/competitions/c1-hw1/submit", {"file": (io.BytesIO(predictions().encode()), "p.csv"),
                                                          "description": payload("sub-description")})
    assert answer.status_code == 302
    submission = int(answer.headers["Location"].rsplit("/", 1)[1])

    instructor = app.test_client()
    instructor.signed_in_as(EMAIL["instructor"])
    assert instructor.form("/staff/c1/people/add", {"email": "newcomer@c1.test", "role": "student",
                                                    "name": payload("real-name")}).status_code == 302
    assert instructor.form("/staff/c1/extensions", {"competition": "c1-hw1", "email": EMAIL["student"], "days": "2",
                                                    "reason": payload("ext-reason")}).status_code == 302
    return submission


def pages_of(client, urls: list[str]) -> dict[str, str]:
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = page(response)
    return bodies


def test_every_page_shows_supplied_text_escaped_and_never_raw(app, people, hostile):
    student, staff = app.test_client(), app.test_client()
    student.signed_in_as(EMAIL["student"])
    staff.signed_in_as(EMAIL["instructor"])
    seen_by_student = pages_of(student, [
        "/", "/courses/c1", "/competitions/c1-hw1", "/competitions/c1-hw1/submit", "/competitions/c1-hw1/submissions",
        f"/submissions/{hostile}", "/competitions/c1-hw1/leaderboard", "/courses/c1/grades", "/profile"])
    seen_by_staff = pages_of(staff, [
        "/", "/staff/c1", "/staff/c1/people", "/staff/c1/submissions", f"/staff/c1/students/{people.ids['student']}",
        "/staff/c1/extensions", "/staff/c1/grades", "/staff/c1/slack", "/staff/c1/audit",
        "/staff/competitions/c1-hw1", "/competitions/c1-hw1/leaderboard", f"/submissions/{hostile}"])

    for url, body in [*seen_by_student.items(), *seen_by_staff.items()]:
        assert not RAW.search(body), f"raw markup on {url}: {RAW.search(body).group(0)}"

    where = {  # each text, and pages that must show it (as text)
        "course-title": (seen_by_student, ["/", "/courses/c1"]),
        "comp-title": (seen_by_student, ["/courses/c1", "/competitions/c1-hw1", "/competitions/c1-hw1/leaderboard"]),
        "comp-description": (seen_by_student, ["/competitions/c1-hw1"]),
        "sub-description": (seen_by_student, [f"/submissions/{hostile}", "/competitions/c1-hw1/submissions"]),
        "board-name": (seen_by_student, ["/competitions/c1-hw1/leaderboard", "/profile"]),
    }
    staff_where = {
        "course-title": ["/staff/c1"],
        "board-name": ["/competitions/c1-hw1/leaderboard"],
        "real-name": ["/staff/c1/people"],
        "ext-reason": ["/staff/c1/extensions"],
        "sub-description": [f"/submissions/{hostile}"],
        "comp-title": ["/staff/competitions/c1-hw1"],
    }
    for tag, (bodies, urls) in where.items():
        for url in urls:
            assert shown_escaped(tag, bodies[url]), f"{tag} is not shown on {url} (student)"
    for tag, urls in staff_where.items():
        for url in urls:
            assert shown_escaped(tag, seen_by_staff[url]), f"{tag} is not shown on {url} (staff)"


def test_the_other_student_sees_the_hostile_leaderboard_name_as_text(app, people, hostile):
    other = app.test_client()
    other.signed_in_as(EMAIL["other"])
    board = page(other.get("/competitions/c1-hw1/leaderboard"))
    assert shown_escaped("board-name", board) and not RAW.search(board)


@pytest.mark.parametrize("how", ["sign-in form", "data file name", "extension for an unknown email", "chart"])
def test_text_echoed_back_from_a_request_is_escaped(app, people, hostile, how):
    client = app.test_client()
    if how == "sign-in form":
        answer = client.form("/sign-in", {"email": payload("echo"), "password": "wrong password"})
    else:
        client.signed_in_as(EMAIL["instructor"])
        if how == "data file name":  # no closing tag: a / would make it another address
            answer = client.get('/competitions/c1-hw1/files/"><script>x("echo")<b>')
        elif how == "extension for an unknown email":
            answer = client.form("/staff/c1/extensions", {"competition": "c1-hw1", "email": payload("echo"),
                                                          "days": "1", "reason": "r"})
        else:
            answer = client.get("/charts/c1-hw1/distribution.svg")
    body = page(answer)
    assert answer.status_code < 500
    assert not RAW.search(body)
    if how == "data file name":
        assert '&lt;script&gt;x(' in body and 'x("echo")' in html.unescape(body)
    elif how != "chart":
        assert shown_escaped("echo", body)
