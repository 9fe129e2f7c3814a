"""Search, sort and pages for the staff tables: one way for every table, so a course of 400 reads like one of 4.

A table declares a `Listing`: the keys it sorts by, what a search looks through, and its default order. A request's
parameters `q`, `sort`, `dir` and `page` (with the listing's prefix when a page holds two tables) become a
`ListQuery`; anything that does not parse or is not offered falls back to the default, so a hand-edited address
never fails. `sql_page` runs the search, the order and the page in the database and counts the matches there;
`rows_page` does the same for rows Podium had to compute anyway (grades need the whole class), so that only one page
of them is rendered.

Orders are total: every listing ends on a unique key, so a row never appears on two pages or on none. Text sorts
compare lower-cased code points on every database (PostgreSQL's locale would otherwise order "-" and "_" its own
way), and empty values (None, or "" for text) sort last in both directions.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar

from sqlalchemy import String, case, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from podium.models import in_code_point_order

PAGE_SIZE = 50
ASC, DESC = "asc", "desc"
DIRECTIONS = (ASC, DESC)
MAX_SEARCH_CHARACTERS = 200
MAX_SEARCH_WORDS = 8
LARGEST_PAGE = 10**9  # far beyond any table; a longer number is not a page

T = TypeVar("T")


@dataclass(frozen=True)
class Sort:
    """One way to order a table: SQL expressions (for `sql_page`) or a function of a row (for `rows_page`), the
    direction a first click chooses, and whether the key is text (compared case-insensitively)."""

    by: Any  # a column, a tuple of columns, or a function row -> key
    first: str = ASC
    text: bool = False


@dataclass(frozen=True)
class Listing:
    """What a table offers: `sorts` by key (the first is the default unless `default` names another), `search`
    (SQL columns, or a function row -> the text a search looks through), and `unique`, the last key of every
    order (SQL; for rows, their order as given breaks ties)."""

    sorts: Mapping[str, Sort]
    search: Sequence[Any] | Callable[[Any], str] = ()
    unique: Sequence[Any] = ()
    default: str = ""
    prefix: str = ""  # a second table of a page reads `<prefix>q`, `<prefix>sort`, ...
    page_size: int = PAGE_SIZE

    @property
    def default_sort(self) -> str:
        return self.default or next(iter(self.sorts))

    def param(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.param(name) for name in ("q", "sort", "dir", "page"))


@dataclass(frozen=True)
class ListQuery:
    """What a reader asked of a table: the words searched, the order and the page (1 is the first)."""

    listing: Listing = field(repr=False, compare=False)
    q: str = ""
    sort: str = ""
    dir: str = ASC
    page: int = 1

    @classmethod
    def read(cls, listing: Listing, args: Mapping[str, str]) -> ListQuery:
        """From request parameters; each one that is missing, malformed or not offered is the default."""
        sort = str(args.get(listing.param("sort")) or "")
        if sort not in listing.sorts:
            sort = listing.default_sort
        direction = str(args.get(listing.param("dir")) or "")
        if direction not in DIRECTIONS:
            direction = listing.sorts[sort].first
        return cls(listing, q=clean_search(args.get(listing.param("q"))), sort=sort, dir=direction,
                   page=page_number(args.get(listing.param("page"))))

    @classmethod
    def default(cls, listing: Listing) -> ListQuery:
        return cls.read(listing, {})

    @property
    def words(self) -> list[str]:
        return self.q.split()[:MAX_SEARCH_WORDS]

    def params(self, **changes) -> dict[str, str]:
        """The parameters that ask for this query again (with `changes`: q, sort, dir or page), defaults left out,
        under the listing's prefix."""
        values = {"q": self.q, "sort": self.sort, "dir": self.dir, "page": self.page, **changes}
        listing = self.listing
        out = {"q": values["q"]} if values["q"] else {}
        if values["sort"] != listing.default_sort:
            out.update(sort=values["sort"], dir=values["dir"])
        elif values["dir"] != listing.sorts[listing.default_sort].first:
            out["dir"] = values["dir"]
        if int(values["page"]) != 1:
            out["page"] = values["page"]
        return {listing.param(k): str(v) for k, v in out.items()}

    def sorted_by(self, key: str) -> dict[str, str]:
        """The parameters of a click on the header of `key`: the other direction when the table is sorted by it
        already, else the key's first direction; back to the first page either way."""
        if key == self.sort:
            return self.params(dir=DESC if self.dir == ASC else ASC, page=1)
        return self.params(sort=key, dir=self.listing.sorts[key].first, page=1)

    def aria_sort(self, key: str) -> str | None:
        """The header's aria-sort: only the column the table is sorted by has one."""
        if key != self.sort:
            return None
        return "ascending" if self.dir == ASC else "descending"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a table's rows, the number of rows that match, and the query (its page within range)."""

    rows: tuple[T, ...]
    total: int
    query: ListQuery

    @property
    def page(self) -> int:
        return self.query.page

    @property
    def page_size(self) -> int:
        return self.query.listing.page_size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def first(self) -> int:
        """The position of the page's first row among all matches (1-based; 0 when nothing matches)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def nearby(self, width: int = 2) -> list[int | None]:
        """The page numbers a pager shows: the first, the last and `width` on each side of this one; None where
        numbers are left out."""
        shown = sorted({1, self.pages, *range(max(1, self.page - width), min(self.pages, self.page + width) + 1)})
        out: list[int | None] = []
        for number in shown:
            if out and number - out[-1] > 1:
                out.append(None)
            out.append(number)
        return out


def clean_search(value: object) -> str:
    """What a search box sent, as searched: printable characters only (PostgreSQL refuses a NUL in text), spaces
    folded, at most MAX_SEARCH_CHARACTERS."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(value or ""))
    return " ".join(text.split())[:MAX_SEARCH_CHARACTERS].strip()


