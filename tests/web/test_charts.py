"""Charts: drawn inline in the pages with their numbers as a table, and as SVG files at their own addresses; the
pages' visibility rules; kept until what they show changes."""
from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone

import pytest

from podium.models import Competition, User
from podium.services import competitions, extensions, overview, users
from podium.web import charts, plots
from tests.conftest import predictions
from tests.web.helpers import page, record, same_on_every_request


def right_on(public: int, private: int) -> str:
    """Right on `public` of the 6 public rows and `private` of the 12 private ones."""
    return predictions(set(range(public)) | set(range(6, 6 + private)))


def table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table `table_id`, each cell's text; none where a sentence stands for it."""
    if f'<p id="{table_id}">' in html:
        return []
    body = re.search(rf'<table id="{table_id}"[^>]*>.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in rows]


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, re.S)


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(charts, "cache", charts.SvgCache())


def shown(response) -> str:
    """The page without what differs between any two requests (its forms' tokens are signed with the second)."""
    return same_on_every_request(page(response))


def counted(monkeypatch, module, name: str) -> list[int]:
    """Counts the calls of `module.name` (still called through)."""
    calls: list[int] = []
    original = getattr(module, name)

    @functools.wraps(original)
    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


# --- inline, with their numbers --------------------------------------------------------------------------------


def test_the_leaderboard_draws_its_distribution_inline_with_the_numbers_as_a_table(as_student, rt, course):
    record(rt, course.comp_id, course.student, right_on(6, 12))  # public 1.0
    record(rt, course.comp_id, course.other, right_on(3, 12))  # public 0.5
    html = page(as_student.get(f"/competitions/{course.public_id}/leaderboard"))
    table_id = f"numbers-distribution-public-{course.public_id}"
    [svg] = svgs(html)
    assert f'aria-describedby="{table_id}"' in svg and 'role="img"' in svg and "/charts/" not in html
    rows = table(html, table_id)
    counts = {(float(low), float(high)): int(n) for low, high, n in rows}
    assert sum(counts.values()) == 2
    holding = {score: n for score in (0.5, 1.0) for (low, high), n in counts.items()
               if low <= score < high or (score == high == max(h for _, h in counts))}
    assert holding == {0.5: 1, 1.0: 1}
    assert "Cutoffs: A 0.90000, B 0.80000, C 0.70000, D 0.50000." in html


def test_the_staff_pages_tables_match_submissions_per_hour_and_a_students_scores(as_staff, rt, course, now):
    early = now - timedelta(days=5)  # the world's early deadline
    record(rt, course.comp_id, course.student, right_on(6, 3), at=early - timedelta(minutes=90))  # -2 to -1
    record(rt, course.comp_id, course.student, right_on(3, 9), at=early - timedelta(minutes=30))  # -1 to +0
    record(rt, course.comp_id, course.other, right_on(0, 0), at=early - timedelta(minutes=20))  # -1 to +0
    html = page(as_staff.get("/staff/c1"))
    assert table(html, f"numbers-activity-{course.public_id}") == [
        ["-2 to -1", "1", "0", "0"], ["-1 to +0", "2", "0", "0"]]  # early, on-time, late: far from the others

    with rt.db.session() as db:
        student_id = db.query(User.id).filter(User.email == course.student).scalar()
    html = page(as_staff.get(f"/staff/c1/students/{student_id}"))
    rows = table(html, f"numbers-progress-{student_id}-{course.public_id}")
    assert [row[1:] for row in rows] == [["1.00000", "0.25000"], ["0.50000", "0.75000"]]  # staff see private
    assert all("EST" in row[0] or "EDT" in row[0] for row in rows)  # in the course time zone


