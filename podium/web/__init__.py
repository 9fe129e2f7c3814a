"""The web app: an application factory that reads as a list of registrations."""
from __future__ import annotations

from flask import Flask, g

from podium.jobs import ScoringPool
from podium.runtime import Runtime, make_runtime


def create_app(runtime: Runtime | None = None, **overrides) -> Flask:
    app = Flask(__name__)
    runtime = runtime or make_runtime(**overrides)
    app.config.update(SECRET_KEY=runtime.settings.secret_key, MAX_CONTENT_LENGTH=runtime.settings.max_upload_bytes + 1_000_000)
    app.extensions["podium"] = runtime
    app.extensions["podium.scoring"] = ScoringPool(runtime)
    register_session(app)
    register_blueprints(app)
    register_template_helpers(app)
    return app


def register_session(app: Flask) -> None:
    """One database session per request, opened when first used and closed at the end."""

    @app.teardown_appcontext
    def close_session(exc):
        session = g.pop("db_session", None)
        if session is not None:
            if exc is None:
                session.commit()
            else:
                session.rollback()
            session.close()


def register_blueprints(app: Flask) -> None:
    from podium.web import main

    app.register_blueprint(main.bp)
    register_api_blueprints(app)


def register_api_blueprints(app: Flask) -> None:
    """The REST API (/api/) and the Kaggle-compatible API (/api/v1/): JSON only, HTTP Basic or the session."""
    from podium.web import api, kaggle

    app.register_blueprint(api.bp)
    app.register_blueprint(kaggle.bp)


def register_template_helpers(app: Flask) -> None:
    from podium.web import formatting

    app.jinja_env.filters.update(formatting.FILTERS)
