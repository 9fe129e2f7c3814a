"""The staff tables of a course of 400 students (tests/web/big_course.py): People, Grades, Slack, Submissions, the
Audit log and the overview's early-deadline list are searched, sorted and paged by the query parameters q, sort, dir
and page; a wrong parameter falls back to its default, never to an error."""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.web.big_course import STUDENTS, email, name
from tests.web.helpers import page

PEOPLE = STUDENTS + 2  # and the TA and the instructor


def rows_of(text: str, table: str = "") -> list[str]:
    """The body rows of the page's first table (of class `table`), as their text."""
    start = text.index(f'<table class="{table}"' if table else "<table")
    body = text[text.index("<tbody>", start):text.index("</tbody>", start)]
    return [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def count(text: str) -> str:
    return unescape(re.search(r'<span class="count">(.*?)</span>', text, re.S).group(1)).strip()


def emails_in(rows: list[str]) -> list[str]:
    return [re.search(r"\S+@big\.test", row).group(0) for row in rows]


# --- People ------------------------------------------------------------------------------------------------


def test_people_are_paged_by_fifty_staff_first(big_staff):
    text = page(big_staff.get("/staff/big/people"))
    rows = rows_of(text, "people")
    assert len(rows) == 50 and count(text) == f"1–50 of {PEOPLE} people"
    assert emails_in(rows)[:3] == ["prof@big.test", "ta@big.test", email(0)]
    assert 'aria-sort="ascending"' in text and 'href="/staff/big/people?page=2"' in text
    last = page(big_staff.get("/staff/big/people?page=9"))
    assert emails_in(rows_of(last, "people")) == [email(398), email(399)]
    assert count(last) == f"401–402 of {PEOPLE} people"


def test_people_sort_by_name_both_ways_in_the_database_order_of_every_database(big_staff):
    up = emails_in(rows_of(page(big_staff.get("/staff/big/people?sort=name&dir=asc")), "people"))
    by_name = sorted(range(STUDENTS), key=name)
    assert up[:2] == ["ta@big.test", "prof@big.test"]  # "Course Assistant", "Course Instructor"
    assert up[2:] == [email(i) for i in by_name[:48]]
    down = page(big_staff.get("/staff/big/people?sort=name&dir=desc&page=2"))
    assert emails_in(rows_of(down, "people")) == [email(i) for i in list(reversed(by_name))[50:100]]
    header = re.search(r'<th[^>]*aria-sort="descending"[^>]*>(.*?)</th>', down, re.S).group(1)
    assert ">Name<" in header
    # The pager and the headers keep the order and the search; a header asks for its other direction.
    assert 'href="/staff/big/people?sort=name&amp;dir=desc&amp;page=3"' in down
    assert 'href="/staff/big/people?sort=name&amp;dir=asc"' in down


def test_people_search_finds_one_among_400_by_email_name_or_words(big_staff):
    text = page(big_staff.get("/staff/big/people?q=STUDENT123"))
    assert emails_in(rows_of(text, "people")) == [email(123)] and count(text) == "1–1 of 1 people"
    by_name = page(big_staff.get(f"/staff/big/people?q={name(7).replace(' ', '+')}"))
    assert email(7) in emails_in(rows_of(by_name, "people"))
    nobody = page(big_staff.get("/staff/big/people?q=nobody+at+all"))
    assert "Nobody matches." in nobody and count(nobody) == "No people match “nobody at all”"
    staff_only = page(big_staff.get("/staff/big/people?role=staff"))
    assert emails_in(rows_of(staff_only, "people")) == ["ta@big.test"]


def test_a_search_with_like_wildcards_matches_them_literally(big_staff):
    assert "Nobody matches." in page(big_staff.get("/staff/big/people?q=%25"))
    assert "Nobody matches." in page(big_staff.get("/staff/big/people?q=student_0"))
    assert len(rows_of(page(big_staff.get("/staff/big/people?q=student0")), "people")) == 50


@pytest.mark.parametrize("query", [
    "sort=password%27--&dir=sideways&page=abc", "page=-3", "page=0", "page=1e3", "page=٣", "page=99999999999999999999",
    "q=%00%01", "q=" + "x" * 5000, "sort=&dir=&q=&page=", "dir=desc&dir=asc&page=2&page=3", "sort[]=name",
    "_external=1&slug=other&endpoint=x",
])
def test_wrong_parameters_fall_back_to_the_defaults(big_staff, query):
    response = big_staff.get(f"/staff/big/people?{query}")
    assert response.status_code == 200
    assert len(rows_of(page(response), "people")) in (1, 2, 50)  # 1: "Nobody matches."


def test_a_page_beyond_the_last_shows_the_last(big_staff):
    text = page(big_staff.get("/staff/big/people?page=40"))
    assert count(text) == f"401–402 of {PEOPLE} people"


# --- Submissions, Audit log, Slack -------------------------------------------------------------------------


def test_submissions_are_paged_sorted_and_searched_in_the_database(big_staff):
    text = page(big_staff.get("/staff/big/submissions"))
    assert len(rows_of(text, "submissions")) == 50 and count(text) == "1–50 of 510 submissions"
    low = rows_of(page(big_staff.get("/staff/big/submissions?sort=public&dir=asc&competition=big-hw0")),
                  "submissions")
    assert all("0.00000 0.00000" in row for row in low[:10])  # i % 11 == 0: the lowest scores first
    found = page(big_staff.get("/staff/big/submissions?q=student007&competition=big-hw1"))
    assert emails_in(rows_of(found, "submissions")) == [email(7)]


def test_the_window_filter_reads_each_students_extension(big_staff):
    # Students 0..9 uploaded to hw0 three days after its on-time deadline; student 1's extension of 5 days makes
    # theirs on time.
    after = page(big_staff.get("/staff/big/submissions?competition=big-hw0&window=after"))
    assert sorted(emails_in(rows_of(after, "submissions"))) == [email(i) for i in range(10) if i != 1]
    on_time = page(big_staff.get(f"/staff/big/submissions?competition=big-hw0&window=on_time&q={email(1)}"))
    assert emails_in(rows_of(on_time, "submissions")) == [email(1), email(1)]
    assert count(page(big_staff.get("/staff/big/submissions?window=practice"))) == "No submissions"


def test_the_csv_download_holds_every_match_in_the_tables_order(big_staff):
    csv_text = big_staff.get("/staff/big/submissions.csv?competition=big-hw1&sort=student&dir=desc").get_data(
        as_text=True)
    lines = csv_text.strip().splitlines()[1:]
    assert len(lines) == 200 and lines[0].split(",")[2] == email(199)


def test_the_audit_log_is_searched_sorted_and_paged(big_staff):
    text = page(big_staff.get("/staff/big/audit"))
    assert len(rows_of(text, "audit")) == 50 and count(text).startswith("1–50 of ")
    enrolled = page(big_staff.get(f"/staff/big/audit?q={email(250)}"))
    assert [r for r in rows_of(enrolled, "audit")] and all(email(250) in r for r in rows_of(enrolled, "audit"))
    by_details = page(big_staff.get("/staff/big/audit?q=autolab-part-42"))
    assert len(rows_of(by_details, "audit")) == 1 and "slack.record" in rows_of(by_details, "audit")[0]
    ordered = rows_of(page(big_staff.get("/staff/big/audit?sort=action&dir=asc&action=user")), "audit")
    assert all("user.enrol" in row for row in ordered)


def test_slack_balances_and_ledger_page_on_their_own(big_staff):
    text = page(big_staff.get("/staff/big/slack?ledger_page=2&page=3"))
    balances = text[text.index('id="balances"'):text.index('id="record"')]
    ledger = text[text.index('id="ledger"'):]
    assert count(balances) == "101–150 of 400 students" and count(ledger) == "51–60 of 60 entries"
    # A link of one table keeps the other's page.
    assert 'href="/staff/big/slack?page=3&amp;ledger_page=1"' not in text
    assert 'href="/staff/big/slack?ledger_page=2&amp;page=4"' in text
    fewest = rows_of(page(big_staff.get("/staff/big/slack?sort=remaining&dir=asc")))
    assert all(row.endswith("6 0 6") for row in fewest)  # 50 of the 60 with a day spent elsewhere come first
    searched = page(big_staff.get("/staff/big/slack?ledger_q=autolab-part-7"))
    assert count(searched[searched.index('id="ledger"'):]) == "1–1 of 1 entries"


# --- Grades --------------------------------------------------------------------------------------------------


def test_grades_page_fifty_students_of_the_whole_class(big_staff):
    text = page(big_staff.get("/staff/big/grades"))
    assert count(text) == "1–50 of 400 students" and len(rows_of(text, "gradebook")) == 50
    best = rows_of(page(big_staff.get("/staff/big/grades?sort=total")), "gradebook")
    # 1.0 on both (i % 11 == 10 on hw0 and (i + 3) % 11 == 10 on hw1 cannot both hold): the best totals first.
    totals = [float(re.search(r"([\d.]+)% [\d.]+ pts", row).group(1)) for row in best]
    assert totals == sorted(totals, reverse=True) and totals[0] > 50


def test_grades_tell_not_yet_from_a_real_zero(big_staff):
    def cells(student: int) -> list[str]:
        text = page(big_staff.get(f"/staff/big/grades?q={email(student)}"))
        row = text[text.index(f">{email(student)}<"):]
        row = row[:row.index("</tr>")]
        return re.findall(r'<td class="num ([^"]*)"[^>]*>(.*?)</td>', row, re.S)

    def shown(student: int) -> list[str]:
        return [re.sub(r"<[^>]+>", "", value).strip() for _, value in cells(student)[:4]]

    assert shown(0) == ["0.0", "0.0", "0.0", "0.0"]  # counted submissions worth 0 (scores under every cutoff)
    assert shown(10) == ["105.0", "105.0", "0.0", "0.0"]  # the best on hw0; (10 + 3) % 11 = 2 on hw1
    assert shown(253) == ["0.0", "0.0", "not yet", "not yet"]  # hw1 still open, nothing uploaded there yet
    assert shown(350) == ["0.0", "0.0", "not yet", "not yet"]  # hw0 closed with nothing counted: a real 0
    assert "zero" in cells(350)[0][0] and "zero" not in cells(0)[0][0]
    assert shown(399) == ["not yet"] * 4  # a 30-day extension keeps hw0 open for them


def test_grades_show_a_weighted_percentage_with_its_formula(big_staff):
    text = page(big_staff.get(f"/staff/big/grades?q={email(10)}"))
    assert "(1×hw0 + 1×hw1) / (2 × 100)" in text
    assert 'title="52.5% = (1×105.0 + 1×0.0) / (2 × 100)"' in text
    assert ">52.5%<" in text and "105.0 pts" in text
    not_yet = page(big_staff.get(f"/staff/big/grades?q={email(253)}"))
    assert "0.0% = (1×0.0 + 1×0 (not yet)) / (2 × 100)" in not_yet


@pytest.mark.parametrize("query", ["sort=c-hw9", "sort=c-hw0&dir=up", "page=zz", "q=%00"])
def test_grades_ignore_what_they_do_not_offer(big_staff, query):
    assert big_staff.get(f"/staff/big/grades?{query}").status_code == 200


def test_grades_sort_by_one_competition_puts_not_yet_last(big_staff):
    rows = rows_of(page(big_staff.get("/staff/big/grades?sort=c-hw0&dir=asc&page=8")), "gradebook")
    assert "not yet" in rows[-1] and email(399) in rows[-1]


# --- the overview and the students behind its counts --------------------------------------------------------


def test_the_overview_counts_and_names_nobody(big_staff):
    text = page(big_staff.get("/staff/big"))
    assert "200 missed it" in text and "400 missed it" in text
    assert 'href="/staff/competitions/big-hw0/missed-early"' in text
    shown = re.sub(r"<textarea.*?</textarea>", "", text, flags=re.S)
    assert name(300) not in shown and email(300) not in shown  # no list of names on the overview
    box = re.search(r'<textarea id="early-emails-\d+"[^>]*>(.*?)</textarea>', text, re.S).group(1)
    assert box.split(", ")[:2] == [email(0), email(3)] and len(box.split(", ")) == 200
    assert 'data-copy="early-emails-' in text and ">Copy their emails<" in text


def test_the_students_behind_the_count_with_their_emails_to_copy(big_staff):
    text = page(big_staff.get("/staff/competitions/big-hw0/missed-early"))
    assert count(text) == "1–50 of 200 students"
    emails = re.search(r'<textarea id="missed-emails"[^>]*>(.*?)</textarea>', text, re.S).group(1).split(", ")
    missed = [i for i in range(STUDENTS) if (i < 300 and i % 3 == 0) or i >= 300]
    assert emails == [email(i) for i in missed]
    assert "none yet" in page(big_staff.get(f"/staff/competitions/big-hw0/missed-early?q={email(350)}"))
    late = page(big_staff.get(f"/staff/competitions/big-hw0/missed-early?q={email(3)}"))
    assert len(rows_of(late)) == 1 and "none yet" not in late  # their first scored upload came after it


def test_a_students_page_reads_their_grades_as_the_table_does(big_staff, big):
    text = page(big_staff.get(f"/staff/big/students/{big.user_ids[253]}"))
    assert '<span class="not-yet">not yet</span>' in text
    assert "Total 0.0% = (1×0.0 + 1×0 (not yet)) / (2 × 100)" in text
    best = page(big_staff.get(f"/staff/big/students/{big.user_ids[10]}"))
    assert ">52.5%<" in best and "Total 52.5% = (1×105.0 + 1×0.0) / (2 × 100)" in best


def test_people_without_a_name_sort_last_both_ways(big_staff, rt):
    from podium.services import courses, users

    with rt.db.session() as session:
        users.add_user(session, "aaa-nameless@big.test", courses.get_course(session, "big"), "student")
    for direction in ("asc", "desc"):
        last = emails_in(rows_of(page(big_staff.get(f"/staff/big/people?sort=name&dir={direction}&page=9")),
                                 "people"))
        assert last[-1] == "aaa-nameless@big.test", direction


def test_a_competition_without_grades_shows_why_instead_of_a_number(big_staff, big, monkeypatch):
    from functools import partial

    from podium.services import grade_tables

    why = "the cutoffs resolve out of order (B above A); fix them on the settings page"
    monkeypatch.setattr(grade_tables, "gradebook", partial(grade_tables.gradebook, unavailable={big.open_id: why}))
    text = page(big_staff.get(f"/staff/big/grades?q={email(10)}"))
    assert text.count(f'<td class="num unavailable" title="{why}">n/a</td>') == 2
    assert f"<strong>hw1</strong>: {why}" in text
    # Left out of the total and of the weights: the total is over the graded competitions (POLICY.md section 11).
    assert 'title="105.0% = (1×105.0) / (1 × 100)"' in text
