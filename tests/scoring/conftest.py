"""Fixtures for the scoring tests: small competitions compiled into tmp_path, and uploads written next to them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podium.scoring import SubmissionError, UploadLimits, compile_solution, score_upload
from scorers import ParticipantVisibleError, Scorer


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def _checked_mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if (y_pred < 0).any():
        raise ParticipantVisibleError("Predictions must be non-negative.")
    if (y_pred > 1000).any():
        raise ValueError("the metric cannot handle values above 1000")
    return _mae(y_true, y_pred)


# Test-only scorers with names no built-in takes; passed directly, so the registry is left alone.
ACCURACY = Scorer("test_scoring_accuracy", True, "label", _accuracy)
MAE = Scorer("test_scoring_mae", False, "number", _mae)
CHECKED_MAE = Scorer("test_scoring_checked_mae", False, "number", _checked_mae)
EXACT_TEXT = Scorer("test_scoring_exact_text", True, "text", _accuracy)

# Ten rows: Public 0, 2, 6; Private 1, 3, 5, 7, 9; Ignored 4, 8.
SOLUTION = """id,label,Usage
0,3,Public
1,1,Private
2,2,Public
3,0,Private
4,3,Ignored
5,1,Private
6,2,Public
7,0,Private
8,1,Ignored
9,2,Private
"""
TRUTH = {0: 3, 1: 1, 2: 2, 3: 0, 4: 3, 5: 1, 6: 2, 7: 0, 8: 1, 9: 2}


def upload_text(labels: dict, header: str = "id,label", newline: str = "\n") -> str:
    return newline.join([header, *(f"{i},{v}" for i, v in labels.items())]) + newline


class Competition:
    """A compiled solution plus helpers that write an upload and score it."""

    def __init__(self, folder: Path, solution: str, scorer, id_column: str = "id"):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.scorer = folder, scorer
        self.solution_path = folder / "solution.csv"
        self.solution_path.write_text(solution)
        self.compiled = compile_solution(self.solution_path, id_column, scorer, folder / "compiled")
        self._n = 0

    def write(self, content: str | bytes, name: str = "upload.csv") -> Path:
        self._n += 1
        path = self.folder / f"{self._n}-{name}"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def score(self, content: str | bytes, name: str = "upload.csv", limits: UploadLimits = UploadLimits()):
        return score_upload(self.compiled, self.write(content, name), self.scorer, limits, original_name=name)

    def error(self, content: str | bytes, name: str = "upload.csv",
              limits: UploadLimits = UploadLimits()) -> SubmissionError:
        with pytest.raises(SubmissionError) as caught:
            self.score(content, name, limits)
        assert "Traceback" not in caught.value.message
        return caught.value


@pytest.fixture
def labels(tmp_path) -> Competition:
    """The ten-row classification competition with integer ids and labels."""
    return Competition(tmp_path / "labels", SOLUTION, ACCURACY)


@pytest.fixture
def perfect() -> str:
    return upload_text(TRUTH)
