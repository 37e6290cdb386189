"""The relay through Zendesk and Intercom (fakes speaking their API and webhook formats), and
the relay contract kit on all three built-in connectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskpilot import Connector, EscalationRequest
from deskpilot.connectors.intercom import IntercomConnector
from deskpilot.connectors.zendesk import ZendeskConnector
from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.relay import Relay
from deskpilot.plugins.escalation.tables import Owner
from deskpilot.testkit import RelayContract
from tests.plugins.escalation.helpdesk_fakes import IntercomDesk, ZendeskDesk
from tests.plugins.escalation.relay_helpers import LOCAL_SECRET, chat_lines
from tests.plugins.support_fakes import Chat, make_services

ZENDESK = {"base_url": "https://acme.zendesk.com", "email": "bot@acme.example",
           "api_token": "zd-token", "webhook_secret": "zd-secret", "include_articles": False}
INTERCOM = {"access_token": "ic-token", "admin_id": "7", "client_secret": "ic-secret",
            "base_url": "https://api.intercom.io"}
REPLY, NOTE = "We have refunded your order.", "INTERNAL: fraud check passed"
REQUEST = EscalationRequest(subject="Chat: refund", transcript="Customer: refund please",
                            customer_id="anon:x", customer_email="ana@example.com",
                            customer_name="Ana", thread_id="thr_1")


def _wired(services: Services, cls: type[Connector], options: dict[str, Any],
           desk: Any) -> Services:
    """Services whose connector `desk` talks to the fake through its transport."""
    connector = cls("desk", cls.Options.model_validate(options), transport=desk.transport(),
                    sleep=lambda _: None)
    connector.platform = services
    services.__dict__["connectors"] = {"desk": connector}
    return services


def _escalated(chat: Chat) -> str:
    first = chat.send("How do I reset my password?")
    chat.send("I'd like to talk to a person", first.thread_id)
    chat.send("ana@example.com", first.thread_id)
    return first.thread_id


def _post(chat: Chat, desk: Any, payload: dict[str, Any]) -> int:
    body, headers = desk.webhook(payload)
    return chat.http.post("/v1/webhooks/desk", content=body, headers=headers).status_code


def test_zendesk_relay_with_event_webhooks(tmp_path: Path) -> None:
    desk = ZendeskDesk()
    services = _wired(make_services(tmp_path, "zendesk", options=ZENDESK,
                                    escalation={"relay_poll_seconds": 0}),
                      ZendeskConnector, ZENDESK, desk)
    chat = Chat(create_app(services=services))
    thread = _escalated(chat)
    ticket = int(EscalationOutbox(services).list()[0].ticket_ref)
    assert desk.users[desk.tickets[ticket]["requester_id"]]["email"] == "ana@example.com"

    reply = desk.agent_reply(ticket, "Hi Ana, Dana here. Which order?", status="open")
    assert _post(chat, desk, reply) == 202
    assert _post(chat, desk, reply) == 202  # redelivered by Zendesk as a new invocation
    assert _post(chat, desk, desk.agent_reply(ticket, NOTE, public=False)) == 202
    assert chat.send("Order 1234", thread).assistant_text == ""
    assert desk.public_comments(ticket, "end-user") == ["Order 1234"]

    assert _post(chat, desk, desk.agent_reply(ticket, REPLY, status="solved")) == 202
    assert Relay(services).for_ticket("desk", str(ticket)).owner == Owner.AI
    answered = chat.send("How do I reset my password?", thread)
    assert "Reset your password" in answered.assistant_text
    assert desk.tickets[ticket]["status"] == "solved"  # the AI's turn did not reopen it
    lines = chat_lines(chat, thread)
    assert [line for line in lines if line.startswith("Dana:")] == [
        "Dana: Hi Ana, Dana here. Which order?", f"Dana: {REPLY}",
        "Dana: Dana closed this conversation. If you need anything else, just write here and "
        "I'll help."]
    assert NOTE not in "\n".join(lines)

    # Reopened by the agent, who writes again: the person has the conversation back.
    _post(chat, desk, desk.set_status(ticket, "open"))
    _post(chat, desk, desk.agent_reply(ticket, "One more question: which card?"))
    assert chat.send("The Visa one", thread).assistant_text == ""
    assert desk.public_comments(ticket, "end-user") == ["Order 1234", "The Visa one"]


def test_zendesk_poll_finds_replies_without_webhooks(tmp_path: Path) -> None:
    desk = ZendeskDesk()
    services = _wired(make_services(tmp_path, "zendesk", options=ZENDESK), ZendeskConnector,
                      ZENDESK, desk)
    chat = Chat(create_app(services=services))
    thread = _escalated(chat)
    ticket = int(EscalationOutbox(services).list()[0].ticket_ref)
    desk.agent_reply(ticket, "Hello from Dana")  # no webhook configured: nobody tells us
    assert Relay(services).poll() == 1
    assert Relay(services).poll() == 0
    assert chat_lines(chat, thread)[-1] == "Dana: Hello from Dana"


def test_intercom_relay_with_admin_replied(tmp_path: Path) -> None:
    desk = IntercomDesk()
    services = _wired(make_services(tmp_path, "intercom", options=INTERCOM,
                                    escalation={"relay_poll_seconds": 0}),
                      IntercomConnector, INTERCOM, desk)
    chat = Chat(create_app(services=services))
    thread = _escalated(chat)
    conversation = EscalationOutbox(services).list()[0].ticket_ref

    replied = desk.admin_reply(conversation, "Sam here, checking now.")
    assert _post(chat, desk, replied) == 202
    # The same notification again: a duplicate, or (a step such as tags failed on the fake)
    # accepted to finish that step; either way the reply is relayed once (checked below).
    assert _post(chat, desk, replied) in (200, 202)
    _post(chat, desk, desk.admin_reply(conversation, NOTE, note=True))
    assert chat.send("Thanks Sam", thread).assistant_text == ""
    assert desk.user_comments(conversation) == ["Thanks Sam"]

    _post(chat, desk, desk.admin_reply(conversation, "All done, closing.", close=True))
    assert "Reset your password" in chat.send("How do I reset my password?",
                                              thread).assistant_text
    assert desk.user_comments(conversation) == ["Thanks Sam"]
    _post(chat, desk, desk.admin_reply(conversation, "Reopening: one thing.", reopen=True))
    assert chat.send("Yes?", thread).assistant_text == ""
    sam = [line for line in chat_lines(chat, thread) if line.startswith("Sam:")]
    assert sam == ["Sam: Sam here, checking now.", "Sam: All done, closing.",
                   "Sam: Sam closed this conversation. If you need anything else, just write "
                   "here and I'll help.", "Sam: Reopening: one thing."]
    assert desk.user_comments(conversation) == ["Thanks Sam", "Yes?"]


# -- the contract kit on the built-ins ---------------------------------------------------------
class _BuiltinRelay(RelayContract):
    """Each built-in's `relay_ticket` holds the reply REPLY and the internal note NOTE."""

    @pytest.fixture
    def agent_reply_bodies(self) -> list[str]:
        return [REPLY]

    @pytest.fixture
    def internal_note_bodies(self) -> list[str]:
        return [NOTE]