def page_number(value: object) -> int:
    text = str(value or "").strip()
    if not text.isdigit() or not text.isascii() or len(text) > len(str(LARGEST_PAGE)):
        return 1
    return max(1, min(int(text), LARGEST_PAGE))


def within(query: ListQuery, total: int) -> ListQuery:
    """The query with its page moved to the last one when it asked beyond it."""
    pages = max(1, math.ceil(total / query.listing.page_size))
    return query if query.page <= pages else replace(query, page=pages)


# --- in the database -------------------------------------------------------------------------------------


def sql_page(session: Session, statement: Select, query: ListQuery, *, scalars: bool = True) -> Page:
    """One page of `statement`'s rows, searched and ordered as `query` asks, with the number of matches: two
    queries, whatever the size of the table. `scalars`: rows are the statement's first entity (an ORM object)."""
    statement = search_sql(statement, query)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    query = within(query, total)
    size = query.listing.page_size
    ordered = statement.order_by(*order_sql(query)).offset((query.page - 1) * size).limit(size)
    result = session.scalars(ordered) if scalars else session.execute(ordered)
    return Page(tuple(result.unique().all() if scalars else result.all()), total, query)


def search_sql(statement: Select, query: ListQuery) -> Select:
    """Every word of the search is found, case-insensitively, in one of the listing's columns at least."""
    columns = query.listing.search
    for word in query.words:
        pattern = "%" + escape_like(word.casefold()) + "%"
        statement = statement.where(or_(*(func.lower(cast(column, String)).like(pattern, escape="\\")
                                          for column in columns)))
    return statement


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def order_sql(query: ListQuery) -> list[ColumnElement]:
    sort = query.listing.sorts[query.sort]
    columns = sort.by if isinstance(sort.by, (tuple, list)) else (sort.by,)
    order = []
    for column in columns:
        key = in_code_point_order(func.lower(column)) if sort.text else column
        empty = or_(column.is_(None), column == "") if sort.text else column.is_(None)
        order.append(case((empty, 1), else_=0))  # empty values last, whichever the direction
        order.append(key.desc() if query.dir == DESC else key.asc())
    return [*order, *query.listing.unique]



# --- rows Podium computed ------------------------------------------------------------------------------------


def rows_page(rows: Sequence[T], query: ListQuery) -> Page[T]:
    """`sql_page` for rows already in hand: `search` is a function row -> text, each sort a function row -> key."""
    found = [row for row in rows if matches(query, row)]
    found = ordered_rows(found, query)
    query = within(query, len(found))
    size = query.listing.page_size
    start = (query.page - 1) * size
    return Page(tuple(found[start:start + size]), len(found), query)


def matches(query: ListQuery, row: Any) -> bool:
    words = query.words
    if not words:
        return True
    haystack = query.listing.search(row).casefold()
    return all(word.casefold() in haystack for word in words)


def ordered_rows(rows: list[T], query: ListQuery) -> list[T]:
    """Sorted by the query's key, empty (None) keys last in both directions; ties keep the rows' given order."""
    sort = query.listing.sorts[query.sort]

    def key(row):
        value = sort.by(row)
        return value.casefold() if sort.text and isinstance(value, str) else value

    keyed = [(key(row), row) for row in rows]
    present = [pair for pair in keyed if pair[0] is not None]
    # Stable sorts, so reversing the key (not the list) keeps ties in their given order.
    present.sort(key=lambda pair: pair[0], reverse=query.dir == DESC)
    return [row for _, row in present] + [row for value, row in keyed if value is None]
