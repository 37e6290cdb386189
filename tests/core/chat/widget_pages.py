"""Helpers for the widget's browser tests: device profiles, host pages, geometry, screenshots,
contrast and axe-core."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                         "has_touch": True, "device_scale_factor": 2}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
QUESTION = "How do I reset my password?"
DEFAULT_ACCENT = (36, 87, 214)  # #2457d6
WHITE = (255, 255, 255)
BUBBLE = (241, 243, 245)  # an answer's background

RGB = tuple[int, int, int]


def open_host_page(page: Any, base: str, *, attrs: dict[str, str] | None = None, body: str = "",
                   head: str = "", responsive: bool = True) -> None:
    """Open a host site's page (served at `base`, so same origin as the widget) that embeds
    widget.js with `attrs` as its script tag's attributes. Not `responsive`: no viewport tag,
    so a phone lays it out 980 px wide and zooms out."""
    url = f"{base}/host-site.html"
    tag_attrs = " ".join(f'{name}="{escape(value)}"' for name, value in (attrs or {}).items())
    viewport = ('<meta name="viewport" content="width=device-width, initial-scale=1">'
                if responsive else "")
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{viewport}'
            f"<title>A host site</title>{head}</head><body>{body}"
            f'<script src="/widget.js" data-endpoint="/chatkit" {tag_attrs}></script>'
            "</body></html>")
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(url)


def widget(page: Any, test_id: str) -> Any:
    return page.get_by_test_id(f"deskpilot-{test_id}")


def visual_viewport(page: Any) -> dict[str, float]:
    return page.evaluate("""() => ({x: visualViewport.offsetLeft, y: visualViewport.offsetTop,
        width: visualViewport.width, height: visualViewport.height})""")


def assert_inside_viewport(page: Any, box: dict[str, float] | None, what: str) -> None:
    """`box` (a bounding box) lies within what is on screen: the visual viewport."""
    assert box is not None, f"{what} is not rendered"
    view = visual_viewport(page)
    slack = 0.5  # sub-pixel rounding
    inside = (box["x"] >= view["x"] - slack and box["y"] >= view["y"] - slack
              and box["x"] + box["width"] <= view["x"] + view["width"] + slack
              and box["y"] + box["height"] <= view["y"] + view["height"] + slack)
    assert inside, f"{what} at {box} is outside the visual viewport {view}"


def assert_fills_viewport(page: Any, box: dict[str, float] | None, what: str) -> None:
    assert box is not None, f"{what} is not rendered"
    view = visual_viewport(page)
    for key in ("x", "y", "width", "height"):
        assert abs(box[key] - view[key]) <= 1, f"{what} at {box} does not fill the screen {view}"


def center(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


_PIXELS = """async ([data, points, cssWidth]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const scale = image.width / cssWidth;
  return points.map(([x, y]) => Array.from(
    context.getImageData(Math.floor(x * scale), Math.floor(y * scale), 1, 1).data.slice(0, 3)));
}"""


def screenshot_pixels(page: Any, path: Path, points: list[tuple[float, float]]) -> list[RGB]:
    """Take a screenshot to `path` and read the colours at `points` back from the image itself,
    decoded by the browser on a blank page. Points are CSS px from the visual viewport's corner,
    like bounding boxes (on a page zoomed 2x, the screen's middle is at half its CSS size)."""
    png = page.screenshot(path=str(path))
    width = visual_viewport(page)["width"]
    decoder = page.context.new_page()
    try:
        pixels = decoder.evaluate(_PIXELS, [base64.b64encode(png).decode(), points, width])
    finally:
        decoder.close()
    return [tuple(pixel) for pixel in pixels]


def same_colour(a: RGB, b: RGB, tolerance: int = 3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def parse_rgb(css: str) -> RGB:
    """`rgb(r, g, b)` as computed styles give it."""
    inner = css[css.index("(") + 1:css.index(")")].replace(",", " ").split()
    return int(float(inner[0])), int(float(inner[1])), int(float(inner[2]))


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio of two opaque sRGB colours."""
    def luminance(colour: RGB) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                  for c in colour]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colours(locator: Any) -> tuple[RGB, RGB]:
    """An element's computed (text colour, background colour)."""
    color, background = locator.evaluate(
        "node => [getComputedStyle(node).color, getComputedStyle(node).backgroundColor]")
    return parse_rgb(color), parse_rgb(background)


def serious_accessibility_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page (open shadow roots included), one
    line each. axe-core comes bundled in the axe-playwright-python package: nothing is fetched."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def sse(*events: dict[str, Any]) -> str:
    return "".join(f"data: {json.dumps(event)}\n\n" for event in events)


def scripted_answer(text: str, source_title: str, source_url: str) -> str:
    """A ChatKit stream that creates a thread and answers once, citing one source."""
    thread = {"id": "thr_scripted", "created_at": "2026-01-01T00:00:00",
              "status": {"type": "active"}, "items": {"data": [], "has_more": False}}
    item = {"type": "assistant_message", "id": "msg_1", "thread_id": "thr_scripted",
            "created_at": "2026-01-01T00:00:00",
            "content": [{"type": "output_text", "text": text, "annotations": [
                {"type": "annotation", "source": {"type": "url", "url": source_url,
                                                  "title": source_title}}]}]}
    return sse({"type": "thread.created", "thread": thread},
               {"type": "thread.item.added", "item": {**item, "content": []}},
               {"type": "thread.item.done", "item": item})
