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

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the web and API adapters add to the answer."""
        return {}


class FieldError(PodiumError):
    """Bad input in a field of a form or a command, named the same way in the service that checks it and in the
    adapters that word it. `template` names fields as `{field_name}` and values as `{value_name}` (given as keyword
    arguments, never parsed as a template): each adapter words the fields its own way, the CLI by its options
    (`--days`), a web form by the words of its labels, so one check serves both without either's words leaking
    into the other's. `field` is the field the error is about, for a form to mark."""

    code = 422

    def __init__(self, field: str, template: str, *, code: int | None = None, **values):
        self.field, self.template, self.values = field, template, values
        super().__init__(self.worded({}), code=code)

    def worded(self, names: dict[str, str]) -> str:
        """The message with each field named as `names` says (a field it leaves out keeps its own name)."""
        return self.template.format_map(_Words(names, self.values))


class _Words(dict):
    def __init__(self, names: dict[str, str], values: dict):
        super().__init__(values)
        self.names = names

    def __missing__(self, key: str) -> str:
        return self.names.get(key, key.replace("_", " "))


class ConfigError(PodiumError):
    """A course folder that cannot be loaded; the message names the file and the key."""

    code = 422

    def __init__(self, file, key: str, message: str):
        self.file, self.key = str(file), key
        # One printable line whatever the message quotes (a metric.py's exception text, a file name typed with a
        # control character): the CLI prints it as one line, and an escape sequence must not reach the terminal.
        message = escape_controls(" ".join(part.strip() for part in message.splitlines() if part.strip()))
        super().__init__(f"{self.file}: {key}: {message}" if key else f"{self.file}: {message}")


def escape_controls(text: str) -> str:
    """Control characters written out (an escape as \\x1b): text from outside that is printed to a terminal."""
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in text)


class NotFound(PodiumError):
    code = 404


class Forbidden(PodiumError):
    code = 403


class Refused(PodiumError):
    """A valid request the rules refuse (deadline passed, not yet open, daily limit reached...)."""

    code = 409


class Unavailable(PodiumError):
    """Podium cannot do what was asked right now because its database or its storage refuses the write: nothing
    was kept, and the same request may well succeed shortly. Answered 503 with Retry-After; `detail` is what the
    driver or the system said, for the server log and /healthz, not for the person who sent the request."""

    code = 503
    RETRY_AFTER_SECONDS = 30

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class DatabaseUnavailable(Unavailable):
    """The database could not take the request: held by another writer past the lock timeout (`locked`), or out
    of reach, read-only or full. Raised by podium.db for every statement, whoever runs it."""

    def __init__(self, detail: str, *, locked: bool):
        why = "is busy with another write" if locked else "is unavailable"
        super().__init__(f"Podium's database {why} at the moment, so nothing was recorded. Try again shortly.",
                         detail=detail)
        self.locked = locked


class StorageUnavailable(Unavailable):
    """A file could not be written under the data folder: not writable, not a folder, or the disk is full."""

    def __init__(self, detail: str):
        super().__init__("Podium cannot store files at the moment, so nothing was kept. Try again shortly.",
                         detail=detail)


class RegradeNeeded(PodiumError):
    """A change to what grades depend on would change final grades of finalised or released competitions, and no
    regrade was asked for: nothing was changed (podium.services.regrades). `changes` lists them (regrades.Change)."""

    code = 409
    NAMED = 5  # changes named in the message before "and N more"

    def __init__(self, what: str, changes: list, *, because: str | None = None):
        self.what, self.changes = what, changes
        if because is not None:
            message = f"{what}: {because}; nothing was changed."
        else:
            named = "; ".join(c.line() for c in changes[:self.NAMED])
            more = f"; and {len(changes) - self.NAMED} more" if len(changes) > self.NAMED else ""
            message = (f"{what} would change {len(changes)} final grade{'s' if len(changes) != 1 else ''} of "
                       f"finalised or released competitions ({named}{more}); nothing was changed.")
        super().__init__(f"{message} Changing a grade after finalisation is a regrade, which must be asked for "
                         "explicitly.")