class TestZendeskRelay(_BuiltinRelay):
    @pytest.fixture
    def desk(self) -> ZendeskDesk:
        return ZendeskDesk()

    @pytest.fixture
    def connector(self, desk: ZendeskDesk) -> ZendeskConnector:
        return ZendeskConnector("zd", ZendeskConnector.Options.model_validate(ZENDESK),
                                transport=desk.transport(), sleep=lambda _: None)

    @pytest.fixture
    def relay_ticket(self, connector: ZendeskConnector, desk: ZendeskDesk) -> str:
        ticket = connector.create_ticket(REQUEST)
        desk.agent_reply(int(ticket), REPLY)
        desk.agent_reply(int(ticket), NOTE, public=False)
        return ticket


class TestIntercomRelay(_BuiltinRelay):
    @pytest.fixture
    def desk(self) -> IntercomDesk:
        return IntercomDesk()

    @pytest.fixture
    def connector(self, desk: IntercomDesk) -> IntercomConnector:
        return IntercomConnector("ic", IntercomConnector.Options.model_validate(INTERCOM),
                                 transport=desk.transport(), sleep=lambda _: None)

    @pytest.fixture
    def relay_ticket(self, connector: IntercomConnector, desk: IntercomDesk) -> str:
        conversation = connector.create_ticket(REQUEST)
        desk.admin_reply(conversation, REPLY)
        desk.admin_reply(conversation, NOTE, note=True)
        return conversation


class TestLocalRelay(_BuiltinRelay):
    @pytest.fixture
    def services(self, tmp_path: Path) -> Iterator[Services]:
        services = make_services(tmp_path, "local", options={"webhook_secret": LOCAL_SECRET})
        yield services
        services.close()

    @pytest.fixture
    def connector(self, services: Services) -> Connector:
        return services.connector("desk")

    @pytest.fixture
    def relay_ticket(self, connector: Any) -> str:
        ticket = connector.create_ticket(REQUEST)
        connector.add_comment(ticket, "r1", REPLY, author_role="agent", author_name="Dana")
        connector.add_comment(ticket, "n1", NOTE, author_role="agent", public=False)
        return ticket
