"""The integrity report's pages: staff compute it in the background and read the pairs by name and email, open a
pair side by side with the matching parts marked (<mark> with words, not colour alone); every opening is audited;
students and the staff of another course never reach any of it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from podium.models import AuditEvent
from podium.web import create_app
from tests.integrity.world import (COPIER, ORIGINAL, OTHER_STUDENT, OTHER_TA, PREDICTION_COPIER,
                                   PREDICTION_ORIGINAL, STUDENTS, TA, copy_integrity_world)
from tests.web.helpers import Browser, InlineScoring, page


@pytest.fixture
def world(rt, worlds, tmp_path, world_database):
    return copy_integrity_world(worlds, rt, tmp_path)


@pytest.fixture
def app(rt, world):
    app = create_app(runtime=rt)
    app.test_client_class = Browser
    app.extensions["podium.scoring"] = InlineScoring(rt)
    app.config["TESTING"] = True
    return app


def browser(app, email: str) -> Browser:
    return app.test_client().signed_in_as(email)


def computed(app, world) -> Browser:
    staff = browser(app, TA)
    response = staff.form(f"/staff/competitions/{world.cid}/integrity")
    assert response.status_code == 302
    app.extensions["podium.integrity"].wait(world.comp_id, timeout=120)
    return staff


def actions(rt) -> list[tuple[str, str, dict]]:
    with rt.db.session() as session:
        return [(e.action, e.actor, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("integrity.%")).order_by(AuditEvent.id))]


def test_staff_compute_the_report_and_read_the_planted_pairs_first(rt, app, world):
    staff = browser(app, TA)
    before = page(staff.get(f"/staff/competitions/{world.cid}/integrity"))
    assert "No report has been computed" in before and "Compute the report" in before
    staff = computed(app, world)
    text = page(staff.get(f"/staff/competitions/{world.cid}/integrity"))
    code_rows = re.findall(r'<tr>\s*<td>1</td>(.*?)</tr>', text, re.S)
    assert len(code_rows) == 2  # the first row of the code table and of the predictions table
    assert ORIGINAL in code_rows[0] and COPIER in code_rows[0]
    assert PREDICTION_ORIGINAL in code_rows[1] and PREDICTION_COPIER in code_rows[1]
    assert "Compute the report" not in text and "out of date" not in text
    progress = staff.get(f"/staff/competitions/{world.cid}/integrity.json").get_json()
    assert progress["running"] is False and progress["error"] is None
    assert [(a, actor) for a, actor, _ in actions(rt)] == [("integrity.report_opened", TA)] * 2


def test_a_pair_side_by_side_marks_the_matching_parts_with_words(rt, app, world):
    staff = computed(app, world)
    a, b = world.users[ORIGINAL], world.users[COPIER]
    report = page(staff.get(f"/staff/competitions/{world.cid}/integrity"))
    link = f"/staff/competitions/{world.cid}/integrity/code/{a}/{b}"
    assert link in report
    text = page(staff.get(link))
    assert text.count("<mark>") >= 2 and '<span class="visually-hidden">[matching: </span>' in text
    assert "work/main.py" in text and "work/starter.py" in text
    assert "&lt;" in text or "<" not in re.sub(r"</?(mark|span|code|pre)[^>]*>", "", text.split("<pre")[1])
    assert actions(rt)[-1][0] == "integrity.pair_opened" and set(actions(rt)[-1][2]["students"]) == {ORIGINAL, COPIER}
    # A pair the report does not hold is not found, whatever the ids.
    assert staff.get(f"/staff/competitions/{world.cid}/integrity/code/{a}/{world.users[TA]}").status_code == 404


@pytest.mark.parametrize("who", [STUDENTS[0], ORIGINAL, OTHER_TA, OTHER_STUDENT])
def test_students_and_the_staff_of_another_course_never_reach_the_report(app, world, who):
    # Refused before anything is read: with or without a report kept, the answer is the same.
    visitor = browser(app, who)
    a, b = world.users[ORIGINAL], world.users[COPIER]
    base = f"/staff/competitions/{world.cid}/integrity"
    for url in (base, f"{base}.json", f"{base}/code/{a}/{b}"):
        response = visitor.get(url)
        assert response.status_code == 403, url
        assert COPIER not in page(response) or who == COPIER
    assert visitor.form(base).status_code == 403
    assert "Integrity</a>" not in page(visitor.get(f"/competitions/{world.cid}"))


def test_anonymous_visitors_are_sent_to_sign_in(app, world):
    response = app.test_client().get(f"/staff/competitions/{world.cid}/integrity")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
