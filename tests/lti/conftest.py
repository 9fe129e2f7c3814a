"""The test LMS (tests/lti/platform.py) for the LTI tests: one server for the whole session, reset for each test."""
from __future__ import annotations

import pytest

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
