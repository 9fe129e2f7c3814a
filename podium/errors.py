"""Errors that carry a message for the person who can fix the problem.

`code` is the HTTP status the web and API adapters answer with; the CLI prints the message on one line.
"""
from __future__ import annotations

import unicodedata


class PodiumError(Exception):
    code = 400

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigError(PodiumError):
    """A course folder that cannot be loaded; the message names the file and the key."""

    code = 422

    def __init__(self, file, key: str, message: str):
        self.file, self.key = str(file), key
        # One printable line whatever the message quotes (a metric.py's exception text, a file name typed with a
        # control character): the CLI prints it as one line, and an escape sequence must not reach the terminal.
        message = _escape_controls(" ".join(part.strip() for part in message.splitlines() if part.strip()))
        super().__init__(f"{self.file}: {key}: {message}" if key else f"{self.file}: {message}")


def _escape_controls(text: str) -> str:
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in text)


class NotFound(PodiumError):
    code = 404


class Forbidden(PodiumError):
    code = 403


class Refused(PodiumError):
    """A valid request the rules refuse (deadline passed, not yet open, daily limit reached...)."""

    code = 409
