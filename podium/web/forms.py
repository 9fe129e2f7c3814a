"""Staff forms sent back with their error: the same page again, the error beside the form in the page's words, and
what was typed still in the fields, never a page of its own that loses it.

A view that runs a form's action catches the service's refusal and renders its page with `sent_back(...)`; the
templates read it through the macros `form_error` and `invalid` and `back.value(form, field)`. The error keeps its
status (422 for a mistake, 403 for what the person may not do, 409 for what the rules refuse).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from flask import request

from podium.errors import FieldError, PodiumError, RegradeNeeded, Unavailable
from podium.web.context import db_session


@dataclass(frozen=True)
class SentBack:
    """Which form of the page failed, what was typed into it, and the message to show beside it."""

    form: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    field: str | None = None
    code: int = 200

    def is_for(self, form: str) -> bool:
        return bool(self.message) and self.form == form

    def value(self, form: str, name: str, default: str = "") -> str:
        """What was typed into `name` of `form` when that form came back, else `default`."""
        return self.values.get(name, default) if self.form == form else default

    def marks(self, form: str, name: str) -> bool:
        """Whether the error is about the field `name` of `form`."""
        return self.is_for(form) and self.field == name


NOTHING = SentBack()


def sent_back(form: str, exc: PodiumError, names: Mapping[str, str] | None = None, *,
              field: str | None = None) -> SentBack:
    """The form `form` back with the error `exc`: fields a FieldError names are worded as `names` says (the page's
    words for them), `field` marks a field the error is about when the service does not say. Whatever the refused
    action wrote is rolled back before the page is read again. A database or storage that cannot take the request
    is not a form's error: it is raised again, for the page that says to try again shortly."""
    if isinstance(exc, (Unavailable, RegradeNeeded)):
        raise exc  # the page that says to try again shortly; the page that confirms a regrade
    db_session().rollback()
    message = exc.worded(dict(names or {})) if isinstance(exc, FieldError) else exc.message
    return SentBack(form, request.form.to_dict(), as_sentence(message), field or getattr(exc, "field", None),
                    exc.code)


def as_sentence(message: str) -> str:
    """A service's message as a sentence on a page: a capital first letter (unless it begins with a name, such as a
    file's or an address, which is left as written) and a final stop."""
    message = message.strip()
    if not message:
        return message
    first = message.split(maxsplit=1)[0].rstrip(":,;")
    if first.isalpha() and first.islower():
        message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?" else message + "."
