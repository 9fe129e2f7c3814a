"""Errors as pages (or as JSON for the site's scripts): the message says what to do about it, in full."""
from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from podium.errors import DatabaseUnavailable, PodiumError
from podium.services.ratelimit import RateLimited
from podium.web.context import rt

CSRF_MESSAGE = ("This form could not be accepted: it was sent without a valid security token (for example from "
                "another site, or after signing out). Reload the page and try again.")


# Routes outside the APIs that answer JSON, and so their errors too (a load balancer's probe asks for anything).
JSON_ENDPOINTS = frozenset({"main.healthz"})


def wants_json() -> bool:
    # The site's scripts ask for JSON; the REST API blueprints answer JSON themselves.
    return (request.accept_mimetypes.best == "application/json"
            or request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or request.path.endswith(".json")
            or request.endpoint in JSON_ENDPOINTS)


def error_response(code: int, message: str, title: str | None = None, headers: dict | None = None):
    if wants_json():
        return jsonify(code=code, message=message), code, headers or {}
    page = render_template("error.html", code=code, message=message, title=title or TITLES.get(code, "Error"))
    return page, code, headers or {}


TITLES = {400: "Not accepted", 403: "Not allowed", 404: "Not found", 409: "Refused", 410: "No longer stored",
          413: "File too large", 422: "Not valid", 429: "Too many attempts", 503: "Try again shortly"}


def init_app(app: Flask) -> None:
    @app.errorhandler(PodiumError)
    def podium_error(exc: PodiumError):
        if isinstance(exc, RateLimited):
            return error_response(exc.code, exc.message, headers={"Retry-After": str(exc.retry_after)})
        if isinstance(exc, DatabaseUnavailable):
            # The page's header names who is signed in; asking the database again would wait on it once more.
            g.setdefault("current_user", None)
        return error_response(exc.code, exc.message, headers=exc.headers)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, CSRF_MESSAGE)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = rt().settings.max_upload_bytes / 1e6
        return error_response(413, f"The file is larger than the {limit:.0f} MB limit; compress it (.csv.gz or .zip) "
                                   "and upload again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.blueprint and request.blueprint.split(".")[0] in ("api", "kaggle"):
            return exc  # the API answers its own way
        if request.path.startswith("/api/"):  # an API URL no rule took (e.g. an id beyond what an id column holds)
            from podium.web import api

            return api.http_error(exc)
        return error_response(exc.code or 500, exc.description or exc.name, exc.name)
