"""Independently written code and predictions for the integrity tests and the benchmark, from a seeded RNG: the
code from podium.demo.code (which the demo's uploads use too), the predictions here."""
from __future__ import annotations

import numpy as np

from podium.demo.code import NAMES, STARTER, program, renamed, zipped  # noqa: F401  (the tests' names for them)


def labels(seed: int, students: int, rows: int, classes: int = 10) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The truth and each student's independent predictions: their own accuracy, harder rows wrong more often."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, rows)
    hardness = rng.random(rows)
    out = {}
    for student in range(students):
        accuracy = rng.uniform(0.55, 0.9)
        wrong = rng.random(rows) > accuracy * (1.2 - 0.4 * hardness)
        guess = truth.copy()
        guess[wrong] = (truth[wrong] + rng.integers(1, classes, int(wrong.sum()))) % classes
        out[student] = guess
    return truth, out


def copied_with_changes(predictions: np.ndarray, changed: int, seed: int, classes: int = 10) -> np.ndarray:
    """A copy of another student's predictions with `changed` rows set to other labels."""
    rng = np.random.default_rng(seed)
    out = predictions.copy()
    rows = rng.choice(len(out), changed, replace=False)
    out[rows] = (out[rows] + rng.integers(1, classes, changed)) % classes
    return out
