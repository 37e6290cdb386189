"""The widget in a real browser against a real `deskpilot serve`: offline model, demo knowledge.

Drives Debian's Chromium with Playwright (conftest's `browser`); the server is conftest's
`live_server`. Layout, accessibility and branding: the test_widget_*.py files beside this one.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

QUESTION = "How do I reset my password?"


def test_ask_see_cited_streamed_answer_then_history_after_reload(live_server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{live_server}/")
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill(QUESTION)
    page.get_by_role("button", name="Send").click()

    answer = page.get_by_test_id("deskpilot-answer").first
    expect(answer).to_contain_text("password", timeout=30_000)
    source = answer.get_by_test_id("deskpilot-source").first
    expect(source).to_be_visible(timeout=30_000)
    assert source.get_attribute("href").startswith("https://")
    expect(page.get_by_test_id("deskpilot-error")).to_be_empty()
    assert page.evaluate("() => Object.keys(localStorage).some(k => k.startsWith('deskpilot.'))")
    answer_text = answer.inner_text()

    page.get_by_test_id("deskpilot-feedback-positive").first.click()
    expect(page.get_by_test_id("deskpilot-feedback-positive").first).to_have_attribute(
        "aria-pressed", "true")

    page.reload()
    page.get_by_test_id("deskpilot-launcher").click()
    log = page.get_by_test_id("deskpilot-log")
    expect(log).to_contain_text(QUESTION, timeout=15_000)
    history_answer = page.get_by_test_id("deskpilot-answer").first
    expect(history_answer).to_contain_text(answer_text.splitlines()[0])
    expect(history_answer.get_by_test_id("deskpilot-source").first).to_be_visible()
    page.close()


def test_text_deltas_render_as_they_arrive(live_server: str, browser) -> None:
    """A scripted stream with deltas and no finished item: what shows came from the deltas."""
    from playwright.sync_api import expect

    def frame(event: dict) -> str:
        return f"data: {json.dumps(event)}\n\n"

    thread = {"id": "thr_scripted", "created_at": "2026-01-01T00:00:00",
              "status": {"type": "active"}, "items": {"data": [], "has_more": False}}
    item = {"type": "assistant_message", "id": "msg_1", "thread_id": "thr_scripted",
            "created_at": "2026-01-01T00:00:00", "content": []}
    body = frame({"type": "thread.created", "thread": thread}) + frame(
        {"type": "thread.item.added", "item": item}) + "".join(
        frame({"type": "thread.item.updated", "item_id": "msg_1", "update": {
            "type": "assistant_message.content_part.text_delta", "content_index": 0,
            "delta": word}}) for word in ("Open ", "Billing ", "to ", "download."))
    page = browser.new_page()
    page.goto(f"{live_server}/")
    page.route("**/chatkit", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=body))
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill("How can I download my invoices?")
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_test_id("deskpilot-answer")).to_have_text("Open Billing to download.")
    expect(page.get_by_test_id("deskpilot-error")).to_be_empty()
    page.close()


def test_talk_to_a_person_sends_the_handoff_message(live_server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{live_server}/")
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_test_id("deskpilot-handoff").click()
    expect(page.get_by_test_id("deskpilot-log")).to_contain_text(
        "I'd like to talk to a person", timeout=15_000)
    expect(page.get_by_test_id("deskpilot-answer").first).to_contain_text("person",
                                                                          timeout=30_000)
    page.close()


def test_http_errors_are_shown(live_server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{live_server}/")
    # A failing endpoint must show a visible error line, not a silent spinner.
    page.route("**/chatkit", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": "chat is down"}'))
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill("hello")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("deskpilot-error")).to_have_text("chat is down")
    page.close()
