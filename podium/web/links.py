"""Absolute links that leave the request (a reset link shown to staff): built from PODIUM_BASE_URL, never from the request's
Host or X-Forwarded-Host, which whoever sends the request chooses. A password-reset mail asked for with
`Host: evil.example` would otherwise carry a link that hands the token to evil.example."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app, url_for

from podium.services import mails
from podium.web.context import rt

log = logging.getLogger(__name__)


def external_url(endpoint: str, **values) -> str | None:
    """The absolute address of a page under PODIUM_BASE_URL, or None when it is not configured."""
    base = rt().settings.base_url
    if base is None:
        return None
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def shown_url(endpoint: str, **values) -> str:
    """A link shown on a page for someone to pass on: absolute under PODIUM_BASE_URL, else relative to the site."""
    return external_url(endpoint, **values) or url_for(endpoint, **values)


def absolute_url(endpoint: str, **values) -> str:
    """An absolute address a client must be given (the Kaggle API's upload and file links): under PODIUM_BASE_URL
    when it is configured, else at the address the client itself called, which only misleads that client."""
    return external_url(endpoint, **values) or url_for(endpoint, **values, _external=True)


def links_mailed() -> bool:
    """Whether links can be mailed (podium.services.mails): a mail server and PODIUM_BASE_URL, the only address a
    mailed link may point at, are both configured. Without them nothing is mailed: the forgot page sends people to
    their staff, and staff hand links over."""
    missing = mails.missing_for_links(rt().settings)
    if missing == ["the site's address (PODIUM_BASE_URL)"]:
        log.warning("PODIUM_SMTP_HOST is set but PODIUM_BASE_URL is not: links are not mailed, since a link may "
                    "only point at the configured address; set PODIUM_BASE_URL to the address of this site")
    return not missing
