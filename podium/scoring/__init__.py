"""Scoring: turn a student's uploaded prediction file into a public and a private score.

``compile_solution`` runs once when a competition is loaded; ``score_upload`` runs for every upload. Refusals
are ``SubmissionError`` (for the student) and ``SolutionError`` (for the instructor), each with a message that
says what to fix. This package imports numpy, pandas, pyarrow and scorers, nothing of the web or the database.
"""
from podium.scoring.errors import SolutionError, SubmissionError
from podium.scoring.score import ScoreResult, private_predictions, score_upload
from podium.scoring.solution import (
    CompiledSolution, check_sample_submission, compile_solution, compiled_is_current, scorer_mode,
)
from podium.scoring.upload import UploadLimits, load_upload_bytes, read_upload

__all__ = [
    "CompiledSolution", "ScoreResult", "SolutionError", "SubmissionError", "UploadLimits",
    "check_sample_submission", "compile_solution", "compiled_is_current", "load_upload_bytes", "private_predictions",
    "read_upload", "score_upload", "scorer_mode",
]
