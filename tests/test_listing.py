"""The staff tables' search, sort and pages (podium.services.listing) on rows in hand, and the error that names a
field (podium.errors.FieldError), worded by each adapter its own way. No database: the SQL side is tested through
the pages (tests/web/test_staff_tables.py) on both databases."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from podium.errors import FieldError
from podium.services.listing import (ASC, DESC, ListQuery, Listing, Sort, clean_search, page_number, rows_page)


@dataclass(frozen=True)
class Row:
    email: str
    score: float | None


ROWS = [Row(f"s{i:03d}@x.test", None if i % 10 == 0 else float(i % 7)) for i in range(120)]
LISTING = Listing(sorts={"email": Sort(lambda r: r.email, text=True), "score": Sort(lambda r: r.score, first=DESC)},
                  search=lambda r: r.email, page_size=50)


def query(**args) -> ListQuery:
    return ListQuery.read(LISTING, {k: str(v) for k, v in args.items()})


def test_a_page_of_fifty_with_the_count_of_all():
    found = rows_page(ROWS, query(page=2))
    assert [r.email for r in found.rows] == [r.email for r in ROWS[50:100]]
    assert (found.total, found.pages, found.first, found.last) == (120, 3, 51, 100)
    assert found.nearby() == [1, 2, 3]


def test_empty_values_sort_last_both_ways_and_ties_keep_their_order():
    up = rows_page(ROWS, query(sort="score", dir=ASC, page=3)).rows
    down = rows_page(ROWS, query(sort="score", page=3)).rows
    assert [r.score for r in up][-12:] == [None] * 12 and [r.score for r in down][-12:] == [None] * 12
    first = rows_page(ROWS, query(sort="score")).rows
    sixes = [r.email for r in first if r.score == 6.0]
    assert sixes == sorted(sixes)  # equal keys stay in the rows' order, whichever the direction


@pytest.mark.parametrize("args, expected", [
    ({}, ("", "email", ASC, 1)),
    ({"sort": "score"}, ("", "score", DESC, 1)),  # a key's own first direction
    ({"sort": "nope", "dir": "sideways", "page": "x"}, ("", "email", ASC, 1)),
    ({"page": "-2"}, ("", "email", ASC, 1)),
    ({"page": "٣"}, ("", "email", ASC, 1)),  # a digit, but not an ASCII one
    ({"page": "9" * 40}, ("", "email", ASC, 1)),
    ({"q": "  a\x00b\n  c ", "dir": "desc"}, ("a b c", "email", DESC, 1)),
])
def test_wrong_parameters_are_the_defaults(args, expected):
    q = query(**args)
    assert (q.q, q.sort, q.dir, q.page) == expected


def test_a_page_beyond_the_last_is_the_last():
    assert rows_page(ROWS, query(page=99)).page == 3
    assert rows_page([], query(page=5)).page == 1 and rows_page([], query()).first == 0


def test_links_leave_defaults_out_and_flip_the_sorted_column():
    q = query(sort="score", dir=DESC, page=2, q="s01")
    assert q.params() == {"q": "s01", "sort": "score", "dir": "desc", "page": "2"}
    assert q.params(page=1, q="") == {"sort": "score", "dir": "desc"}
    assert q.sorted_by("score") == {"q": "s01", "sort": "score", "dir": "asc"}
    assert q.sorted_by("email") == {"q": "s01"}
    assert (q.aria_sort("score"), q.aria_sort("email")) == ("descending", None)
    second = Listing(sorts=LISTING.sorts, search=LISTING.search, prefix="ledger_")
    assert ListQuery.read(second, {"ledger_page": "2", "page": "5"}).params() == {"ledger_page": "2"}


def test_search_finds_every_word_anywhere():
    assert [r.email for r in rows_page(ROWS, query(q="S01 .TEST")).rows] == [f"s01{i}@x.test" for i in range(10)]
    assert rows_page(ROWS, query(q="s01 nothing")).total == 0


def test_clean_search_and_page_numbers():
    assert clean_search("x" * 300) == "x" * 200
    assert clean_search(None) == "" and page_number(None) == 1 and page_number(" 7 ") == 7


# --- FieldError ----------------------------------------------------------------------------------------------


def test_a_field_error_is_worded_by_each_adapter():
    exc = FieldError("days", "{days} must be more than 0, not {given:g}", given=-1.5)
    assert exc.message == "days must be more than 0, not -1.5"  # no adapter: the field's own name
    assert exc.worded({"days": "--days"}) == "--days must be more than 0, not -1.5"
    assert exc.worded({"days": "the number of days"}) == "the number of days must be more than 0, not -1.5"
    assert exc.field == "days" and exc.code == 422


def test_values_are_never_read_as_templates():
    exc = FieldError("email", "{email}: {message}", message="{days} {0} {__class__}")
    assert exc.worded({"email": "Email"}) == "Email: {days} {0} {__class__}"
