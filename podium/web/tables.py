"""The staff tables' links: a search, a sort or a page of one table, keeping everything else the address asks for
(the page's filters, the state of another table on the same page). The tables themselves are listings of
podium.services.listing; the macros `search_box`, `sort_th` and `pager` draw them."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for

from podium.services.listing import ListQuery, Listing


def read(listing: Listing) -> ListQuery:
    """The table's query from this request's parameters (defaults for what is missing or wrong)."""
    return ListQuery.read(listing, request.args)


def kept_args(query: ListQuery, leave_out=()) -> list[tuple[str, str]]:
    """The request's parameters that are not this table's (nor in `leave_out`, the fields a form sends itself)."""
    own = set(query.listing.params) | set(leave_out) | set(request.view_args or {})
    return [(name, value) for name, value in request.args.items(multi=True) if name not in own]


def table_url(query: ListQuery, params: dict[str, str]) -> str:
    """This page, with the table's parameters replaced by `params` and every other parameter kept. The query
    string is built here, not by url_for, whose own keywords (endpoint, _external, ...) a parameter could name."""
    pairs = [*kept_args(query), *params.items()]
    path = url_for(request.endpoint, **(request.view_args or {}))
    return f"{path}?{urlencode(pairs)}" if pairs else path


GLOBALS = {"table_url": table_url, "kept_args": kept_args}
