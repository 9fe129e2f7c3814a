"""Leaderboard pages: public during the competition, private after release (staff: both), cutoff rows, the reader's
own row, rank moves after release, leaderboard names only for students, display precision."""
from __future__ import annotations

import re

from podium.models import Competition
from podium.services import competitions
from tests.conftest import predictions
from tests.web.helpers import page, record


def _rows(text: str) -> list[str]:
    body = text[text.index("<tbody>"):text.index("</tbody>")]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S)


def _names(text: str) -> list[str]:
    """The board from top to bottom: leaderboard names, and cutoff marks as 'A cutoff' etc."""
    out = []
    for row in _rows(text):
        mark = re.search(r'class="name"[^>]*>([A-F]) cutoff', row)
        if mark:
            out.append(f"{mark.group(1)} cutoff")
            continue
        name = re.search(r'<td class="num rank">\d+</td>(?:\s*<td class="num">.*?</td>)?\s*<td>([^<]+)', row, flags=re.S)
        if name:
            out.append(name.group(1).strip())
    return out


def test_public_board_ranks_with_cutoff_rows_and_leaderboard_names(as_student, rt, course):
    # Public rows are ids 0..5: 6/6 correct = 1.0 for the student, 4/6 = 0.667 for the other.
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, predictions({0, 1, 2, 3, 6, 7, 8, 9, 10}))
    text = page(as_student.get(f"/competitions/{course.public_id}/leaderboard"))
    # Cutoffs A 0.9, B 0.8, C 0.7, D 0.5: 1.0 is above A; 0.667 between C and D.
    assert _names(text) == ["Overfitter", "A cutoff", "B cutoff", "C cutoff", "Underfitter", "D cutoff"]
    assert "1.00000" in text and "0.66667" in text  # five decimals: the competition's display precision
    assert "Stu Dent" not in text and course.student not in text and course.other not in text


def test_the_signed_in_students_row_is_highlighted(as_other, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, predictions({0, 1, 2}))
    text = page(as_other.get(f"/competitions/{course.public_id}/leaderboard"))
    mine = [r for r in _rows(text) if 'class="me"' in r]
    assert len(mine) == 1 and "Underfitter" in mine[0]
    assert "You are <strong>#2</strong> of 2" in text


