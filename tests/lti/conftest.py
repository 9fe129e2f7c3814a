"""The test LMS (tests/lti/platform.py) for the LTI tests: one server for the whole session, reset for each test."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from podium.services import lti
from podium.services.lti_tool import ToolKey
from podium.web import create_app
from tests.lti.platform import TestPlatform


@pytest.fixture(scope="session")
def lti_platform() -> TestPlatform:
    """The platform's server and keys, made once per session."""
    with TestPlatform() as platform:
        yield platform


@pytest.fixture
def platform(lti_platform: TestPlatform) -> TestPlatform:
    """The session's platform with nothing of another test: no contexts, members, links, line items, scores,
    launches, tampering or logged requests, no tool URL, its usual deployments."""
    lti_platform.reset()
    yield lti_platform
    lti_platform.reset()


@pytest.fixture(scope="session")
def tool_key_pem(tmp_path_factory) -> str:
    """One key pair for Podium's side of every test (making one takes a quarter of a second)."""
    return ToolKey.in_folder(tmp_path_factory.mktemp("lti-key")).private_pem


def give_tool_key(data_dir, pem: str) -> None:
    """Put the session's key pair where Podium looks for its LTI key in `data_dir`, before Podium first needs it."""
    folder = data_dir / "lti"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tool-key.pem").write_text(pem)


@contextmanager
def serving_registered(rt, platform: TestPlatform, port: int, tool_key_pem: str, *, trusted: str = "c1.test"):
    """Podium (`rt`, whose PODIUM_BASE_URL is http://127.0.0.1:`port`) served live with the session's key, the test
    platform registered with it (trusted for `trusted`) and pointed at it; the served address."""
    give_tool_key(rt.settings.data_dir, tool_key_pem)
    with rt.db.session() as session:
        lti.add_platform(session, rt.settings, name="Test LMS", issuer=platform.issuer, client_id=platform.client_id,
                         deployment_ids=[platform.deployment_id], login_url=platform.auth_url,
                         token_url=platform.token_url, key_set_url=platform.jwks_url, email_domains=trusted)
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    platform.tool_url = f"http://127.0.0.1:{port}"
    try:
        yield platform.tool_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["podium.scoring"].shutdown(wait=True)
