import pytest

import scorers
import scorers.builtin  # noqa: F401  (the built-ins must be in the registry before it is copied)


@pytest.fixture
def isolated_registry(monkeypatch):
    """A copy of the registry that a test may change; the real one is restored afterwards."""
    registry = dict(scorers._registry)
    monkeypatch.setattr(scorers, "_registry", registry)
    monkeypatch.setattr(scorers, "_plugins_loaded", scorers._plugins_loaded)
    return registry
