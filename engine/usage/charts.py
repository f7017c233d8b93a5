"""A small inline-SVG chart renderer for the usage report: stacked bars,
grouped bars and lines over categories (days, tasks, models).

Each chart is one self-contained ``<svg>`` (valid XML; no scripts, fonts or
links) with a title, axis labels, a legend and a ``<title>`` tooltip on every
mark; it scales to its container through its viewBox. No data gives a short
sentence instead of an empty frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

# Okabe & Ito's palette, distinguishable with the common colour-vision
# deficiencies; yellow comes last (weak against white).
DASHES = ["", "7 4", "2 3", "9 3 2 3"]  # lines differ in pattern too, not only in colour
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]

WIDTH = 720
PLOT_HEIGHT = 220
LEFT, RIGHT, TOP = 84, 16, 40
CHAR_W = 6.6  # rough width of a character at font-size 11, for laying out labels and legends

Series = dict[str, list[float | None]]
Format = Callable[[float], str]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def empty(title: str, why: str = "no data in this period") -> str:
    return f'<p class="empty"><strong>{escape(title)}</strong>: {escape(why)}</p>'


def _nice_ticks(top: float, whole: bool = False) -> list[float]:
    """0 to at least ``top`` in 1, 2 or 5 × 10^k steps, about five of them
    (``whole``: counts, so steps of at least 1)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = max(top / 5, 1.0) if whole else top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _legend(names: Sequence[str], colours: Sequence[str], y: float) -> tuple[list[str], float]:
    """Swatches and names flowing left to right, wrapping; returns the parts and the height used."""
    parts, x, row = [], float(LEFT), 0
    for index, name in enumerate(names):
        width = 18 + len(name) * CHAR_W + 16
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, row = float(LEFT), row + 1
        top = y + row * 18
        parts.append(f'<rect x="{x:.0f}" y="{top:.0f}" width="11" height="11" fill="{colours[index]}"/>'
                     f'<text x="{x + 16:.0f}" y="{top + 10:.0f}">{escape(name)}</text>')
        x += width
    return parts, (row + 1) * 18 if names else 0


class _Frame:
    """Axes, gridlines and labels shared by every chart."""

    def __init__(self, title: str, categories: Sequence[str], top: float, fmt: Format, y_label: str,
                 x_label: str, names: Sequence[str], colours: Mapping[str, str] | None, whole: bool = False) -> None:
        self.title, self.categories, self.fmt = title, list(categories), fmt
        # The same model keeps its colour from chart to chart when the caller names them.
        self.colours = [(colours or {}).get(name) or colour(index) for index, name in enumerate(names)]
        self.ticks = _nice_ticks(top, whole)
        self.top = self.ticks[-1] or 1.0
        self.y_label, self.x_label, self.names = y_label, x_label, list(names)
        self.slot = (WIDTH - LEFT - RIGHT) / max(1, len(self.categories))
        self.longest = max((len(c) for c in self.categories), default=0)
        # Labels that do not fit their slot are turned 40 degrees.
        self.turned = self.longest * CHAR_W > self.slot - 4

    def y(self, value: float) -> float:
        return TOP + PLOT_HEIGHT - value / self.top * PLOT_HEIGHT

    def render(self, marks: list[str]) -> str:
        bottom = TOP + PLOT_HEIGHT
        label_room = (min(self.longest, 24) * CHAR_W * 0.65 + 14) if self.turned else 18
        # Every few labels only, when there are too many to read (e.g. 90 days).
        every = max(1, math.ceil(len(self.categories) * 14 / (WIDTH - LEFT - RIGHT))) if self.turned else 1
        legend, legend_h = _legend(self.names, self.colours, bottom + label_room + 26)
        height = bottom + label_room + 26 + legend_h + 4
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
            f'font-family="system-ui, sans-serif" font-size="11" fill="#222">',
            f"<title>{escape(self.title)}</title>",
            f'<text x="{LEFT}" y="18" font-size="14" font-weight="600">{escape(self.title)}</text>',
        ]
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
                         f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(self.fmt(tick))}</text>')
        parts.append(f'<text transform="translate(14 {TOP + PLOT_HEIGHT / 2:.0f}) rotate(-90)" '
                     f'text-anchor="middle">{escape(self.y_label)}</text>')
        parts.extend(marks)
        parts.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#666"/>')
        for index, category in enumerate(self.categories):
            if index % every:
                continue
            x = LEFT + (index + 0.5) * self.slot
            text = escape(category if len(category) <= 24 else category[:23] + "…")
            if self.turned:
                parts.append(f'<text transform="translate({x:.1f} {bottom + 12}) rotate(-40)" '
                             f'text-anchor="end">{text}</text>')
            else:
                parts.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{text}</text>')
        parts.append(f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" y="{bottom + label_room + 12:.0f}" '
                     f'text-anchor="middle" fill="#555">{escape(self.x_label)}</text>')
        parts.extend(legend)
        parts.append("</svg>")
        return "".join(parts)


