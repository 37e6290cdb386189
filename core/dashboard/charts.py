"""Line charts as SVG markup, drawn on the server (the dashboard loads no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]  # 0..1; None: no point that day
    colour: str  # a colour from the stylesheet's palette (contrast-checked on white)


def rate_chart(title: str, days: Sequence[str], series: Sequence[Series]) -> Markup:
    """Rates (0–100 %) per day: one polyline per series, gaps where a day has no value."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(v: float) -> float:
        return round(TOP + plot_h * (1 - v), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" class="chart">',
             f"<title>{escape(title)}</title>"]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" y2="{y(tick)}" '
                     'stroke="#d0d4da" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4}" text-anchor="end" '
                     f'font-size="11" fill="#444">{int(tick * 100)}%</text>')
    labelled = sorted({0, len(days) - 1, *range(0, len(days), max(len(days) // 6, 1))})
    for i in labelled:
        if 0 <= i < len(days):
            parts.append(f'<text x="{x(i)}" y="{HEIGHT - 8}" text-anchor="middle" '
                         f'font-size="11" fill="#444">{escape(days[i][5:])}</text>')
    for s in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i)},{y(value)}")
            parts.append(f'<circle cx="{x(i)}" cy="{y(value)}" r="2.5" fill="{s.colour}">'
                         f"<title>{escape(s.label)} {escape(days[i])}: "
                         f"{round(value * 100, 1)}%</title></circle>")
        parts += [f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" '
                  f'points="{" ".join(run)}"/>' for run in runs if len(run) > 1]
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> Markup:
    """One bar per label (e.g. the cost of each day), scaled to the largest."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(values, default=0) or 1
    slot = plot_w / max(len(labels), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" class="chart">',
             f"<title>{escape(title)}</title>"]
    for tick in (0, 0.5, 1):
        y = round(TOP + plot_h * (1 - tick), 1)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" '
                     'stroke="#d0d4da" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" font-size="11" '
                     f'fill="#444">{top * tick:.2f}</text>')
    every = max(len(labels) // 6, 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = round(plot_h * value / top, 1)
        x = round(LEFT + i * slot + slot * 0.15, 1)
        parts.append(f'<rect x="{x}" y="{round(TOP + plot_h - height, 1)}" '
                     f'width="{round(slot * 0.7, 1)}" height="{height}" fill="#1f4fa3">'
                     f"<title>{escape(label)}: {value:.4f} {escape(unit)}</title></rect>")
        if i % every == 0 or i == len(labels) - 1:
            parts.append(f'<text x="{round(x + slot * 0.35, 1)}" y="{HEIGHT - 8}" '
                         f'text-anchor="middle" font-size="11" fill="#444">'
                         f"{escape(label[5:] if len(label) == 10 else label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
