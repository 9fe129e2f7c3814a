"""Pictures drawn on the server with matplotlib, as SVG: nothing is fetched by the browser but the image itself.

Each function takes plain values and returns SVG text. Figures are built with the object API (no pyplot), which
keeps drawing safe in a threaded server.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402  (the backend is chosen first)
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller files, crisp at any zoom, the page's font
    "svg.hashsalt": "podium",  # stable element ids, so equal charts are equal files
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8a93a3",
    "axes.labelcolor": "#3b4352",
    "xtick.color": "#5b6475",
    "ytick.color": "#5b6475",
}
INK = "#2456c7"
PRIVATE_INK = "#b4500a"
CUTOFF_COLOURS = {"A": "#1b7f3b", "B": "#5f8f1f", "C": "#b08900", "D": "#c0392b", "F": "#7f1d1d"}
DEADLINE_COLOURS = {"early": "#7a5cc7", "ontime": "#1d2330", "late": "#c0392b"}
DEADLINE_NAMES = {"early": "early", "ontime": "on-time", "late": "late"}


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return out.getvalue()


def _empty(fig: Figure, message: str) -> str:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#5b6475", fontsize=11, transform=ax.transAxes)
    return _svg(fig)


def _cutoff_lines(ax, cutoffs: dict[str, float], vertical: bool) -> None:
    for letter, value in cutoffs.items():
        colour = CUTOFF_COLOURS.get(letter, "#555")
        if vertical:
            ax.axvline(value, color=colour, linestyle="--", linewidth=1)
            ax.annotate(letter, (value, 1), xycoords=("data", "axes fraction"), xytext=(2, -2),
                        textcoords="offset points", va="top", color=colour, fontweight="bold")
        else:
            ax.axhline(value, color=colour, linestyle="--", linewidth=1)
            ax.annotate(letter, (1, value), xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", va="center", color=colour, fontweight="bold")


def score_distribution(scores: Sequence[float], cutoffs: dict[str, float], *, metric: str, board: str,
                       highlight: float | None = None) -> str:
    """A histogram of the board's scores (one per student) with the cutoffs as dashed lines."""
    with rc_context(STYLE):
        fig = Figure(figsize=(7.2, 3.0))
        if not scores:
            return _empty(fig, "No scored submission yet")
        ax = fig.add_subplot()
        values = list(scores) + list(cutoffs.values())
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        bins = max(10, min(40, len(scores) // 2))
        ax.hist(scores, bins=bins, range=(low - 0.02 * span, high + 0.02 * span),
                color=PRIVATE_INK if board == "private" else INK, alpha=0.85, edgecolor="white", linewidth=0.5)
        _cutoff_lines(ax, cutoffs, vertical=True)
        if highlight is not None:
            ax.axvline(highlight, color="#111", linewidth=2)
            ax.annotate("you", (highlight, 0.85), xycoords=("data", "axes fraction"), xytext=(3, 0),
                        textcoords="offset points", fontweight="bold")
        ax.set_xlabel(f"{metric} ({board} board, best per student)")
        ax.set_ylabel("students")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        return _svg(fig)


def submissions_around_deadlines(times: Sequence[datetime], deadlines: dict[str, datetime], *,
                                 hours_before: int = 72, hours_after: int = 24) -> str:
    """Submissions per hour in a window around each deadline, one panel per deadline."""
    with rc_context(STYLE):
        present = {k: v for k, v in deadlines.items() if v is not None}
        fig = Figure(figsize=(7.2, 2.6))
        if not times or not present:
            return _empty(fig, "No submission yet")
        axes = fig.subplots(1, len(present), sharey=True, squeeze=False)[0]
        edges = list(range(-hours_before, hours_after + 1))
        for ax, (key, deadline) in zip(axes, present.items()):
            offsets = [(t - deadline) / timedelta(hours=1) for t in times]
            near = [h for h in offsets if -hours_before <= h <= hours_after]
            ax.hist(near, bins=edges, color=INK, alpha=0.85)
            ax.axvline(0, color=DEADLINE_COLOURS[key], linewidth=1.5)
            ax.set_title(f"{DEADLINE_NAMES[key]} deadline", fontsize=9, color=DEADLINE_COLOURS[key])
            ax.set_xlim(-hours_before, hours_after)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("hours from the deadline")
        # Whole submissions: the axis starts at 0 and shows at least one, even when no upload came near a deadline.
        axes[0].set_ylim(0, max(1, axes[0].get_ylim()[1]))
        axes[0].set_ylabel("submissions per hour")
        fig.tight_layout()
        return _svg(fig)


def _time_range(times: Sequence[datetime], local) -> tuple[datetime, datetime]:
    """The submissions' span, padded: a single submission gets a day around it, not matplotlib's four years."""
    start, end = min(times), max(times)
    pad = max((end - start) * 0.05, timedelta(hours=12))
    return (start - pad).astimezone(local), (end + pad).astimezone(local)


def score_over_time(points: Sequence[tuple[datetime, float | None, float | None]], cutoffs: dict[str, float],
                    deadlines: dict[str, datetime], *, metric: str, tz: str) -> str:
    """A student's public (and, when shown, private) scores by submission time, with cutoffs and deadlines."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    from podium.rules import zone

    with rc_context(STYLE):
        fig = Figure(figsize=(7.2, 3.0))
        public = [(t, p) for t, p, _ in points if p is not None]
        private = [(t, q) for t, _, q in points if q is not None]
        if not public and not private:
            return _empty(fig, "No scored submission yet")
        ax = fig.add_subplot()
        local = zone(tz)
        if public:
            ax.plot([t.astimezone(local) for t, _ in public], [p for _, p in public], marker="o", markersize=4,
                    color=INK, linewidth=1.2, label="public")
        if private:
            ax.plot([t.astimezone(local) for t, _ in private], [q for _, q in private], marker="s", markersize=3,
                    color=PRIVATE_INK, linewidth=1, linestyle=":", label="private")
        _cutoff_lines(ax, cutoffs, vertical=False)
        for key, at in deadlines.items():
            if at is not None:
                ax.axvline(at.astimezone(local), color=DEADLINE_COLOURS[key], linewidth=1, alpha=0.6)
                ax.annotate(DEADLINE_NAMES[key], (at.astimezone(local), 0), xycoords=("data", "axes fraction"),
                            xytext=(2, 2), textcoords="offset points", rotation=90, va="bottom", fontsize=7,
                            color=DEADLINE_COLOURS[key])
        shown_deadlines = [at for at in deadlines.values() if at is not None]
        ax.set_xlim(*_time_range([t for t, _ in public + private] + shown_deadlines, local))
        locator = AutoDateLocator(tz=local)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=local))
        ax.set_ylabel(metric)
        ax.legend(loc="best", frameon=False)
        return _svg(fig)
