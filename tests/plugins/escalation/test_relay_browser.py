"""The handoff loop in a real browser against a real `deskpilot serve`: the visitor escalates,
a fake Zendesk (Zendesk's API and event webhooks, on loopback) carries the agent's replies,
and the open widget shows them without a reload; the visitor's next message lands on the
ticket; the ticket is solved and the AI answers again. Also: an expired signed token is
refreshed through the host's callback."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from deskpilot.core.chat.identity import sign_user_token
from tests.core.chat.conftest import ADMIN_TOKEN, chromium, serving
from tests.core.chat.widget_pages import open_host_page
from tests.plugins.escalation.helpdesk_fakes import ZendeskDesk

pytestmark = pytest.mark.browser

IDENTITY_SECRET = "browser-identity-secret"
CONFIG = """
[server]
admin_token = "{admin}"

[chat]
identity_secret = "{identity}"

[connectors.demo]
type = "local"

[connectors.zendesk]
type = "zendesk"
base_url = "{zendesk}"
email = "bot@acme.example"
api_token = "zd-token"
webhook_secret = "zd-secret"
include_articles = false
include_tickets = false

[escalation]
connector = "zendesk"
relay_poll_seconds = 0   # webhooks only: what reaches the widget came through them
"""


@pytest.fixture(scope="module")
def zendesk() -> Iterator[tuple[ZendeskDesk, str]]:
    desk = ZendeskDesk()
    with desk.serve() as url:
        yield desk, url


@pytest.fixture(scope="module")
def relay_server(tmp_path_factory: pytest.TempPathFactory,
                 zendesk: tuple[ZendeskDesk, str]) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("relay-serve")
    config = data_dir / "deskpilot.toml"
    config.write_text(CONFIG.format(admin=ADMIN_TOKEN, identity=IDENTITY_SECRET,
                                    zendesk=zendesk[1]))
    env = {key: value for key, value in os.environ.items() if key != "DESKPILOT_CONFIG"}
    with serving(data_dir, env, "--config", str(config)) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _deliver(base: str, desk: ZendeskDesk, payload: dict[str, Any]) -> None:
    """What Zendesk does: POST the signed event to the webhook endpoint."""
    body, headers = desk.webhook(payload)
    response = httpx.post(f"{base}/v1/webhooks/zendesk", content=body, headers=headers,
                          timeout=10)
    assert response.status_code == 202, response.text


def test_the_persons_reply_reaches_the_open_widget_and_the_loop_closes(
        relay_server: str, zendesk: tuple[ZendeskDesk, str], browser: Any) -> None:
    from playwright.sync_api import expect

    desk = zendesk[0]
    page = browser.new_page()
    page.goto(f"{relay_server}/")
    page.get_by_test_id("deskpilot-launcher").click()
    composer = page.get_by_label("Your message")

    def say(text: str) -> None:
        composer.fill(text)
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_test_id("deskpilot-send")).to_be_enabled(timeout=30_000)

    say("How do I reset my password?")
    expect(page.get_by_test_id("deskpilot-answer").first).to_contain_text("password",
                                                                          timeout=30_000)
    page.get_by_test_id("deskpilot-handoff").click()
    expect(page.get_by_test_id("deskpilot-log")).to_contain_text("what email address",
                                                                 timeout=30_000)
    say("ana@example.com")
    expect(page.get_by_test_id("deskpilot-log")).to_contain_text(
        "passed this conversation to our support team", timeout=30_000)
    ticket = _until(lambda: next(iter(desk.tickets), None), "the Zendesk ticket")
    assert desk.users[desk.tickets[ticket]["requester_id"]]["email"] == "ana@example.com"

    # The agent answers in Zendesk; Zendesk's webhook brings it; the open widget shows it.
    _deliver(relay_server, desk, desk.agent_reply(ticket, "Hi Ana, Dana here. Which order?",
                                                  status="open"))
    person = page.get_by_test_id("deskpilot-person-message")
    expect(person).to_contain_text("Hi Ana, Dana here. Which order?", timeout=30_000)
    expect(person.get_by_test_id("deskpilot-person-name")).to_contain_text("Dana")
    expect(page.get_by_test_id("deskpilot-agent")).to_have_text("You're chatting with Dana")
    _deliver(relay_server, desk, desk.agent_reply(ticket, "INTERNAL: VIP", public=False))

    answers_before = page.get_by_test_id("deskpilot-answer").count()
    say("It's order 1234.")
    _until(lambda: desk.public_comments(ticket, "end-user") == ["It's order 1234."],
           "the visitor's message on the ticket as the requester's public comment")
    assert page.get_by_test_id("deskpilot-answer").count() == answers_before  # the AI is silent

    _deliver(relay_server, desk, desk.agent_reply(ticket, "Refunded. Anything else?",
                                                  status="solved"))
    expect(person.nth(1)).to_contain_text("Refunded. Anything else?", timeout=30_000)
    expect(page.get_by_test_id("deskpilot-agent")).to_have_text(
        "Dana closed this conversation", timeout=30_000)

    say("How do I reset my password?")
    # Dana's messages are hers (deskpilot-person-message): this is the AI's first since.
    expect(page.get_by_test_id("deskpilot-answer")).to_have_count(answers_before + 1,
                                                                  timeout=30_000)
    last = page.get_by_test_id("deskpilot-answer").last
    expect(last).to_contain_text("password")
    assert desk.tickets[ticket]["status"] == "solved"  # the AI's turn left the ticket alone
    assert "INTERNAL" not in page.get_by_test_id("deskpilot-log").inner_text()
    page.close()


def test_an_expired_token_is_refreshed_through_the_host_callback(relay_server: str,
                                                                 browser: Any) -> None:
    from playwright.sync_api import expect

    expired = sign_user_token(IDENTITY_SECRET, "77", -60)
    fresh = sign_user_token(IDENTITY_SECRET, "77", 3600)
    page = browser.new_page()
    open_host_page(page, relay_server, body=f"""<script>
      window.tokenCalls = [];
      window.addEventListener("load", () => Deskpilot.configure({{getUserToken: (existing) => {{
        window.tokenCalls.push(existing);
        return Promise.resolve(existing ? "{fresh}" : "{expired}");
      }}}}));
    </script>""")
    page.get_by_test_id("deskpilot-launcher").click()
    page.get_by_label("Your message").fill("How do I reset my password?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("deskpilot-answer").first).to_contain_text("password",
                                                                          timeout=30_000)
    expect(page.get_by_test_id("deskpilot-error")).to_be_empty()
    assert page.evaluate("window.tokenCalls") == [None, expired]
    page.close()


def test_expired_token_answers_401_saying_so(relay_server: str) -> None:
    expired = sign_user_token(IDENTITY_SECRET, "77", -60)
    body = b'{"type": "threads.list", "params": {}}'
    response = httpx.post(f"{relay_server}/chatkit", content=body, headers={
        "Authorization": f"Bearer {expired}", "Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "user token expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
