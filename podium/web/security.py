"""Response headers that keep pages from running anything but Podium's own static files."""
from __future__ import annotations

from flask import Flask, Response

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
# Charts are SVG drawn by matplotlib, which styles with an inline <style>; opened on their own they run nothing.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def init_app(app: Flask) -> None:
    @app.after_request
    def secure_headers(response: Response) -> Response:
        svg = response.mimetype == "image/svg+xml"
        response.headers.setdefault("Content-Security-Policy", SVG_POLICY if svg else PAGE_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
