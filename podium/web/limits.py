"""Request limits on the routes that need no sign-in, per client address: the Kaggle upload URL, the sign-in,
forgot and reset pages, the front page and /healthz.

One mechanism for every limit of the site: the database-counted `Limiter` (podium.services.ratelimit), which the
API's per-key limit (`podium.web.auth.limit_api_request`) and the sign-in failures use too, and one refusal,
`RateLimited`: a 429 with `Retry-After` and a message, as JSON from the APIs and /healthz, as a page elsewhere
(podium.web.errors, podium.web.api). Each route is counted in its own scope (PODIUM_PUBLIC_LIMIT each), so that a
load balancer polling /healthz never spends the sign-in page's allowance of a class behind one address.
"""
from __future__ import annotations

import functools
import logging

from flask import current_app, request

from podium.services import ratelimit

log = logging.getLogger(__name__)


def count_request_from_address(route: str, what: str) -> None:
    """Count this request against its client address's allowance for `route` (a short key; `what` is how people
    name the route); `RateLimited` when it is spent.

    A counter that cannot be written (the database is down) lets the request through: the route then fails or
    answers on its own, as it would without a limit, and a broken database must not turn into a wrong refusal."""
    limiter: ratelimit.Limiter = current_app.extensions["podium.limiter"]
    try:
        limiter.count_public_request(route, what, request.remote_addr or "unknown")
    except ratelimit.RateLimited:
        raise
    except Exception:  # noqa: BLE001 - logged; see above
        log.exception("could not count a request to %s; it is served uncounted", route)


def limited_per_address(route: str, what: str):
    """Count every request to the decorated view per client address, before the view runs (and before an upload's
    body is read)."""

    def decorate(view):
        @functools.wraps(view)
        def limited(*args, **kwargs):
            count_request_from_address(route, what)
            return view(*args, **kwargs)

        limited.podium_limited_per_address = route
        return limited

    return decorate
