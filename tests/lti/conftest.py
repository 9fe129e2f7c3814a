"""The test LMS (tests/lti/platform.py) for the LTI tests: one server for the whole session, reset for each test."""
from __future__ import annotations

import pytest

from podium.services.lti_tool import ToolKey
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
