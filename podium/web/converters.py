"""URL converters shared by every blueprint."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

from podium.domain import LARGEST_ID


class IdConverter(IntegerConverter):
    """`<int:n>`: a number beyond what an id column holds names nothing, so the URL does not match (a 404), the same
    on every database, instead of reaching a query that PostgreSQL refuses (its integer is 32-bit)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app) -> None:
    # Before the blueprints: a rule takes its converters from the map when it is added.
    app.url_map.converters["int"] = IdConverter
