"""Charts as SVG, from their numbers: a score distribution, submissions per hour around the deadlines, and a
student's scores over time.

Each chart is two steps, both plain functions of plain values: its numbers (`distribution`, `activity`,
`progress`: the bars and points a reader could also read as a table, which the pages show beside the picture) and
the picture drawn from them (`draw_*`). The picture is plain SVG written here, one path for all the bars of a
panel: drawing takes well under a millisecond, so the pages draw their charts inline as they render, and a
picture and its table can never disagree.

Everything is drawn with presentation attributes (no inline style), so an inline chart passes the pages' content
security policy; every text is escaped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence
from xml.sax.saxutils import escape, quoteattr

from podium.rules import UTC, zone

INK = "#2456c7"
PRIVATE_INK = "#b4500a"
AXIS = "#8a93a3"
TICK_TEXT = "#5b6475"
LABEL_TEXT = "#3b4352"
# Dark enough for their letters to read on white (contrast 4.5:1 at least).
CUTOFF_COLOURS = {"A": "#1b7f3b", "B": "#4d7a14", "C": "#8a6d00", "D": "#c0392b", "F": "#7f1d1d"}
DEADLINE_COLOURS = {"early": "#7a5cc7", "ontime": "#1d2330", "late": "#c0392b"}
DEADLINE_NAMES = {"early": "early", "ontime": "on-time", "late": "late"}
DEADLINES = ("early", "ontime", "late")
NO_SCORE = "No scored submission yet"
NO_SUBMISSION = "No submission yet"
WIDTH = 720
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


# --- the numbers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bin:
    low: float
    high: float  # the last bin holds its high end too
    count: int


@dataclass(frozen=True)
class Distribution:
    """A histogram of a board's scores (one per student), with the cutoffs the reader may know."""

    metric: str
    board: str  # "public" or "private"
    bins: tuple[Bin, ...]
    cutoffs: tuple[tuple[str, float], ...]
    decimals: int  # of the bins' ends as shown

    @property
    def students(self) -> int:
        return sum(b.count for b in self.bins)


@dataclass(frozen=True)
class Panel:
    deadline: str  # "early", "ontime" or "late"
    at: datetime
    counts: tuple[int, ...]  # per hour, from `hours_before` before the deadline


@dataclass(frozen=True)
class Activity:
    """Submissions per hour in a window around each deadline."""

    panels: tuple[Panel, ...]
    hours_before: int
    hours_after: int
    submissions: int  # in all, near a deadline or not

    def hour(self, index: int) -> int:
        """The hour from the deadline where bar `index` starts."""
        return index - self.hours_before

    def busy(self) -> list[int]:
        """The bars where some deadline's panel counts a submission."""
        return [i for i in range(self.hours_before + self.hours_after) if any(p.counts[i] for p in self.panels)]


@dataclass(frozen=True)
class Point:
    at: datetime
    public: float | None
    private: float | None


@dataclass(frozen=True)
class Progress:
    """A student's scores by submission time, with the cutoffs and the deadlines passed."""

    metric: str
    tz: str
    points: tuple[Point, ...]
    cutoffs: tuple[tuple[str, float], ...]
    deadlines: tuple[tuple[str, datetime], ...]
    private_shown: bool  # whether the reader may see private scores at all (a column of the table)


def nice_step(rough: float) -> float:
    """The 1, 2, 2.5 or 5 times a power of ten at or above `rough` (> 0)."""
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= rough * (1 - 1e-9):
            return factor * power
    return 10 * power


def decimals_of(step: float) -> int:
    """The fewest decimals that write every multiple of `step` exactly."""
    for decimals in range(12):
        if abs(round(step, decimals) - step) <= step * 1e-9:
            return decimals
    return 12


