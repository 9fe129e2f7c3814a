"""Leaderboard names (POLICY.md section 8): what a name may contain, and when two names are the same name.

A name belongs to an enrolment; within a course no two enrolments have names equal after NFKC normalisation and
case folding, which the `leaderboard_key` column holds and a unique constraint guards.
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.errors import PodiumError
from podium.models import LEADERBOARD_KEY_LENGTH, Course, Enrolment

LEADERBOARD_NAME_MAX = 40


def checked_leaderboard_name(session: Session, course: Course, name: str, *, user_id: int | None) -> tuple[str, str]:
    """The name tidied (runs of spaces, tabs and line ends become one space; the ends are trimmed) and its key, or
    PodiumError saying what to fix: characters that hide or reorder text, and a name another member of the course
    has once both are NFKC-normalised and case-folded."""
    name = _tidied(name or "")
    if not name:
        raise PodiumError("Choose a leaderboard name: it is what other students see instead of your real name.")
    if len(name) > LEADERBOARD_NAME_MAX:
        raise PodiumError(f"A leaderboard name has at most {LEADERBOARD_NAME_MAX} characters.")
    hidden = hidden_character(name)
    if hidden is not None:
        raise PodiumError(f"A leaderboard name cannot contain U+{ord(hidden):04X} ({unicodedata.name(hidden, 'a control character')}): "
                          "control, invisible and text-direction characters are refused. Remove it and try again.")
    key = leaderboard_key(name)
    if key != key.strip() or not key:
        raise PodiumError("A leaderboard name cannot start or end with a space or with a mark that normalises to "
                          "one (such as \u00a8): start and end it with a letter, digit or symbol.")
    if len(key) > LEADERBOARD_KEY_LENGTH:
        raise PodiumError(f"A leaderboard name has at most {LEADERBOARD_NAME_MAX} characters.")
    holder = session.scalar(select(Enrolment.user_id).where(Enrolment.course_id == course.id,
                                                            Enrolment.leaderboard_key == key))
    if holder is not None and holder != user_id:
        raise PodiumError(f"Another student of {course.slug} has the leaderboard name {name!r} (or one that differs "
                          "only in case or in how its characters are written). Choose another.", code=409)
    return name, key


# Control (Cc: tab, newline and the like are tidied into spaces first), format (Cf: bidi overrides, zero-width
# characters), surrogate and line or paragraph separator characters: they hide or reorder what a board shows.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SPACING = frozenset("\t\n\r\x0b\x0c")


def hidden_character(name: str) -> str | None:
    """The first character of a category names may not contain, if any."""
    return next((ch for ch in name if unicodedata.category(ch) in REFUSED_CATEGORIES), None)


def _tidied(name: str) -> str:
    spaced = "".join(" " if ch in _SPACING or unicodedata.category(ch) == "Zs" else ch for ch in name)
    return " ".join(part for part in spaced.split(" ") if part)


def leaderboard_key(name: str) -> str:
    """Names equal under this key are the same name on a board: NFKC (fullwidth, ligatures, composed accents),
    then case folding (which may un-normalise: "ẞ" folds to "ss"), then NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
