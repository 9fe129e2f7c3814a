"""The web app: an application factory that reads as a list of registrations."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, g

from podium.jobs import ScoringPool
from podium.runtime import Runtime, make_runtime


def create_app(runtime: Runtime | None = None, **overrides) -> Flask:
    app = Flask(__name__)
    runtime = runtime or make_runtime(**overrides)
    app.config.update(SECRET_KEY=runtime.settings.secret_key, MAX_CONTENT_LENGTH=runtime.settings.max_upload_bytes + 1_000_000)
    app.extensions["podium"] = runtime
    app.extensions["podium.scoring"] = ScoringPool(runtime)
    register_config(app)
    register_body_first(app)
    register_session(app)
    register_extensions(app)
    register_rate_limits(app)
    register_security_headers(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errors(app)
    register_template_helpers(app)
    return app


def register_config(app: Flask) -> None:
    settings = app.extensions["podium"].settings
    app.config.update(
        # The cookie's own lifetime; podium.services.accounts.session_is_current also ends a session before that.
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings.session_max_days),
        SESSION_COOKIE_HTTPONLY=True,
        # Lax keeps the session cookie off cross-site POSTs, a second wall behind the CSRF tokens.
        SESSION_COOKIE_SAMESITE="Lax",
    )
    # Whether the cookie is Secure follows PODIUM_SECURE_COOKIES (podium.web.security); FLASK_SESSION_COOKIE_SECURE
    # and other FLASK_ settings still apply.
    app.config.from_prefixed_env()


def register_body_first(app: Flask) -> None:
    from podium.web import bodies

    bodies.init_app(app)


def register_session(app: Flask) -> None:
    """One database session per request, opened when first used and closed at the end."""

    @app.teardown_appcontext
    def close_session(exc):
        session = g.pop("db_session", None)
        if session is not None:
            # Not active: a statement failed and its error was answered (a 503 for a database that could not take
            # the write); committing would only fail again, after the answer.
            if exc is None and session.is_active:
                session.commit()
            else:
                session.rollback()
            session.close()


def register_extensions(app: Flask) -> None:
    from podium.web import extensions

    extensions.init_app(app)


def register_rate_limits(app: Flask) -> None:
    """Sign-in and API limits, counted in the database so that every server process shares them."""
    from podium.services.ratelimit import Limiter

    runtime = app.extensions["podium"]
    app.extensions["podium.limiter"] = Limiter(runtime.db, runtime.settings.rate_limits)


def register_security_headers(app: Flask) -> None:
    from podium.web import security

    security.init_app(app)


def register_url_converters(app: Flask) -> None:
    from podium.web import converters

    converters.init_app(app)


def register_blueprints(app: Flask) -> None:
    from podium.web import accounts, charts, integrity, invitations, leaderboards, lti, main, sign_on, staff, student

    for module in (main, accounts, sign_on, student, leaderboards, staff, integrity, invitations, charts, lti):
        app.register_blueprint(module.bp)
    register_api_blueprints(app)
    sign_on.init_app(app)


def register_api_blueprints(app: Flask) -> None:
    """The REST API (/api/) and the Kaggle-compatible API (/api/v1/): JSON only, HTTP Basic or the session."""
    from podium.web import api, auth, kaggle

    app.register_blueprint(api.bp)
    app.register_blueprint(kaggle.bp)
    app.before_request(auth.limit_api_request)


def register_errors(app: Flask) -> None:
    from podium.web import errors

    errors.init_app(app)


def register_template_helpers(app: Flask) -> None:
    from podium.web import formatting, tables

    app.jinja_env.filters.update(formatting.FILTERS)
    app.jinja_env.globals.update(formatting.GLOBALS)
    app.jinja_env.globals.update(tables.GLOBALS)
