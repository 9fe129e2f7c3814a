"""Scoring an upload: read it, align it to the solution, run the metric on the Public and the Private rows."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from podium.scoring.errors import SolutionError, SubmissionError
from podium.scoring.keys import align_exactly, id_mismatches
from podium.scoring.solution import CompiledSolution, column_array, stack
from podium.scoring.text import plural
from podium.scoring.upload import Upload, UploadLimits, read_upload
from scorers import FrameScorer, ScorerError
from scorers.kaggle import is_participant_visible, run_frame_scorer

SPLITS = ("Public", "Private")


@dataclass(frozen=True)
class ScoreResult:
    public: float
    private: float
    rows: int
    seconds: float


def _failed(detail: str) -> SubmissionError:
    return SubmissionError(f"The competition's metric failed on this file: {detail}", code="metric_failed")


def _run_metric(compute, scorer, usage: str) -> float:
    """Run a metric, turning every failure into a message: the metric's own words when they are meant for the
    student, the exception's type and text otherwise, never a traceback."""
    try:
        value = float(compute())
    except Exception as exc:
        if is_participant_visible(exc):
            raise SubmissionError(str(exc), code="metric_refused") from None
        if isinstance(exc, ScorerError):
            cause = exc.__cause__
            if isinstance(scorer, FrameScorer):  # run_frame_scorer wraps what the metric.py raised
                raise _failed(f"{type(cause).__name__}: {cause}" if cause else str(exc)) from None
            raise SolutionError(f"the metric `{scorer.name}` cannot score the {usage} rows: {exc}",
                                key="metric") from None
        raise _failed(f"{type(exc).__name__}: {exc}") from None
    if not math.isfinite(value):
        raise _failed(f"it gave {value} on the {usage} rows instead of a number.")
    return value


def _align(compiled: CompiledSolution, upload: Upload) -> np.ndarray:
    ids = upload.table[compiled.id_column]
    perm = compiled.index.align(ids)
    if perm is None:
        problems = id_mismatches(ids, compiled.ids, upload.line_of)
        if not problems:  # the ids do match; only a tie of 64-bit hashes kept the fast path from proving it
            return align_exactly(ids, compiled.ids)
        lead = (f"The file has {plural(upload.rows, 'row')} for the competition's {compiled.n_rows:,} ids. "
                if upload.rows != compiled.n_rows else "")
        raise SubmissionError(lead + " ".join(s for _, s in problems), code=problems[0][0])
    return perm


def score_upload(compiled: CompiledSolution, upload_path: Path, scorer, limits: UploadLimits = UploadLimits(),
                 original_name: str | None = None) -> ScoreResult:
    """Score one uploaded file; SubmissionError (with a message for the student) for anything they must fix.

    Ignored rows must be present, like every solution id, but count for nothing. SolutionError(key="metric") when
    the metric does not fit the compiled solution (another target type; a built-in's ScorerError).
    """
    started = time.perf_counter()
    upload = read_upload(compiled, upload_path, scorer, limits, original_name)
    perm = _align(compiled, upload)
    if isinstance(scorer, FrameScorer):
        scores = _score_frames(compiled, upload, perm, scorer)
    else:
        predictions = [column_array(upload.table[name]) for name in compiled.target_columns]
        scores = []
        for usage in SPLITS:
            rows = perm[compiled.rows(usage)]
            y_true, y_pred = compiled.truth(usage), stack([column[rows] for column in predictions])
            scores.append(_run_metric(lambda: scorer(y_true, y_pred), scorer, usage))
    return ScoreResult(scores[0], scores[1], upload.rows, time.perf_counter() - started)


def private_predictions(compiled: CompiledSolution, upload_path: Path, scorer,
                        limits: UploadLimits = UploadLimits(), original_name: str | None = None) -> np.ndarray:
    """An upload's answers on the Private rows, aligned row for row to `compiled.truth("Private")`: shape (n,) or
    (n, k), read and checked as scoring reads them (the integrity report compares students' answers)."""
    upload = read_upload(compiled, upload_path, scorer, limits, original_name)
    rows = _align(compiled, upload)[compiled.rows("Private")]
    return stack([column_array(upload.table[name])[rows] for name in compiled.target_columns])


def _score_frames(compiled: CompiledSolution, upload: Upload, perm: np.ndarray, scorer: FrameScorer) -> list[float]:
    """A Kaggle-style metric gets two DataFrames aligned row for row, ids and targets typed as by pd.read_csv."""
    scores = []
    for usage in SPLITS:
        solution = compiled.solution_frame(usage)
        submission = upload.table.take(pa.array(perm[compiled.rows(usage)])).to_pandas()
        scores.append(_run_metric(lambda: run_frame_scorer(scorer, solution, submission, compiled.id_column),
                                  scorer, usage))
    return scores