def _tooltip(category: str, name: str, text: str) -> str:
    return f"<title>{escape(category)} · {escape(name)}: {escape(text)}</title>"


def stacked_bars(title: str, categories: Sequence[str], series: Series, fmt: Format, *, y_label: str,
                 x_label: str, colours: Mapping[str, str] | None = None, whole: bool = False) -> str:
    """One bar per category, a segment per series (``whole``: counts, ticks on whole numbers)."""
    totals = [sum(values[i] or 0.0 for values in series.values()) for i in range(len(categories))]
    if not categories or not any(totals):
        return empty(title)
    frame = _Frame(title, categories, max(totals), fmt, y_label, x_label, list(series), colours, whole)
    bar = min(48.0, frame.slot * 0.7)
    marks = []
    for i, category in enumerate(categories):
        x, base = LEFT + (i + 0.5) * frame.slot - bar / 2, 0.0
        for index, (name, values) in enumerate(series.items()):
            value = values[i] or 0.0
            if value <= 0:
                continue
            y0, y1 = frame.y(base), frame.y(base + value)
            marks.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" height="{y0 - y1:.1f}" '
                         f'fill="{frame.colours[index]}" stroke="#fff" stroke-width="0.5">'
                         f"{_tooltip(category, name, fmt(value))}</rect>")
            base += value
    return frame.render(marks)


def grouped_bars(title: str, categories: Sequence[str], series: Series, fmt: Format, *, y_label: str,
                 x_label: str, top: float | None = None, colours: Mapping[str, str] | None = None) -> str:
    """Side-by-side bars per category, one per series with a value there; a
    category no series has a value for is left out."""
    shown = [i for i in range(len(categories)) if any(vs[i] is not None for vs in series.values())]
    categories = [categories[i] for i in shown]
    series = {name: [vs[i] for i in shown] for name, vs in series.items()}
    values = [v for vs in series.values() for v in vs if v is not None]
    if not categories or not values:
        return empty(title)
    frame = _Frame(title, categories, top or max(values), fmt, y_label, x_label, list(series), colours)
    group = frame.slot * 0.8
    bar = min(40.0, group / max(1, len(series)))
    marks = []
    for i, category in enumerate(categories):
        # Only the series with a value here share the slot: no holes for models that did no such task.
        present = [(index, name, value) for index, (name, vs) in enumerate(series.items())
                   if (value := vs[i]) is not None]
        start = LEFT + (i + 0.5) * frame.slot - bar * len(present) / 2
        for place, (index, name, value) in enumerate(present):
            y = frame.y(value)
            marks.append(f'<rect x="{start + place * bar:.1f}" y="{y:.1f}" width="{max(1.0, bar - 2):.1f}" '
                         f'height="{TOP + PLOT_HEIGHT - y:.1f}" fill="{frame.colours[index]}">'
                         f"{_tooltip(category, name, fmt(value))}</rect>")
    return frame.render(marks)


def lines(title: str, categories: Sequence[str], series: Series, fmt: Format, *, y_label: str,
          x_label: str, colours: Mapping[str, str] | None = None, whole: bool = False) -> str:
    """A line with a dot per point for each series (counts over days, say)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    if not categories or not any(values):
        return empty(title)
    frame = _Frame(title, categories, max(values), fmt, y_label, x_label, list(series), colours, whole)
    marks = []
    for index, (name, vs) in enumerate(series.items()):
        points = [(LEFT + (i + 0.5) * frame.slot, frame.y(v), categories[i], v) for i, v in enumerate(vs)
                  if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        dash = DASHES[index % len(DASHES)]
        marks.append(f'<polyline points="{path}" fill="none" stroke="{frame.colours[index]}" stroke-width="2"'
                     + (f' stroke-dasharray="{dash}"/>' if dash else "/>"))
        for x, y, category, value in points:
            marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{frame.colours[index]}">'
                         f"{_tooltip(category, name, fmt(value))}</circle>")
    return frame.render(marks)
