"""The front page lists the courses and their competitions with each one's state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from podium.services.courses import load_course
from podium.web import create_app
from tests.conftest import write_course


def test_front_page_lists_competitions_with_their_state(rt, tmp_path):
    now = datetime.now(timezone.utc)
    open_course = write_course(tmp_path / "a", slug="c1", now=now)
    upcoming = write_course(tmp_path / "b", slug="c2", competition="hw9", now=now + timedelta(days=40))
    closed = write_course(tmp_path / "c", slug="c3", competition="hw0", now=now - timedelta(days=40))
    with rt.db.session() as session:
        for folder in (open_course, upcoming, closed):
            load_course(session, rt.settings, folder)
    page = create_app(runtime=rt).test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "c1-hw1" in html and "c2-hw9" in html and "c3-hw0" in html
    assert 'state-open">open' in html and 'state-upcoming">not yet open' in html and 'state-closed">closed' in html


def test_front_page_without_courses_says_how_to_load_one(rt):
    html = create_app(runtime=rt).test_client().get("/").get_data(as_text=True)
    assert "podium load" in html
