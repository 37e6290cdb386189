"""Where the widget is on screen, on a phone (390 × 844, touch) and on a desktop, against a real
`deskpilot serve`. Each test takes a screenshot (into its tmp_path) and checks the launcher and
the panel on it: their boxes lie inside the visual viewport, and the image shows them there."""

from __future__ import annotations

from pathlib import Path

import pytest

from .widget_pages import (
    DEFAULT_ACCENT,
    DESKTOP,
    PHONE,
    WHITE,
    assert_fills_viewport,
    assert_inside_viewport,
    center,
    open_host_page,
    same_colour,
    screenshot_pixels,
    widget,
)

pytestmark = pytest.mark.browser

DARK = (32, 38, 46)  # the host pages' background below: a panel covering it is seen
WIDE_PAGE = ('<main><h1>A host page wider than a phone</h1>'
             '<div style="width:1200px;height:2400px;background:#20262e"></div></main>')
DARK_HEAD = "<style>body{margin:0;background:#20262e;color:#fff}</style>"


def launcher_fill_point(box: dict[str, float]) -> tuple[float, float]:
    """A point of the launcher's own background: inside its right padding, mid-height."""
    return box["x"] + box["width"] - 6, box["y"] + box["height"] / 2


def test_phone_demo_page_launcher_on_screen_tap_opens_full_screen(
        live_server: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/")
    # The page itself fits the phone: nothing to scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    launcher = widget(page, "launcher")
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher")
    # Bottom right, where it is placed by default, clear of the edges.
    assert 390 - 40 < box["x"] + box["width"] < 390 and box["y"] > 844 - 100
    [fill] = screenshot_pixels(page, tmp_path / "phone-closed.png", [launcher_fill_point(box)])
    assert same_colour(fill, DEFAULT_ACCENT), f"launcher not seen on screen: {fill}"

    page.touchscreen.tap(*center(box))
    panel = widget(page, "panel")
    expect(panel).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    assert_fills_viewport(page, panel.bounding_box(), "panel")
    # Opened by touch: focus goes to the panel, so the keyboard does not pop up uninvited.
    expect(panel).to_be_focused()

    close = widget(page, "close")
    close_box = close.bounding_box()
    assert_inside_viewport(page, close_box, "close button")
    assert close_box["width"] >= 44 and close_box["height"] >= 44  # a finger-sized target
    header, bottom_left = screenshot_pixels(page, tmp_path / "phone-open.png",
                                            [(4, 4), (4, 844 - 4)])
    assert same_colour(header, DEFAULT_ACCENT), f"no header at the top of the screen: {header}"
    assert same_colour(bottom_left, WHITE), f"no composer at the bottom: {bottom_left}"

    close.tap()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    context.close()


def test_phone_host_page_wider_than_the_screen_then_pinch_zoomed(
        live_server: str, browser, tmp_path: Path) -> None:
    """A host page that overflows widens the layout viewport past the screen, and zoom shrinks
    the visual viewport: the launcher and panel follow what is on screen, at natural size."""
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    open_host_page(page, live_server, body=WIDE_PAGE, head=DARK_HEAD)
    assert page.evaluate("document.documentElement.scrollWidth") > 1000  # the page overflows

    launcher = widget(page, "launcher")
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher on an overflowing page")
    [fill] = screenshot_pixels(page, tmp_path / "phone-wide-page.png", [launcher_fill_point(box)])
    assert same_colour(fill, DEFAULT_ACCENT), f"launcher not seen on screen: {fill}"

    # Pinch zoom to 2x (what a visitor's two fingers do).
    context.new_cdp_session(page).send("Emulation.setPageScaleFactor", {"pageScaleFactor": 2})
    page.wait_for_function("visualViewport.scale === 2")
    # The widget re-fits on the visual viewport's resize event; until then this waits.
    page.wait_for_function("""() => {
        const r = document.getElementById('deskpilot-widget').shadowRoot
          .querySelector('.launcher').getBoundingClientRect();
        return r.right <= visualViewport.offsetLeft + visualViewport.width
          && r.bottom <= visualViewport.offsetTop + visualViewport.height;
    }""", timeout=5_000)
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher when zoomed in")
    # Counter-scaled: on screen it is as large as before the zoom, not twice as large.
    assert box["height"] == pytest.approx(48 / 2, abs=1)

    page.touchscreen.tap(*center(box))
    panel = widget(page, "panel")
    expect(panel).to_be_visible()
    assert_fills_viewport(page, panel.bounding_box(), "panel when zoomed in")
    corners = [(2, 2), (390 - 2, 2), (2, 844 - 2), (390 - 2, 844 - 2), (195, 422)]
    pixels = screenshot_pixels(page, tmp_path / "phone-zoomed-open.png",
                               [(x / 2, y / 2) for x, y in corners])
    assert not any(same_colour(pixel, DARK, tolerance=10) for pixel in pixels), \
        f"the host page shows through the full-screen panel: {pixels}"
    assert same_colour(pixels[0], DEFAULT_ACCENT)
    context.close()


def test_phone_desktop_only_host_page_zoomed_out(live_server: str, browser, tmp_path: Path) -> None:
    """A host page without a viewport tag is laid out 980 px wide and shown zoomed out: the
    widget still appears at its natural size, and opens full-screen."""
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    open_host_page(page, live_server, body="<main><h1>A desktop-only site</h1></main>",
                   head=DARK_HEAD, responsive=False)
    scale = page.evaluate("visualViewport.scale")
    assert scale < 0.5  # zoomed out to fit 980 CSS px on the phone
    launcher = widget(page, "launcher")
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher on a zoomed-out page")
    assert box["height"] * scale == pytest.approx(48, abs=1)  # 48 px on screen, not 19

    page.touchscreen.tap(*center(box))
    panel = widget(page, "panel")
    expect(panel).to_be_visible()
    assert_fills_viewport(page, panel.bounding_box(), "panel on a zoomed-out page")
    corners = [(2, 2), (388, 2), (2, 842), (388, 842)]
    pixels = screenshot_pixels(page, tmp_path / "phone-zoomed-out-open.png",
                               [(x / scale, y / scale) for x, y in corners])
    assert not any(same_colour(pixel, DARK, tolerance=10) for pixel in pixels), pixels
    context.close()


def test_phone_composer_stays_above_the_on_screen_keyboard(
        live_server: str, browser, tmp_path: Path) -> None:
    """An on-screen keyboard leaves the visual viewport shorter; here the viewport itself is made
    as short (headless Chromium has no keyboard), and the composer must stay on screen."""
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/")
    widget(page, "launcher").tap()
    widget(page, "input").tap()
    expect(widget(page, "input")).to_be_focused()

    page.set_viewport_size({"width": 390, "height": 470})  # what a keyboard leaves of 844
    page.wait_for_function("""() => document.getElementById('deskpilot-widget').shadowRoot
        .querySelector('.panel').getBoundingClientRect().height === visualViewport.height""",
                           timeout=5_000)
    for name in ("input", "send", "close"):
        assert_inside_viewport(page, widget(page, name).bounding_box(), name)
    send = widget(page, "send").bounding_box()
    [pixel] = screenshot_pixels(page, tmp_path / "phone-keyboard.png", [center(send)])
    assert not same_colour(pixel, WHITE), "the send button is not on the screenshot"
    context.close()


def test_phone_safe_area_insets_keep_controls_clear_of_notch_and_home_bar(
        live_server: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    context.new_cdp_session(page).send("Emulation.setSafeAreaInsetsOverride", {
        "insets": {"top": 47, "bottom": 34, "left": 0, "right": 0}})
    page.goto(f"{live_server}/")  # the demo page has viewport-fit=cover, as a notch-aware site
    launcher = widget(page, "launcher").bounding_box()
    assert launcher["y"] + launcher["height"] <= 844 - 34
    widget(page, "launcher").tap()
    expect(widget(page, "panel")).to_be_visible()
    assert widget(page, "close").bounding_box()["y"] >= 47
    composer = widget(page, "input").bounding_box()
    assert composer["y"] + composer["height"] <= 844 - 34
    page.screenshot(path=str(tmp_path / "phone-safe-area.png"))
    context.close()


def test_desktop_launcher_bottom_right_panel_above_it(
        live_server: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server}/")
    launcher = widget(page, "launcher")
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher")
    assert box["x"] > 1280 - 300 and box["y"] > 800 - 100
    [fill] = screenshot_pixels(page, tmp_path / "desktop-closed.png", [launcher_fill_point(box)])
    assert same_colour(fill, DEFAULT_ACCENT), f"launcher not seen on screen: {fill}"

    launcher.click()
    panel = widget(page, "panel")
    expect(panel).to_be_visible()
    expect(widget(page, "input")).to_be_focused()  # opened by mouse: ready to type
    panel_box = panel.bounding_box()
    assert_inside_viewport(page, panel_box, "panel")
    assert panel_box["width"] <= 400 and panel_box["height"] <= 620  # a panel, not full-screen
    assert panel_box["y"] + panel_box["height"] <= box["y"]  # above the launcher
    header, page_margin = screenshot_pixels(page, tmp_path / "desktop-open.png", [
        (panel_box["x"] + panel_box["width"] / 2, panel_box["y"] + 3), (10, panel_box["y"] + 40)])
    assert same_colour(header, DEFAULT_ACCENT), f"panel header not on screen: {header}"
    assert same_colour(page_margin, WHITE), "the panel covers more than its corner"
    context.close()