def test_students_do_not_see_the_private_board_before_release(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    response = as_student.get(f"/competitions/{course.public_id}/leaderboard?board=private")
    assert response.status_code == 403 and "once the course staff release it" in page(response)
    assert "shown when the course staff release it" in page(as_student.get(f"/competitions/{course.public_id}/leaderboard"))


def test_staff_see_both_boards_any_time_with_emails(as_staff, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    private = page(as_staff.get(f"/competitions/{course.public_id}/leaderboard?board=private"))
    assert "staff view: not released to students" in private
    assert course.student in private and "Overfitter" in private
    assert as_staff.get(f"/competitions/{course.public_id}/leaderboard?board=public").status_code == 200


def test_after_release_the_private_board_is_the_default_and_shows_rank_moves(as_student, rt, course):
    # The student leads the public rows (ids 0..5) but trails on the private ones (6..17).
    record(rt, course.comp_id, course.student, predictions(set(range(6))))
    record(rt, course.comp_id, course.other, predictions(set(range(3, 18))))
    with rt.db.session() as db:
        competitions.release(db, db.get(Competition, course.comp_id), actor=course.staff, override="early, for the test")
    text = page(as_student.get(f"/competitions/{course.public_id}/leaderboard"))
    assert 'aria-current="page">Private' in text
    names = [n for n in _names(text) if "cutoff" not in n]
    assert names == ["Underfitter", "Overfitter"]
    assert "▲1" in text and "▼1" in text


def test_position_cutoffs_fall_after_their_share_of_the_board(as_staff, rt, course):
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        comp.cutoffs = {"A": "top 50%", "B": "top 60%", "C": "top 80%", "D": "top 100%"}
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, predictions({0}))
    text = page(as_staff.get(f"/competitions/{course.public_id}/leaderboard"))
    # Two students: top 50% is rank ceil(0.5 * 2) = 1, top 60% and beyond rank 2.
    assert _names(text) == ["Overfitter", "A cutoff", "Underfitter", "B cutoff", "C cutoff", "D cutoff"]
    assert "A cutoff · top 50%" in text


def test_unknown_board_is_refused(as_student, course):
    assert as_student.get(f"/competitions/{course.public_id}/leaderboard?board=secret").status_code == 400


def test_outsiders_see_no_board(as_outsider, course):
    assert as_outsider.get(f"/competitions/{course.public_id}/leaderboard").status_code == 403


# --- the public board's lines are drawn once per version and kept: what must still change per request -------


def _marked(text: str) -> list[str]:
    return [r for r in _rows(text) if 'class="me"' in r]


def test_each_reader_sees_their_own_row_marked_on_the_same_kept_board(as_student, as_other, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    record(rt, course.comp_id, course.other, predictions({0, 1, 2}))
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    for _ in range(2):  # the second round reads the kept lines
        mine, theirs = page(as_student.get(url)), page(as_other.get(url))
        assert len(_marked(mine)) == 1 and "Overfitter" in _marked(mine)[0] and "(you)" in _marked(mine)[0]
        assert len(_marked(theirs)) == 1 and "Underfitter" in _marked(theirs)[0]
        assert mine.count("(you)") == 1 and theirs.count("(you)") == 1
        assert "You are <strong>#1</strong> of 2" in mine and "You are <strong>#2</strong> of 2" in theirs


def test_the_kept_board_is_drawn_again_when_a_submission_is_scored(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions({0, 1, 2}))
    record(rt, course.comp_id, course.other, predictions({0, 1, 2, 3}))
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    assert [n for n in _names(page(as_student.get(url))) if "cutoff" not in n] == ["Underfitter", "Overfitter"]
    record(rt, course.comp_id, course.student, predictions())
    text = page(as_student.get(url))
    assert [n for n in _names(text) if "cutoff" not in n] == ["Overfitter", "Underfitter"]
    assert "1.00000" in text and "You are <strong>#1</strong>" in text


def test_the_kept_board_is_drawn_again_when_a_leaderboard_name_changes(as_student, as_other, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    assert "Overfitter" in page(as_other.get(url))
    assert as_student.form("/profile/name", {"leaderboard_name": "Gradient Ascent"}).status_code == 302
    text = page(as_other.get(url))
    assert "Gradient Ascent" in _names(text) and "Overfitter" not in text


def test_students_never_get_the_lines_drawn_for_staff(as_staff, as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions())
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    assert course.student in page(as_staff.get(url))  # staff lines, with emails, drawn and kept first
    text = page(as_student.get(url))
    assert "Overfitter" in text and course.student not in text and "/staff/" not in text


def test_names_are_escaped_in_the_kept_lines(as_student, as_other, rt, course):
    assert as_other.form("/profile/name", {"leaderboard_name": "<b>bold</b>"}).status_code == 302
    record(rt, course.comp_id, course.other, predictions())
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    for client in (as_student, as_other):  # a plain line, and a line drawn again as the reader's own
        text = page(client.get(url))
        assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text


def test_the_kept_board_follows_the_course_time_zone_and_the_cutoffs(as_student, rt, course):
    record(rt, course.comp_id, course.student, predictions({0, 1, 2, 3}))  # 0.667
    url = f"/competitions/{course.public_id}/leaderboard?board=public"
    text = page(as_student.get(url))
    assert re.search(r"<time datetime=\"[^\"]+Z\">[^<]+ E[SD]T</time>", text)
    with rt.db.session() as db:
        comp = db.get(Competition, course.comp_id)
        comp.course.timezone = "Asia/Tokyo"
        comp.cutoffs = {"A": 0.6, "B": 0.5, "C": 0.4, "D": 0.3}
    text = page(as_student.get(url))
    assert re.search(r"<time datetime=\"[^\"]+Z\">[^<]+ JST</time>", text)
    assert _names(text) == ["Overfitter", "A cutoff", "B cutoff", "C cutoff", "D cutoff"]
