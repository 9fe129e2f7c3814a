"""The two ways scoring refuses: a student's file to fix, or an instructor's solution to fix.

Both carry a message written for the person who can act on it; neither ever carries a traceback.
"""
from __future__ import annotations


class SubmissionError(Exception):
    """An uploaded file the student must fix.

    ``code`` is a short machine key ("too_large", "missing_ids", "bad_values", ...) and ``status`` the HTTP
    status an adapter answers with: 413 for a file over the size limits, 422 for everything else.
    """

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def status(self) -> int:
        return 413 if self.code == "too_large" else 422

    def __str__(self) -> str:
        return self.message


class SolutionError(Exception):
    """A solution or sample submission the instructor must fix; ``key`` is the competition.toml key at fault."""

    def __init__(self, message: str, *, key: str = "solution"):
        super().__init__(message)
        self.message = message
        self.key = key

    def __str__(self) -> str:
        return self.message
