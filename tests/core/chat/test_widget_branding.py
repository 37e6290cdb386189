"""A company brands the widget from its script tag or with `Deskpilot.configure`: title, accent,
launcher label and position, greeting, suggested questions, language. Real `deskpilot serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .widget_pages import (
    DEFAULT_ACCENT,
    DESKTOP,
    PHONE,
    QUESTION,
    assert_inside_viewport,
    colours,
    open_host_page,
    widget,
)

pytestmark = pytest.mark.browser

YELLOW = (255, 212, 0)
GREEN = (10, 127, 63)
BRANDED = {
    "data-title": "Acme Hilfe",
    "data-accent": "#ffd400",
    "data-launcher-label": "Fragen Sie uns",
    "data-position": "left",
    "data-greeting": "Willkommen bei Acme!",
    "data-lang": "de",
    "data-prompts": f"{QUESTION}|Wo finde ich meine Rechnungen?|Wie verbinde ich eine Domain?",
}


def test_script_tag_attributes_brand_the_widget_in_german(
        live_server: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    open_host_page(page, live_server, attrs=BRANDED, body="<main><h1>Acme</h1></main>")
    launcher = widget(page, "launcher")
    expect(launcher).to_have_text("Fragen Sie uns")
    text, background = colours(launcher)
    assert background == YELLOW and text == (0, 0, 0)  # dark text on a light accent
    box = launcher.bounding_box()
    assert_inside_viewport(page, box, "launcher")
    assert box["x"] < 40  # bottom left

    launcher.click()
    panel = widget(page, "panel")
    expect(panel).to_have_accessible_name("Acme Hilfe-Chat")
    expect(panel.locator(".title")).to_have_text("Acme Hilfe")
    assert panel.bounding_box()["x"] < 40
    expect(widget(page, "start")).to_contain_text("Willkommen bei Acme!")
    expect(widget(page, "prompt")).to_have_text(BRANDED["data-prompts"].split("|"))
    # German UI strings throughout.
    expect(page.locator(".ui")).to_have_attribute("lang", "de")
    expect(widget(page, "close")).to_have_accessible_name("Chat schließen")
    expect(page.get_by_label("Ihre Nachricht")).to_have_attribute(
        "placeholder", "Stellen Sie eine Frage…")
    expect(widget(page, "send")).to_have_accessible_name("Senden")
    expect(widget(page, "handoff")).to_have_accessible_name("Mit einem Menschen sprechen")
    page.screenshot(path=str(tmp_path / "branded-start.png"))

    # A suggested question is sent as if typed; the start screen then gives way.
    widget(page, "prompt").first.click()
    expect(widget(page, "log").locator(".msg.user")).to_have_text(QUESTION)
    expect(widget(page, "start")).to_be_hidden()
    expect(widget(page, "input")).to_be_focused()
    answer = widget(page, "answer").first
    expect(answer.get_by_test_id("deskpilot-source").first).to_be_visible(timeout=30_000)
    expect(answer.get_by_role("list", name="Quellen")).to_be_visible()
    expect(answer.get_by_test_id("deskpilot-feedback-positive")).to_have_accessible_name(
        "Hilfreich")
    expect(answer.get_by_test_id("deskpilot-feedback-negative")).to_have_accessible_name(
        "Nicht hilfreich")
    expect(widget(page, "status")).to_contain_text("Acme Hilfe:")
    page.screenshot(path=str(tmp_path / "branded-answer.png"))

    # The button asks for a person in German, and the hand-over answers in German.
    widget(page, "handoff").click()
    expect(widget(page, "log").locator(".msg.user").last).to_have_text(
        "Ich möchte mit einem Menschen sprechen")
    expect(widget(page, "answer").last).to_contain_text("E-Mail-Adresse", timeout=30_000)
    context.close()


def test_js_api_configures_the_live_widget(live_server: str, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/")
    launcher = widget(page, "launcher")
    expect(launcher).to_have_text("Chat with Support")
    page.evaluate("""Deskpilot.configure({title: "Acme", accent: "#0a7f3f", position: "left",
        launcherLabel: "Help", greeting: "Hello from Acme", prompts: ["First?", "Second?"]})""")
    expect(launcher).to_have_text("Help")
    text, background = colours(launcher)
    assert background == GREEN and text == (255, 255, 255)
    assert launcher.bounding_box()["x"] < 40
    page.evaluate("Deskpilot.open()")
    expect(widget(page, "panel")).to_be_visible()
    expect(widget(page, "start")).to_contain_text("Hello from Acme")
    expect(widget(page, "prompt")).to_have_text(["First?", "Second?"])
    expect(widget(page, "close")).to_have_accessible_name("Close chat")

    page.evaluate('Deskpilot.configure({lang: "de-AT"})')  # a regional tag picks its language
    expect(widget(page, "close")).to_have_accessible_name("Chat schließen")
    expect(widget(page, "send")).to_have_accessible_name("Senden")
    expect(widget(page, "prompt")).to_have_text(["First?", "Second?"])  # the rest is kept
    page.evaluate('Deskpilot.configure({lang: "fr-CA"})')
    expect(widget(page, "close")).to_have_accessible_name("Fermer la discussion")
    expect(widget(page, "handoff")).to_have_accessible_name("Parler à une personne")
    page.evaluate("Deskpilot.close()")
    expect(widget(page, "panel")).to_be_hidden()
    context.close()


@pytest.mark.parametrize(("options", "message"), [
    ({"colour": "red"}, 'unknown option "colour"'),
    ({"accent": "not-a-colour"}, '"not-a-colour" is not a CSS colour'),
    ({"position": "top"}, 'position must be "left" or "right"'),
    ({"prompts": ["1?", "2?", "3?", "4?", "5?"]}, "at most 4 suggested questions, got 5"),
    ({"prompts": "just one?"}, "prompts must be a list of strings"),
    ({"lang": "ja"}, '"ja" is not shipped (en, de, fr, es, it, nl, pt)'),
])
def test_bad_options_are_refused_with_a_clear_error(
        live_server: str, browser, options: dict, message: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server}/")
    error = page.evaluate("""options => {
        try { Deskpilot.configure(options); return null; } catch (e) { return e.message; }
    }""", options)
    assert error is not None and message in error
    expect(widget(page, "launcher")).to_have_text("Chat with Support")  # nothing half-applied
    assert colours(widget(page, "launcher"))[1] == DEFAULT_ACCENT
    context.close()


def test_bad_attribute_warns_and_keeps_the_default(live_server: str, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text)
            if message.type == "warning" else None)
    open_host_page(page, live_server, attrs={"data-accent": "blurple", "data-title": "Acme"})
    expect(widget(page, "launcher")).to_have_text("Chat with Acme")  # the good one applies
    assert colours(widget(page, "launcher"))[1] == DEFAULT_ACCENT
    assert any('data-accent: "blurple" is not a CSS colour' in w for w in warnings), warnings
    context.close()


@pytest.mark.parametrize(("locale", "launcher_text", "send"), [
    ("de-DE", "Chat mit Support", "Senden"),
    ("fr-FR", "Discuter avec Assistance", "Envoyer"),
    ("ja-JP", "Chat with Support", "Send"),  # not shipped: English
])
def test_language_follows_the_browser_without_data_lang(
        live_server: str, browser, locale: str, launcher_text: str, send: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(**DESKTOP, locale=locale)
    page = context.new_page()
    page.goto(f"{live_server}/")
    expect(widget(page, "launcher")).to_have_text(launcher_text)
    widget(page, "launcher").click()
    expect(widget(page, "send")).to_have_accessible_name(send)
    context.close()
