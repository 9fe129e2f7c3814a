"""Request bodies arrive before the database is touched.

A student on a slow link may take a minute to send an upload. Were the request's transaction open meanwhile (the
sign-in cookie or API key is read from the database first), SQLite's one write lock, or a PostgreSQL connection of
the pool, would be held for that minute and every other request would wait on it. So every request that carries a
body has it read whole before anything else runs: forms and multipart uploads are parsed by Werkzeug (files beyond
a few hundred kilobytes spooled to temporary files, never held in memory), other bodies are read, up to the site's
MAX_CONTENT_LENGTH. Only then do the checks and the view work on the database, briefly.

The one exception is the Kaggle client's raw upload (a PUT of up to the upload limit), which its view streams
straight to disk with no transaction open while it arrives (`services.upload_tickets.store_upload`).
"""
from __future__ import annotations

from flask import Flask, request

from podium.errors import StorageUnavailable
from podium.web.context import SAFE_METHODS

STREAMED_BY_THEIR_VIEW = frozenset({"kaggle.upload"})
FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def read_body_first() -> None:
    if request.method in SAFE_METHODS or request.endpoint in STREAMED_BY_THEIR_VIEW:
        return
    try:
        if request.mimetype in FORMS:
            request.form  # noqa: B018 - parsing reads the body: the fields, and the files into spooled temporary files
        else:
            request.get_data(cache=True)
    except OSError as exc:  # the temporary folder cannot take the spooled file (full, gone)
        raise StorageUnavailable(f"the request's body could not be spooled to a temporary file: {exc}") from exc


def init_app(app: Flask) -> None:
    """Registered before every other hook (CSRF, authentication, rate limits), which may read the database."""
    app.before_request(read_body_first)
