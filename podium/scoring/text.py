"""Wording shared by every message: counts, quoted values, examples, sizes."""
from __future__ import annotations

from itertools import islice
from typing import Iterable

MAX_EXAMPLES = 5
_MAX_VALUE_CHARS = 40


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "id") == "1 id"``, ``plural(2000, "id") == "2,000 ids"``."""
    return f"{n:,} {singular if n == 1 else plural_form or singular + 's'}"


def quote(value: object, limit: int | None = _MAX_VALUE_CHARS) -> str:
    """A value as the student typed it, in backticks; long values are shortened, unprintable ones escaped."""
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    if not text.isprintable():
        text = repr(text)[1:-1]
    return f"`{text}`"


def examples(items: Iterable[str], total: int) -> str:
    """The first few of ``total`` items, saying how many more were left out (the rest are never formatted)."""
    shown = list(islice(items, MAX_EXAMPLES))
    return ", ".join(shown) + (f" and {total - len(shown):,} more" if total > len(shown) else "")


def header_text(names: Iterable[str], limit: int | None = None) -> str:
    return quote(",".join(names), limit)


def megabytes(n_bytes: int) -> str:
    """Decimal megabytes, as people read file sizes: "200 MB", "20.5 MB", "0.0015 MB"."""
    mb = n_bytes / 1_000_000
    if mb == int(mb):
        return f"{mb:,.0f} MB"
    return f"{mb:,.1f} MB" if mb >= 1 else f"{mb:.6f}".rstrip("0") + " MB"


def size_over(n_bytes: int, limit: int) -> str:
    """A size over a limit, exact in bytes when its rounded megabytes would not read as over."""
    text = megabytes(n_bytes)
    shown = float(text.split(" ")[0].replace(",", "")) * 1_000_000
    return text if shown > limit else f"{text} ({n_bytes:,} bytes)"


def lines_text(lines: Iterable[int], total: int) -> str:
    shown = list(lines)[:MAX_EXAMPLES]
    word = "line" if total == 1 else "lines"
    return f"{word} {examples((f'{n:,}' for n in shown), total)}"
