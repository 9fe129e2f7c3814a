"""What every response carries to keep pages from being framed, sniffed or made to run anything but Podium's own
static files; session cookies that are Secure over HTTPS; the client's address and scheme from trusted proxies only.
"""
from __future__ import annotations

import functools

from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, request, session

from podium.errors import PodiumError
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: scripts and styles are files under /static.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Charts (podium/web/plots.py) are SVG styled by attributes alone; opened on their own they load and run nothing.
SVG_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Podium uses no camera, microphone, location or payment; a page that asks anyway was not written by Podium.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"

# The session of a launch framed by a learning platform (podium.web.lti) holds the platform page's origin here: its
# pages may be framed by that origin only, and its cookie must cross sites to reach Podium inside the frame.
FRAME_ORIGIN_KEY = "lti_frame_origin"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # reset links and submission ids stay out of other sites' logs
    "X-Frame-Options": "DENY",         # frame-ancestors 'none' for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def no_store(view):
    """For a view whose response shows a secret (a new API key, a reset link) or whose address is one: no browser
    history, back-forward cache or shared proxy may keep a copy. `secure_headers` sets the header, on error pages
    too."""

    @functools.wraps(view)
    def marked(*args, **kwargs):
        g.podium_no_store = True
        return view(*args, **kwargs)

    return marked


ESCAPING_PATH = ("This address names a file outside its folder (it has a '..' or '.' part, a backslash or a NUL "
                 "character). Podium serves files only by the names it lists; ask for one of those.")


def escapes_its_folder(path: str) -> bool:
    """Whether a request path (as decoded: %2e%2e%2f is ../ here) has a part that could step out of a folder."""
    return "\\" in path or "\x00" in path or any(part in (".", "..") for part in path.split("/"))


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, marked Secure as PODIUM_SECURE_COOKIES says: "auto" (the default) when this
    request came over HTTPS, directly or, with PODIUM_TRUST_PROXY, as the proxy's X-Forwarded-Proto says."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.extensions["podium"].settings.secure_cookies
        if mode == "always":
            return True
        if mode == "never":
            return False
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if framed_by() is not None:
            return "None"  # a cookie inside another site's frame is a cross-site one; framed sessions are HTTPS only
        return super().get_cookie_samesite(app)


def framed_by() -> str | None:
    """The learning platform origin allowed to frame this session's pages, when the session came from a framed
    launch over HTTPS."""
    if not has_request_context() or not request.is_secure:
        return None
    origin = session.get(FRAME_ORIGIN_KEY)
    return origin if isinstance(origin, str) and origin.startswith("https://") else None


def allow_form_target(url: str) -> None:
    """Let this response's one form post to `url`'s origin (a deep-linking answer goes back to the platform)."""
    parts = urlsplit(url)
    g.podium_form_target = f"{parts.scheme}://{parts.netloc}"


def _page_policy() -> str:
    policy = PAGE_POLICY
    if target := g.get("podium_form_target"):
        policy = policy.replace("form-action 'self'", f"form-action 'self' {target}")
    if origin := framed_by():
        policy = policy.replace("frame-ancestors 'none'", f"frame-ancestors {origin}")
    return policy


def init_app(app: Flask) -> None:
    trusted = app.extensions["podium"].settings.trust_proxy
    if trusted:
        # Only then are X-Forwarded-For/-Proto/-Host/-Port believed: otherwise any client could pick the address
        # its sign-in failures are counted under, or claim HTTPS.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_port=trusted)
    app.session_interface = SessionInterface()

    @app.before_request
    def refuse_escaping_paths():
        # Every file route looks files up by a listed name, so none of these could reach a file anyway; refusing
        # them up front keeps it so for routes added later, and says why instead of a bare "not found".
        if escapes_its_folder(request.path):
            raise PodiumError(ESCAPING_PATH, code=400)

    @app.after_request
    def secure_headers(response: Response) -> Response:
        svg = response.mimetype == "image/svg+xml"
        response.headers.setdefault("Content-Security-Policy", SVG_POLICY if svg else _page_policy())
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if framed_by() is not None:
            del response.headers["X-Frame-Options"]  # it cannot name an origin; frame-ancestors does
        if g.get("podium_no_store"):
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            # Served over HTTPS: browsers should never fall back to plain HTTP for this site.
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
