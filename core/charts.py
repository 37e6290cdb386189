"""SVG charts drawn on the server, for pages that load no script (the operator dashboard, the
simulation report): a plot area with both axes running over [0, 1], its frame, grid and
labels. The charts themselves, which know their data, are in `core/dashboard/charts.py` and
`core/simulation/html.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

GRID = "#d0d4da"  # light enough to stay behind the data
INK = "#444"  # labels: 9.7:1 on white


@dataclass(frozen=True)
class Plot:
    """A `width` × `height` chart whose plot area leaves these margins for labels."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, fraction: float) -> float:
        """Where `fraction` (0: left edge of the plot area, 1: right edge) is drawn."""
        return round(self.left + fraction * self.inner_width, 1)

    def y(self, value: float) -> float:
        """Where `value` (0: bottom of the plot area, 1: top) is drawn."""
        return round(self.top + (1 - value) * self.inner_height, 1)

    def grid(self, ticks: Sequence[float], label: Callable[[float], str]) -> str:
        """A labelled horizontal line at each tick value."""
        return "".join(
            f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{self.y(t)}" '
            f'y2="{self.y(t)}" stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{self.left - 6}" y="{self.y(t) + 4}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{escape(label(t))}</text>' for t in ticks)

    def percent_grid(self) -> str:
        """The grid of a chart of shares: 0, 25, 50, 75 and 100 %."""
        return self.grid((0, 0.25, 0.5, 0.75, 1), lambda t: f"{int(t * 100)}%")

    def bar(self, start: float, width: float, value: float) -> str:
        """A bar's geometry attributes: from `start` over `width` (fractions of the plot
        area's width), up from the bottom to `value` (0 to 1)."""
        top = self.y(value)
        return (f'x="{self.x(start)}" y="{top}" width="{round(width * self.inner_width, 1)}" '
                f'height="{round(self.y(0) - top, 1)}"')

    def x_label(self, x: float, text: str) -> str:
        """A label under the plot area, centred on `x` (chart coordinates)."""
        return (f'<text x="{x}" y="{self.height - self.bottom + 14}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{escape(text)}</text>')

    def axis_titles(self, x_title: str, y_title: str) -> str:
        """What each axis measures: under the x labels, and turned along the left edge."""
        middle = round(self.top + self.inner_height / 2, 1)
        return (f'<text x="{self.x(0.5)}" y="{self.height - 6}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{escape(x_title)}</text>'
                f'<text x="12" y="{middle}" text-anchor="middle" font-size="11" fill="{INK}" '
                f'transform="rotate(-90 12 {middle})">{escape(y_title)}</text>')

    def svg(self, title: str, body: str, *, name: str | None = None, sized: bool = False
            ) -> str:
        """The chart: an image named `title` for screen readers. `name` is its id; `sized`
        gives it its natural size (a page without a stylesheet that scales charts)."""
        attributes = f' id="{escape(name)}"' if name else ""
        if sized:
            attributes += f' width="{self.width}" height="{self.height}"'
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} '
                f'{self.height}" role="img" aria-label="{escape(title)}" class="chart"'
                f'{attributes}><title>{escape(title)}</title>{body}</svg>')
