"""The widget with a keyboard only, for screen readers, and through axe-core, against a real
`deskpilot serve` (offline model, demo knowledge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .widget_pages import (
    BUBBLE,
    DESKTOP,
    PHONE,
    QUESTION,
    WHITE,
    colours,
    contrast_ratio,
    open_host_page,
    scripted_answer,
    serious_accessibility_violations,
    widget,
)

pytestmark = pytest.mark.browser

FOCUSED_TEST_ID = """() => {
    const active = document.activeElement;
    const inner = active && active.shadowRoot ? active.shadowRoot.activeElement : active;
    return inner ? inner.dataset.testid || inner.tagName : null;
}"""


def press_tab_until(page, test_id: str, key: str = "Tab", limit: int = 12) -> int:
    """Press `key` until the widget's `test_id` element has focus; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate(FOCUSED_TEST_ID) == f"deskpilot-{test_id}":
            return presses
    raise AssertionError(f"{key} x{limit} never reached {test_id}")


def test_keyboard_only_conversation(live_server: str, browser, tmp_path: Path) -> None:
    """Open, type, send, reach the sources, give feedback, close with Escape: no mouse; the
    answer is announced through a polite live region."""
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server}/")
    launcher = widget(page, "launcher")
    press_tab_until(page, "launcher")
    page.keyboard.press("Enter")
    expect(widget(page, "panel")).to_be_visible()
    expect(widget(page, "input")).to_be_focused()

    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    answer = widget(page, "answer").first
    expect(answer.get_by_test_id("deskpilot-source").first).to_be_visible(timeout=30_000)
    status = widget(page, "status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("password")  # the answer itself is read out, once complete
    expect(widget(page, "handoff")).to_be_enabled()  # the stream has ended

    # Back from the composer: past "talk to a person" and the feedback to the sources.
    assert press_tab_until(page, "source", key="Shift+Tab") == 4
    source = page.evaluate("""() => document.getElementById('deskpilot-widget').shadowRoot
        .activeElement.href""")
    assert source.startswith("https://")
    page.keyboard.press("Tab")
    helpful = answer.get_by_test_id("deskpilot-feedback-positive")
    expect(helpful).to_be_focused()
    page.keyboard.press("Enter")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(status).to_have_text("Thanks for your feedback")
    page.screenshot(path=str(tmp_path / "keyboard-feedback.png"))

    page.keyboard.press("Escape")
    expect(widget(page, "panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    context.close()


def test_phone_full_screen_panel_is_a_modal_dialog(live_server: str, browser) -> None:
    """Full-screen there is nothing else to reach: Tab cycles inside the panel."""
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/")
    widget(page, "launcher").tap()
    panel = widget(page, "panel")
    expect(panel).to_have_attribute("aria-modal", "true")
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel).to_have_accessible_name("Support chat")
    widget(page, "send").focus()
    page.keyboard.press("Tab")
    expect(widget(page, "close")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(widget(page, "send")).to_be_focused()
    context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_axe_finds_no_serious_violation(live_server: str, browser, device: str) -> None:
    """Closed, open on the start screen, and with a cited answer and feedback given."""
    from playwright.sync_api import expect

    context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
    page = context.new_page()
    page.goto(f"{live_server}/")
    assert serious_accessibility_violations(page) == []
    widget(page, "launcher").click()
    expect(widget(page, "prompt").first).to_be_visible()
    assert serious_accessibility_violations(page) == []
    widget(page, "prompt").first.click()
    expect(widget(page, "source").first).to_be_visible(timeout=30_000)
    widget(page, "feedback-negative").click()
    expect(widget(page, "feedback-negative")).to_have_attribute("aria-pressed", "true")
    assert serious_accessibility_violations(page) == []

    # The checker sees inside the widget's shadow root: unreadable text there is reported.
    page.evaluate("""document.getElementById('deskpilot-widget').shadowRoot.querySelector('.ui')
        .style.setProperty('--on-accent', 'rgb(60, 100, 220)')""")
    assert any(line.startswith("color-contrast") for line in serious_accessibility_violations(page))
    context.close()


# Light, dark, a named colour, mid-grey (the hardest case: white reaches only 4.48:1), and a
# colour space that computed styles do not turn into rgb().
@pytest.mark.parametrize("accent", ["#ffd400", "#0a7f3f", "hotpink", "#777777",
                                    "oklch(0.85 0.17 90)"])
def test_custom_accent_gets_readable_text(live_server: str, browser, accent: str) -> None:
    """WCAG AA (4.5:1) for text on the accent and for accent-coloured text on the panel."""
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    open_host_page(page, live_server, attrs={"data-accent": accent, "data-prompts": QUESTION},
                   body="<main><h1>A host site</h1></main>")
    page.route("**/chatkit", lambda route: route.fulfill(
        status=200, content_type="text/event-stream",
        body=scripted_answer("Use the sign-in page.", "Reset your password",
                             "https://help.example/reset")))
    launcher = widget(page, "launcher")
    text, background = colours(launcher)
    assert contrast_ratio(text, background) >= 4.5, (accent, text, background)
    launcher.click()
    prompt_text, prompt_background = colours(widget(page, "prompt"))
    assert prompt_background == WHITE
    assert contrast_ratio(prompt_text, WHITE) >= 4.5, (accent, prompt_text)
    widget(page, "prompt").click()
    source = widget(page, "source")
    expect(source).to_be_visible()
    link_text, _ = colours(source)
    assert contrast_ratio(link_text, BUBBLE) >= 4.5, (accent, link_text)
    user_text, user_background = colours(page.locator(".msg.user"))
    assert user_background == background  # the accent itself is kept where it is a background
    assert contrast_ratio(user_text, user_background) >= 4.5
    assert serious_accessibility_violations(page) == []
    context.close()
