"""The Hypothesis settings of the fuzz tests.

`make test` runs the "podium-fuzz" profile: a fixed number of examples with a fixed seed (derandomized), so the
suite takes tens of seconds and fails the same way on every run. For a long hunt, run

    PODIUM_FUZZ=long .venv/bin/pytest tests/fuzz -x

which selects "podium-fuzz-long": a hundred times the examples, drawn afresh on each run, and Hypothesis'
example database (.hypothesis/, git-ignored) so that a failure found once is replayed first next time.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("PODIUM_FUZZ", "").lower() == "long"
SCALE = 100 if LONG else 1

settings.register_profile(
    "podium-fuzz",
    deadline=None,  # one example may inflate an archive or compile a solution; time is not the property
    derandomize=True,
    database=None,
    print_blob=True,
    # Examples share module-level competitions and a database on purpose (state carried between loads is part
    # of the property), and the documents are large by design.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)
settings.register_profile("podium-fuzz-long", settings.get_profile("podium-fuzz"), derandomize=False,
                          database=settings.default.database)
PROFILE = settings.get_profile("podium-fuzz-long" if LONG else "podium-fuzz")


def fuzz(examples: int) -> settings:
    """The profile's settings with this test's budget of examples (scaled up by PODIUM_FUZZ=long)."""
    return settings(PROFILE, max_examples=examples * SCALE)