def distribution(scores: Sequence[float], cutoffs: dict[str, float], *, metric: str, board: str,
                 target_bins: int | None = None) -> Distribution:
    """Scores counted in bins of a round width (10 to 40 of them, about one per two students) that span the
    scores and the cutoffs."""
    shown_cutoffs = tuple(cutoffs.items())
    if not scores:
        return Distribution(metric, board, (), shown_cutoffs, 0)
    values = [*scores, *cutoffs.values()]
    low, high = min(values), max(values)
    span = (high - low) or max(abs(high), 1.0)
    step = nice_step(span / (target_bins or max(10, min(40, len(scores) // 2))))
    first = math.floor(low / step + 1e-9)
    last = max(first + 1, math.ceil(high / step - 1e-9))  # a score on the top edge is held by the last bin
    counts = [0] * (last - first)
    for score in scores:
        counts[min(max(int(math.floor(score / step + 1e-9)) - first, 0), len(counts) - 1)] += 1
    decimals = decimals_of(step)
    bins = tuple(Bin(round((first + i) * step, decimals), round((first + i + 1) * step, decimals), n)
                 for i, n in enumerate(counts))
    return Distribution(metric, board, bins, shown_cutoffs, decimals)


def activity(times: Sequence[datetime], deadlines: dict[str, datetime | None], *, hours_before: int = 72,
             hours_after: int = 24) -> Activity:
    """Each submission counted in the hour (from `hours_before` before to `hours_after` after) of each deadline
    it falls near."""
    panels = []
    for key in DEADLINES:
        at = deadlines.get(key)
        if at is None:
            continue
        counts = [0] * (hours_before + hours_after)
        for t in times:
            hour = math.floor((t - at) / timedelta(hours=1)) + hours_before
            if 0 <= hour < len(counts):
                counts[hour] += 1
        panels.append(Panel(key, at, tuple(counts)))
    return Activity(tuple(panels), hours_before, hours_after, len(times))


def progress(points: Sequence[tuple[datetime, float | None, float | None]], cutoffs: dict[str, float],
             deadlines: dict[str, datetime], *, metric: str, tz: str, private_shown: bool) -> Progress:
    """The scored points in time order; `points` carry a private score only where the reader may see it."""
    kept = sorted((Point(t, p, q) for t, p, q in points if p is not None or q is not None), key=lambda p: p.at)
    return Progress(metric, tz, tuple(kept), tuple(cutoffs.items()),
                    tuple((k, deadlines[k]) for k in DEADLINES if deadlines.get(k) is not None), private_shown)


# --- drawing -------------------------------------------------------------------------------------------------


def number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text.replace("-", "\u2212")


class Canvas:
    """SVG elements in a fixed coordinate space (a viewBox the page scales)."""

    def __init__(self, width: int, height: int, label: str, describedby: str | None = None):
        self.width, self.height, self.label, self.describedby = width, height, label, describedby
        self.parts: list[str] = []

    def add(self, element: str, **attributes: object) -> None:
        self.parts.append(f"<{element}{_attributes(attributes)}/>")

    def text(self, x: float, y: float, content: str, **attributes: object) -> None:
        self.parts.append(f"<text x=\"{x:.1f}\" y=\"{y:.1f}\"{_attributes(attributes)}>{escape(content)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1, **more: object) -> None:
        self.add("line", x1=f"{x1:.1f}", y1=f"{y1:.1f}", x2=f"{x2:.1f}", y2=f"{y2:.1f}", stroke=colour,
                 stroke_width=width, **more)

    def svg(self) -> str:
        return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {self.width} {self.height}\" "
                f"width=\"{self.width}\" height=\"{self.height}\" class=\"chart\" font-family={quoteattr(FONT)} font-size=\"14\" "
                f"role=\"img\" aria-label={quoteattr(self.label)}"
                f"{_attributes({'aria_describedby': self.describedby})}>"
                f"<rect width=\"{self.width}\" height=\"{self.height}\" fill=\"#fff\"/>{''.join(self.parts)}</svg>")


def _attributes(attributes: dict[str, object]) -> str:
    return "".join(f" {name.replace('_', '-')}={quoteattr(str(value))}" for name, value in attributes.items()
                   if value is not None)


@dataclass(frozen=True)
class Scale:
    """Maps values in [lo, hi] to pixels in [start, end]."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)


def ticks(lo: float, hi: float, count: int = 5, *, whole: bool = False,
          cover: bool = False) -> tuple[list[float], int]:
    """Round values from `lo` to `hi` about `count` apart, and the decimals they need; with `cover`, up to the
    first at or above `hi` (an axis of counts ends on a tick above its tallest bar)."""
    step = nice_step(max((hi - lo) / count, 1e-12))
    if whole:
        step = max(1.0, round(step)) if step >= 1 else 1.0
    first = math.ceil(lo / step - 1e-9)
    values = []
    k = first
    while k * step <= hi + step * 1e-9 or (cover and bool(values) and values[-1] < hi):
        values.append(k * step)
        k += 1
    return values, decimals_of(step)


def _empty(width: int, height: int, label: str, describedby: str | None, message: str) -> str:
    canvas = Canvas(width, height, label, describedby)
    canvas.text(width / 2, height / 2, message, text_anchor="middle", fill=TICK_TEXT, font_size=15)
    return canvas.svg()


def _y_axis(canvas: Canvas, y: Scale, x0: float, values: list[float], decimals: int, label: str | None,
            grid_to: float) -> None:
    canvas.line(x0, y.start, x0, y.end, AXIS)
    for value in values:
        at = y(value)
        canvas.line(x0 - 4, at, x0, at, AXIS)
        canvas.line(x0, at, grid_to, at, "#e6e9ef")
        canvas.text(x0 - 6, at + 4, number(value, decimals), text_anchor="end", fill=TICK_TEXT, font_size=13)
    if label:
        middle = (y.start + y.end) / 2
        canvas.text(16, middle, label, text_anchor="middle", fill=LABEL_TEXT,
                    transform=f"rotate(-90 16 {middle:.1f})")


def _bars(canvas: Canvas, x: Scale, y: Scale, bars: Sequence[tuple[float, float, int]], colour: str) -> None:
    """Bars as one path (one element however many bars): (from, to, height)."""
    base = y(0)
    path = []
    for low, high, count in bars:
        if count:
            left, right, top = x(low), x(high), y(count)
            inset = 0.5 if right - left > 4 else 0  # a white line between wide bars; narrow ones touch
            path.append(f"M{left + inset:.1f} {base:.1f}V{top:.1f}H{right - inset:.1f}V{base:.1f}Z")
    if path:
        canvas.add("path", d="".join(path), fill=colour, fill_opacity=0.85)


def draw_distribution(d: Distribution, label: str, describedby: str | None = None) -> str:
    height = 300
    if not d.bins:
        return _empty(WIDTH, height, label, describedby, NO_SCORE)
    canvas = Canvas(WIDTH, height, label, describedby)
    left, right, top, bottom = 60, WIDTH - 16, 24, height - 50
    x = Scale(d.bins[0].low, d.bins[-1].high, left, right)
    most = max(b.count for b in d.bins)
    y_values, _ = ticks(0, most, 5, whole=True, cover=True)
    y = Scale(0, max(y_values[-1], 1), bottom, top)
    _y_axis(canvas, y, left, y_values, 0, "students", right)
    _bars(canvas, x, y, [(b.low, b.high, b.count) for b in d.bins], PRIVATE_INK if d.board == "private" else INK)
    canvas.line(left, bottom, right, bottom, AXIS)
    x_values, decimals = ticks(x.lo, x.hi, 6)
    for value in x_values:
        at = x(value)
        canvas.line(at, bottom, at, bottom + 4, AXIS)
        canvas.text(at, bottom + 19, number(value, decimals), text_anchor="middle", fill=TICK_TEXT, font_size=13)
    for letter, value in d.cutoffs:
        colour = CUTOFF_COLOURS.get(letter, "#555")
        at = x(value)
        canvas.line(at, top - 6, at, bottom, colour, 1.2, stroke_dasharray="5 3")
        canvas.text(at + 3, top + 4, letter, fill=colour, font_weight="bold")
    canvas.text((left + right) / 2, height - 8, f"{d.metric} ({d.board} board, best per student)",
                text_anchor="middle", fill=LABEL_TEXT)
    return canvas.svg()


def draw_activity(a: Activity, label: str, describedby: str | None = None) -> str:
    height = 260
    if not a.submissions or not a.panels:
        return _empty(WIDTH, height, label, describedby, NO_SUBMISSION)
    canvas = Canvas(WIDTH, height, label, describedby)
    left, right, top, bottom, gap = 60, WIDTH - 14, 30, height - 50, 34
    width = (right - left - gap * (len(a.panels) - 1)) / len(a.panels)
    most = max(max(p.counts) for p in a.panels)
    y_values, _ = ticks(0, max(most, 1), 4, whole=True, cover=True)
    y = Scale(0, max(y_values[-1], 1), bottom, top)
    for index, panel in enumerate(a.panels):
        x0 = left + index * (width + gap)
        x = Scale(-a.hours_before, a.hours_after, x0, x0 + width)
        _y_axis(canvas, y, x0, y_values if index == 0 else [], 0, "submissions per hour" if index == 0 else None,
                x0 + width)
        colour = DEADLINE_COLOURS[panel.deadline]
        canvas.text(x0 + width / 2, 16, f"{DEADLINE_NAMES[panel.deadline]} deadline", text_anchor="middle",
                    fill=colour)
        _bars(canvas, x, y, [(a.hour(i), a.hour(i) + 1, n) for i, n in enumerate(panel.counts)], INK)
        canvas.line(x0, bottom, x0 + width, bottom, AXIS)
        canvas.line(x(0), top - 4, x(0), bottom, colour, 1.5)
        for hour in range(-a.hours_before, a.hours_after + 1, 24):
            canvas.line(x(hour), bottom, x(hour), bottom + 4, AXIS)
            canvas.text(x(hour), bottom + 19, number(hour, 0), text_anchor="middle", fill=TICK_TEXT, font_size=13)
        canvas.text(x0 + width / 2, height - 8, "hours from the deadline", text_anchor="middle", fill=LABEL_TEXT)
    return canvas.svg()


# Steps between time ticks, and how each labels them. Hour steps divide a day, so ticks fall on the same hours
# every day in the course time zone.
TIME_STEPS = (timedelta(hours=1), timedelta(hours=2), timedelta(hours=3), timedelta(hours=6), timedelta(hours=12),
              timedelta(days=1), timedelta(days=2), timedelta(days=7), timedelta(days=14), timedelta(days=28))


def time_ticks(start: datetime, end: datetime, tz: str, count: int = 7) -> list[tuple[datetime, str]]:
    """Round instants between `start` and `end` (at most `count`), labelled in the time zone `tz`: local hours
    with the date where a day begins, or dates."""
    local = zone(tz)
    step = next((s for s in TIME_STEPS if (end - start) / s <= count), TIME_STEPS[-1])
    first = start.astimezone(local).replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        first = first.replace(hour=0)
    else:
        first = first.replace(hour=first.hour - first.hour % int(step / timedelta(hours=1)))
    found, day = [], None
    at = first
    while at <= end:
        if at >= start:
            if step >= timedelta(days=1):
                label = f"{at:%b} {at.day}"
            elif at.date() == day:
                label = f"{at:%H:%M}"
            else:  # the first tick of a day names the day
                label = f"{at:%b} {at.day}" + ("" if at.hour == 0 else f" {at:%H:%M}")
            found.append((at, label))
            day = at.date()
        # Steps of the local clock, so ticks stay on round hours and midnights across a daylight saving change;
        # a time the change skips (02:00 when clocks jump to 03:00) is read as the time it becomes.
        at = (at + step).astimezone(UTC).astimezone(local)
    return found


def draw_progress(p: Progress, label: str, describedby: str | None = None) -> str:
    height = 300
    public = [(pt.at, pt.public) for pt in p.points if pt.public is not None]
    private = [(pt.at, pt.private) for pt in p.points if pt.private is not None]
    if not public and not private:
        return _empty(WIDTH, height, label, describedby, NO_SCORE)
    canvas = Canvas(WIDTH, height, label, describedby)
    left, right, top, bottom = 72, WIDTH - 30, 34, height - 40
    instants = [t for t, _ in public + private] + [at for _, at in p.deadlines]
    first, last = min(instants), max(instants)
    pad = max((last - first) * 0.05, timedelta(hours=12))
    start, end = first - pad, last + pad
    span = (end - start).total_seconds()
    x = Scale(0, span, left, right)

    def at_x(t: datetime) -> float:
        return x((t - start).total_seconds())

    values = [v for _, v in public + private] + [v for _, v in p.cutoffs]
    low, high = min(values), max(values)
    margin = ((high - low) or max(abs(high), 1.0)) * 0.08
    y_values, decimals = ticks(low - margin, high + margin, 5)
    y = Scale(low - margin, high + margin, bottom, top)
    _y_axis(canvas, y, left, y_values, decimals, p.metric, right)
    canvas.line(left, bottom, right, bottom, AXIS)
    for when, text in time_ticks(start, end, p.tz):
        at = at_x(when)
        canvas.line(at, bottom, at, bottom + 4, AXIS)
        canvas.text(at, bottom + 19, text, text_anchor="middle", fill=TICK_TEXT, font_size=13)
    for letter, value in p.cutoffs:
        colour = CUTOFF_COLOURS.get(letter, "#555")
        canvas.line(left, y(value), right, y(value), colour, 1.2, stroke_dasharray="5 3")
        canvas.text(right + 4, y(value) + 4, letter, fill=colour, font_weight="bold")
    for key, when in p.deadlines:
        colour = DEADLINE_COLOURS[key]
        at = at_x(when)
        canvas.line(at, top, at, bottom, colour, 1, stroke_opacity=0.6)
        canvas.text(at - 3, bottom - 4, DEADLINE_NAMES[key], fill=colour, font_size=12,
                    transform=f"rotate(-90 {at - 3:.1f} {bottom - 4:.1f})")
    series = [("public", public, INK, None, "circle"), ("private", private, PRIVATE_INK, "2 3", "square")]
    legend_x = left + 8  # the legend, in a row above the plot
    for name, points, colour, dashes, marker in series:
        if not points:
            continue
        coordinates = [(at_x(t), y(v)) for t, v in points]
        canvas.add("polyline", points=" ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coordinates), fill="none",
                   stroke=colour, stroke_width=1.4, stroke_dasharray=dashes)
        for cx, cy in coordinates:
            _marker(canvas, marker, cx, cy, colour)
        canvas.line(legend_x, 14, legend_x + 18, 14, colour, 1.4, stroke_dasharray=dashes)
        _marker(canvas, marker, legend_x + 9, 14, colour)
        canvas.text(legend_x + 24, 19, name, fill=LABEL_TEXT)
        legend_x += 96
    return canvas.svg()


def _marker(canvas: Canvas, kind: str, cx: float, cy: float, colour: str) -> None:
    if kind == "circle":
        canvas.add("circle", cx=f"{cx:.1f}", cy=f"{cy:.1f}", r=3.5, fill=colour)
    else:
        canvas.add("rect", x=f"{cx - 3:.1f}", y=f"{cy - 3:.1f}", width=6, height=6, fill=colour)


def standalone(svg: str) -> str:
    """A chart as a file of its own (an image at its own address)."""
    return f'<?xml version="1.0" encoding="utf-8"?>\n{svg}\n'
