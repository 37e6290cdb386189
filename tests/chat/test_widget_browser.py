"""The widget in a real browser against a real `deskpilot serve`: offline model, demo knowledge.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; skipped when it is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ADMIN_TOKEN = "browser-test-token"
# The first sync of the demo help center embeds every article on CPU.
SYNC_TIMEOUT = 300
QUESTION = "How do I reset my password?"


def _wait_for_demo_knowledge(base: str) -> None:
    """Until the startup sync of the demo connector has succeeded (serve runs it when empty)."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    while time.monotonic() < deadline:
        try:
            runs = httpx.get(f"{base}/v1/sync", params={"connector": "demo"}, headers=headers,
                             timeout=5).json().get("demo", [])
        except (httpx.HTTPError, ValueError):
            runs = []
        if runs and runs[0]["status"] == "succeeded":
            return
        if runs and runs[0]["status"] == "failed":
            pytest.fail(f"demo sync failed: {runs[0]['error']}")
        time.sleep(1)
    pytest.fail(f"demo knowledge not indexed within {SYNC_TIMEOUT}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "DESKPILOT_SERVER__ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("DESKPILOT_CONFIG", None)  # the embedded defaults: offline model, demo connector
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited: {(data_dir / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve did not start within 60s")
            time.sleep(0.2)
        _wait_for_demo_knowledge(base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # CI installs it (scripts/test): a skip there would hide a gap
            pytest.fail(f"{CHROMIUM} is missing on CI")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_ask_see_cited_streamed_answer_then_history_after_reload(server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{server}/")
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


def test_text_deltas_render_as_they_arrive(server: str, browser) -> None:
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
    page.goto(f"{server}/")
    page.route("**/chatkit", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=body))
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill("How can I download my invoices?")
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_test_id("deskpilot-answer")).to_have_text("Open Billing to download.")
    expect(page.get_by_test_id("deskpilot-error")).to_be_empty()
    page.close()


def test_talk_to_a_person_sends_the_handoff_message(server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{server}/")
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_test_id("deskpilot-handoff").click()
    expect(page.get_by_test_id("deskpilot-log")).to_contain_text(
        "I'd like to talk to a person", timeout=15_000)
    expect(page.get_by_test_id("deskpilot-answer").first).to_contain_text("person",
                                                                          timeout=30_000)
    page.close()


def test_http_errors_are_shown(server: str, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{server}/")
    # A failing endpoint must show a visible error line, not a silent spinner.
    page.route("**/chatkit", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": "chat is down"}'))
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill("hello")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("deskpilot-error")).to_have_text("chat is down")
    page.close()