def test_every_chart_on_the_staff_competition_page_names_its_table_and_fetches_nothing(as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    html = page(as_staff.get(f"/staff/competitions/{course.public_id}"))
    drawn = svgs(html)
    assert len(drawn) == 3  # the public and private distributions, submissions per hour
    for svg in drawn:
        table_id = re.search(r'aria-describedby="([^"]+)"', svg).group(1)
        assert f'id="{table_id}"' in html
        assert "href=" not in svg and "url(" not in svg and "<style" not in svg and "style=" not in svg


# --- what students see before release ----------------------------------------------------------------------------


def test_before_release_a_students_charts_and_tables_show_no_private_score(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.student, right_on(6, 3))  # public 1.00000, private 0.25000
    mine = page(as_student.get(f"/competitions/{course.public_id}/submissions"))
    board = page(as_student.get(f"/competitions/{course.public_id}/leaderboard"))
    assert "1.00000" in mine and "0.25000" not in mine and ">Private<" not in mine and "private" not in svgs(mine)[0]
    assert "private board" not in svgs(board)[0] and "0.25" not in svgs(board)[0]
    assert as_student.get(f"/competitions/{course.public_id}/leaderboard?board=private").status_code == 403
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        competitions.release(session, comp, actor=course.staff, override="a test")
    mine = page(as_student.get(f"/competitions/{course.public_id}/submissions"))
    assert table(mine, f"numbers-progress-{_id(rt, course.student)}-{course.public_id}")[0][1:] == [
        "1.00000", "0.25000"]
    board = page(as_student.get(f"/competitions/{course.public_id}/leaderboard?board=private"))
    assert "private board" in svgs(board)[0]


def _id(rt, email: str) -> int:
    with rt.db.session() as db:
        return db.query(User.id).filter(User.email == email).scalar()


# --- kept until what they show changes ---------------------------------------------------------------------------


def test_submissions_per_hour_are_read_again_only_when_a_submission_or_a_deadline_changes(
        as_staff, rt, course, now, fresh_cache, monkeypatch):
    reads = counted(monkeypatch, overview, "submission_times")
    draws = counted(monkeypatch, plots, "draw_activity")
    record(rt, course.comp_id, course.student, predictions())
    first = shown(as_staff.get("/staff/c1"))
    assert shown(as_staff.get("/staff/c1")) == first and (len(reads), len(draws)) == (1, 1)  # nothing changed
    record(rt, course.comp_id, course.other, predictions())
    assert shown(as_staff.get("/staff/c1")) != first and (len(reads), len(draws)) == (2, 2)  # a new submission
    with rt.db.session() as session:
        session.get(Competition, course.comp_id).late = now + timedelta(days=8)
    page(as_staff.get("/staff/c1"))
    assert (len(reads), len(draws)) == (3, 3)  # a deadline moved


def test_the_private_distribution_is_drawn_again_when_an_extension_changes_the_board_and_only_then(
        as_staff, rt, course, now, fresh_cache, monkeypatch):
    with rt.db.session() as session:
        comp = session.get(Competition, course.comp_id)
        comp.ontime = now - timedelta(hours=1)  # the late window is open
    record(rt, course.comp_id, course.student, predictions())  # late: not on the private board
    draws = counted(monkeypatch, plots, "draw_distribution")
    url = f"/staff/competitions/{course.public_id}"
    before = table(page(as_staff.get(url)), f"numbers-distribution-private-{course.public_id}")
    page(as_staff.get(url))
    assert len(draws) == 2  # the public board and the private one, each drawn once
    with rt.db.session() as session:
        extensions.grant(session, session.get(Competition, course.comp_id),
                         users.get_user(session, course.student), days=1, reason="ill", actor=course.staff)
    after = table(page(as_staff.get(url)), f"numbers-distribution-private-{course.public_id}")
    assert len(draws) == 3  # the private board changed, the public one did not
    assert sum(int(n) for *_, n in after) == 1 and not before


# --- the charts as files -------------------------------------------------------------------------------------------


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
    assert as_staff.get(f"/charts/{course.public_id}/distribution.svg?board=other").status_code == 404


def test_submissions_per_hour_is_for_staff(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    assert as_student.get(f"/charts/{course.public_id}/activity.svg").status_code == 403
    svg = as_staff.get(f"/charts/{course.public_id}/activity.svg").get_data(as_text=True)
    assert "on-time deadline" in svg and "late deadline" in svg and "early deadline" in svg


def test_score_over_time_is_the_viewers_own_unless_staff(as_student, as_staff, rt, course):
    record(rt, course.comp_id, course.other, predictions())
    other_id = _id(rt, course.other)
    assert as_student.get(f"/charts/{course.public_id}/progress.svg?student={other_id}").status_code == 403
    mine = as_student.get(f"/charts/{course.public_id}/progress.svg").get_data(as_text=True)
    assert "No scored submission yet" in mine
    theirs = as_staff.get(f"/charts/{course.public_id}/progress.svg?student={other_id}").get_data(as_text=True)
    assert ">public<" in theirs and ">private<" in theirs  # staff see private scores at any time


@pytest.mark.parametrize("student", ["2147483648", str(2**64), "nobody"])
def test_a_student_number_no_id_can_hold_is_not_found(as_staff, course, student):
    assert as_staff.get(f"/charts/{course.public_id}/progress.svg?student={student}").status_code == 404


def test_outsiders_get_no_chart(as_outsider, course):
    assert as_outsider.get(f"/charts/{course.public_id}/distribution.svg").status_code == 403


# --- drawing, without a database -----------------------------------------------------------------------------------


def test_bins_are_round_span_the_scores_and_cutoffs_and_count_every_score():
    d = plots.distribution([0.31, 0.5, 0.5, 0.72, 0.9], {"A": 0.95, "D": 0.2}, metric="accuracy", board="public")
    assert d.bins[0].low <= 0.2 and d.bins[-1].high >= 0.95 and d.students == 5
    assert all(b.high > b.low for b in d.bins) and len({round(b.high - b.low, 9) for b in d.bins}) == 1
    assert [b.count for b in d.bins if b.low <= 0.5 < b.high] == [2]
    top = plots.distribution([1.0, 0.0], {}, metric="m", board="public")  # the top score sits on the last edge
    assert top.students == 2 and top.bins[-1].count == 1 and top.bins[-1].high == 1.0
    assert plots.distribution([3.0], {}, metric="m", board="public").students == 1  # one score: still a bin


def test_plots_handle_empty_data_lower_is_better_cutoffs_and_text_that_needs_escaping():
    empty = plots.distribution([], {"A": 1.0}, metric="m", board="public")
    assert "No scored submission yet" in plots.draw_distribution(empty, "label")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    p = plots.progress([(now, 12.0, None), (now + timedelta(hours=5), 9.5, None)], {"A": 10.0, "B": 15.0},
                       {"ontime": now + timedelta(hours=6)}, metric="edit <distance>", tz="America/New_York",
                       private_shown=False)
    svg = plots.draw_progress(p, 'a "label" & more')
    assert "edit &lt;distance&gt;" in svg and ">A<" in svg and "on-time" in svg and "<distance>" not in svg
    assert """aria-label='a "label" &amp; more'""" in svg
    assert "No submission yet" in plots.draw_activity(plots.activity([], {"ontime": now}), "label")


def test_submissions_far_from_every_deadline_still_draw_whole_counts():
    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    a = plots.activity([now - timedelta(days=20), now - timedelta(minutes=1)], {"ontime": now, "early": None})
    assert [p.deadline for p in a.panels] == ["ontime"] and sum(a.panels[0].counts) == 1 and a.busy() == [71]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", plots.draw_activity(a, "label"))
    assert labels[labels.index("submissions per hour") - 2:labels.index("submissions per hour")] == ["0", "1"]


def test_time_ticks_are_round_local_hours_or_days():
    start = datetime(2026, 3, 7, 15, 20, tzinfo=timezone.utc)  # 10:20 in New York
    hours = plots.time_ticks(start, start + timedelta(hours=20), "America/New_York")
    assert [label for _, label in hours] == ["Mar 7 12:00", "15:00", "18:00", "21:00", "Mar 8", "03:00", "06:00"]
    days = plots.time_ticks(start, start + timedelta(days=5), "America/New_York")
    assert [label for _, label in days] == ["Mar 8", "Mar 9", "Mar 10", "Mar 11", "Mar 12"]
    assert days[1][0].utcoffset() != days[0][0].utcoffset()  # local midnights across the daylight saving change
