"""Charts: real SVG drawn on the server, with the cutoffs and deadlines, and the pages' visibility rules."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from podium.models import User
from podium.web import plots
from tests.conftest import predictions
from tests.web.helpers import record


def test_score_distribution_is_an_svg_with_the_cutoff_letters(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, predictions({0, 1}))
    response = as_student.get(f"/charts/{course.public_id}/distribution.svg")
    svg = response.get_data(as_text=True)
    assert response.mimetype == "image/svg+xml" and svg.lstrip().startswith("<?xml")
    assert "<svg" in svg and "public board" in svg
    for letter in "ABCD":
        assert f">{letter}<" in svg
    assert not re.search(r'(href|src)="https?://', svg) and "url(http" not in svg  # nothing fetched from elsewhere


def test_private_distribution_only_for_staff_before_release(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    assert as_student.get(f"/charts/{course.public_id}/distribution.svg?board=private").status_code == 403
    assert as_staff.get(f"/charts/{course.public_id}/distribution.svg?board=private").status_code == 200


def test_submissions_per_hour_is_for_staff(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    assert as_student.get(f"/charts/{course.public_id}/activity.svg").status_code == 403
    svg = as_staff.get(f"/charts/{course.public_id}/activity.svg").get_data(as_text=True)
    assert "on-time deadline" in svg and "late deadline" in svg and "early deadline" in svg


def test_score_over_time_is_the_viewers_own_unless_staff(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.other, predictions())
    with rt.db.session() as db:
        other_id = db.query(User.id).filter(User.email == course.other).scalar()
    assert as_student.get(f"/charts/{course.public_id}/progress.svg?student={other_id}").status_code == 403
    mine = as_student.get(f"/charts/{course.public_id}/progress.svg").get_data(as_text=True)
    assert "No scored submission yet" in mine
    theirs = as_staff.get(f"/charts/{course.public_id}/progress.svg?student={other_id}").get_data(as_text=True)
    assert "public" in theirs and "private" in theirs  # staff see private scores at any time


@pytest.mark.parametrize("student", ["2147483648", str(2**64), "nobody"])
def test_a_student_number_no_id_can_hold_is_not_found(as_staff, course, student):
    assert as_staff.get(f"/charts/{course.public_id}/progress.svg?student={student}").status_code == 404


def test_a_chart_is_drawn_again_when_the_submissions_change(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions({0}))
    first = as_student.get(f"/charts/{course.public_id}/distribution.svg").get_data(as_text=True)
    assert first == as_student.get(f"/charts/{course.public_id}/distribution.svg").get_data(as_text=True)
    record(rt, course.comp_id, course.other, predictions())
    assert as_student.get(f"/charts/{course.public_id}/distribution.svg").get_data(as_text=True) != first


def test_plots_handle_empty_data_and_lower_is_better_cutoffs():
    assert "No scored submission yet" in plots.score_distribution([], {"A": 1.0}, metric="m", board="public")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    svg = plots.score_over_time([(now, 12.0, None), (now + timedelta(hours=5), 9.5, None)],
                                {"A": 10.0, "B": 15.0}, {"ontime": now + timedelta(hours=6)},
                                metric="edit distance", tz="America/New_York")
    assert "edit distance" in svg and ">A<" in svg and "on-time" in svg
    assert "No submission yet" in plots.submissions_around_deadlines([], {"ontime": now})


def test_outsiders_get_no_chart(as_outsider, course):
    assert as_outsider.get(f"/charts/{course.public_id}/distribution.svg").status_code == 403




def test_submissions_far_from_every_deadline_still_draw_whole_counts():
    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    svg = plots.submissions_around_deadlines([now - timedelta(days=20)], {"ontime": now})
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    y_ticks = labels[labels.index("hours from the deadline") + 1:labels.index("submissions per hour")]
    assert y_ticks == ["0", "1"]
