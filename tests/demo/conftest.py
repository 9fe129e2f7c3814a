"""Shared, session-scoped demo artefacts: writing the course and simulating the class take seconds."""
from __future__ import annotations

from pathlib import Path

import pytest

from podium.demo import demo_students, simulate_submissions, write_course

from .common import NOW, SEED


@pytest.fixture(scope="session")
def relative_course(tmp_path_factory) -> Path:
    return write_course(tmp_path_factory.mktemp("relative"), seed=SEED, schedule="relative", now=NOW)


@pytest.fixture(scope="session")
def students():
    return demo_students(SEED)


@pytest.fixture(scope="session")
def simulated(relative_course, students):
    return simulate_submissions(relative_course, students, SEED, NOW)
