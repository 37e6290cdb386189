"""The dashboard's charts (rates per day, model cost per day), drawn on the server as SVG on
the shared plot area (`core/charts.py`): the dashboard loads no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from deskpilot.core.charts import Plot

PLOT = Plot(width=640, height=220, left=44, right=12, top=12, bottom=28)
BAR = "#1f4fa3"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]  # 0..1; None: no point that day
    colour: str  # a colour from the stylesheet's palette (contrast-checked on white)


def _day_x(i: int, days: Sequence[str]) -> float:
    return PLOT.x(i / max(len(days) - 1, 1))


def rate_chart(title: str, days: Sequence[str], series: Sequence[Series]) -> Markup:
    """Rates (0–100 %) per day: one polyline per series, gaps where a day has no value."""
    parts = [PLOT.percent_grid()]
    labelled = sorted({0, len(days) - 1, *range(0, len(days), max(len(days) // 6, 1))})
    parts += [PLOT.x_label(_day_x(i, days), days[i][5:]) for i in labelled
              if 0 <= i < len(days)]
    for s in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x, y = _day_x(i, days), PLOT.y(value)
            runs[-1].append(f"{x},{y}")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{s.colour}">'
                         f"<title>{escape(s.label)} {escape(days[i])}: "
                         f"{round(value * 100, 1)}%</title></circle>")
        parts += [f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" '
                  f'points="{" ".join(run)}"/>' for run in runs if len(run) > 1]
    return Markup(PLOT.svg(title, "".join(parts)))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> Markup:
    """One bar per label (e.g. the cost of each day), scaled to the largest."""
    top = max(values, default=0) or 1
    slot = 1 / max(len(labels), 1)  # of the plot area's width
    parts = [PLOT.grid((0, 0.5, 1), lambda t: f"{top * t:.2f}")]
    every = max(len(labels) // 6, 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        parts.append(f'<rect {PLOT.bar(i * slot + slot * 0.15, slot * 0.7, value / top)} '
                     f'fill="{BAR}"><title>{escape(label)}: {value:.4f} {escape(unit)}</title>'
                     "</rect>")
        if i % every == 0 or i == len(labels) - 1:
            parts.append(PLOT.x_label(PLOT.x((i + 0.5) * slot),
                                      label[5:] if len(label) == 10 else label))
    return Markup(PLOT.svg(title, "".join(parts)))
