"""Shared assertions for the scorer tests."""
import math


def assert_close(actual: float, expected: float) -> None:
    """Equal within 1e-9 relative (1e-12 absolute near zero)."""
    assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), (actual, expected)
