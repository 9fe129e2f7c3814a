"""Flask extensions, created once here and bound to the app in `init_app`.

CSRF: every form of the site carries a token. The API decides its own exemptions (`podium.web.auth.csrf_exempt`):
requests authenticated with HTTP Basic (scripts and the Kaggle CLI, which no browser sends by itself) need none; an
API call riding on a browser's session cookie carries the token too, in the X-CSRFToken header.
"""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.config.update(
        # The check runs in `check_csrf` below, which knows the API's rule.
        WTF_CSRF_CHECK_DEFAULT=False,
        # Tokens live as long as the session: a submit page opened hours before a deadline must still upload.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)

    @app.before_request
    def check_csrf():
        if not app.config.get("WTF_CSRF_ENABLED", True) or api_exempt():
            return
        csrf.protect()


def api_exempt() -> bool:
    """The API's own rule for which of its requests need no token (`podium.web.auth.csrf_exempt`)."""
    from podium.web.auth import csrf_exempt

    return csrf_exempt()
