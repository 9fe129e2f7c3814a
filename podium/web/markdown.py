"""Competition descriptions and READMEs as formatted text: CommonMark with tables, like Kaggle's overview tab.

Raw HTML in the source is escaped rather than passed through, and markdown-it refuses `javascript:`-style link
targets, so a description can format text but never run script in a student's browser.
"""
from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    return Markup(_parser().render(text or ""))
