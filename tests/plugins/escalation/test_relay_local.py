"""The relay through the local connector's own webhook: replies in, messages out, who speaks,
redeliveries and restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from deskpilot import utcnow
from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import MESSAGES
from deskpilot.plugins.escalation.relay import Relay
from deskpilot.plugins.escalation.tables import EscalationStatus, Owner
from tests.plugins.escalation.relay_helpers import (
    LOCAL_SECRET,
    chat_lines,
    items,
    local_webhook,
    person_of,
)
from tests.plugins.support_fakes import Chat, make_services

ASK_EMAIL = MESSAGES["en"]["ask_email"]
BAD_EMAIL = MESSAGES["en"]["bad_email"]

HANDOFF = "I'd like to talk to a person"


def _services(tmp_path: Path) -> Services:
    return make_services(tmp_path, "local", options={"webhook_secret": LOCAL_SECRET},
                         escalation={"relay_poll_seconds": 0})


def _comments(services: Services, ticket: str) -> list[dict[str, Any]]:
    return services.audit_log("local.comment", ticket)


def _escalate(chat: Chat) -> tuple[str, str]:
    first = chat.send("How do I reset my password?")
    asked = chat.send(HANDOFF, first.thread_id)
    assert asked.assistant_text == ASK_EMAIL
    wrong = chat.send("ana at example", first.thread_id)
    assert wrong.assistant_text.startswith(BAD_EMAIL.split("(")[0])
    assert "@" in wrong.assistant_text  # says what is wrong: the address has no @-sign
    handed = chat.send("it's ana@example.com", first.thread_id)
    assert "passed this conversation to our support team" in handed.assistant_text
    return first.thread_id, handed.assistant_text


def test_local_relay_both_ways_and_who_speaks(tmp_path: Path) -> None:
    services = _services(tmp_path)
    chat = Chat(create_app(services=services))
    thread, _ = _escalate(chat)
    [row] = EscalationOutbox(services).list()
    ticket = row.ticket_ref
    assert row.status == EscalationStatus.DELIVERED and row.customer_email == "ana@example.com"
    [created] = services.audit_log("local.ticket", ticket)
    assert created["request"]["customer_email"] == "ana@example.com"

    reply = {"ticket_id": ticket, "status": "open", "comment": {
        "id": "c1", "author_name": "Dana", "body": "Hi Ana, I'm looking at it.", "public": True}}
    assert local_webhook(chat.http, "desk", reply).status_code == 202
    # Redelivered: as a new delivery of the same body (the webhook layer may already call it a
    # replay), then with a repeated delivery id; the comment itself once more with a new body.
    assert local_webhook(chat.http, "desk", reply, delivery="d-1").status_code in (200, 202)
    assert local_webhook(chat.http, "desk", reply, delivery="d-1").status_code == 200
    again = {**reply, "status": "open", "resent": True}
    assert local_webhook(chat.http, "desk", again).status_code == 202
    note = {"ticket_id": ticket, "comment": {"id": "c2", "author_name": "Dana",
                                             "body": "INTERNAL: check refund", "public": False}}
    local_webhook(chat.http, "desk", note)

    relayed = [i for i in items(chat, thread) if person_of(i)]
    assert [person_of(i) for i in relayed] == [{"author": "Dana"}]
    assert "INTERNAL" not in str(items(chat, thread))

    # While Dana owns it the AI is silent, and the message lands on the ticket as the customer's.
    silent = chat.send("Thanks! It's order 1234.", thread)
    assert silent.status == 200 and silent.assistant_text == ""
    customer = [c for c in _comments(services, ticket) if c["author_role"] == "customer"]
    assert [c["body"] for c in customer] == ["Thanks! It's order 1234."] and customer[0]["public"]

    # Solved: Dana's closing note, then the AI answers the customer's next message, and that
    # message does not go to the solved ticket (which would reopen it: a loop).
    local_webhook(chat.http, "desk", {"ticket_id": ticket, "status": "solved"})
    assert Relay(services).for_ticket("desk", ticket).owner == Owner.AI
    later = chat.send("How do I reset my password?", thread)
    assert "Reset your password" in later.assistant_text
    assert len([c for c in _comments(services, ticket) if c["author_role"] == "customer"]) == 1

    # Reopened with a reply: Dana has it again; the AI is silent again.
    local_webhook(chat.http, "desk", {"ticket_id": ticket, "status": "open", "comment": {
        "id": "c3", "author_name": "Dana", "body": "Reopening: one more thing.", "public": True}})
    assert chat.send("Sure, what is it?", thread).assistant_text == ""
    assert chat_lines(chat, thread)[-5:] == [
        "Dana: Dana closed this conversation. If you need anything else, just write here and "
        "I'll help.",
        "customer: How do I reset my password?",
        chat_lines(chat, thread)[-3],  # the AI's answer
        "Dana: Reopening: one more thing.",
        "customer: Sure, what is it?",
    ]
    assert chat_lines(chat, thread)[-3].startswith("assistant: ")
    bodies = [c["body"] for c in _comments(services, ticket) if c["author_role"] == "customer"]
    assert bodies == ["Thanks! It's order 1234.", "Sure, what is it?"]


def test_asking_for_the_person_again_after_solved_reopens(tmp_path: Path) -> None:
    services = _services(tmp_path)
    chat = Chat(create_app(services=services))
    thread, _ = _escalate(chat)
    ticket = EscalationOutbox(services).list()[0].ticket_ref
    local_webhook(chat.http, "desk", {"ticket_id": ticket, "status": "solved"})
    back = chat.send("Can I speak to a human again please?", thread)
    assert "support team again" in back.assistant_text
    assert Relay(services).for_ticket("desk", ticket).owner == Owner.PERSON
    assert [c["body"] for c in _comments(services, ticket)] == [
        "Can I speak to a human again please?"]


def test_a_restart_in_the_middle_loses_nothing(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    services = _services(tmp_path)
    chat = Chat(create_app(services=services))
    thread, _ = _escalate(chat)
    ticket = EscalationOutbox(services).list()[0].ticket_ref

    # The helpdesk refuses writes: the customer's messages wait in the outbox, in order.
    connector = type(services.connector("desk"))
    real = connector.add_customer_message

    def down(self: Any, ticket_id: str, message: Any) -> str:
        raise ConnectionError("helpdesk unreachable")

    monkeypatch.setattr(connector, "add_customer_message", down)
    assert chat.send("first", thread).assistant_text == ""
    assert chat.send("second", thread).assistant_text == ""
    # A reply recorded from a webhook whose process died before posting it to the chat.
    relay = Relay(services)
    row = relay.for_ticket("desk", ticket)
    assert relay._record(row, "to_chat", "message:c9", "Still there?", author="Dana")
    services.close()

    monkeypatch.setattr(connector, "add_customer_message", real)
    restarted = _services(tmp_path)
    later = utcnow() + timedelta(hours=2)
    assert Relay(restarted).deliver_due(later) == 3
    assert Relay(restarted).deliver_due(later + timedelta(hours=2)) == 0
    assert [c["body"] for c in _comments(restarted, ticket)] == ["first", "second"]
    again = Chat(create_app(services=restarted))
    again.http.cookies = chat.http.cookies
    assert chat_lines(again, thread)[-1] == "Dana: Still there?"


def test_unsigned_local_webhooks_are_refused(tmp_path: Path) -> None:
    services = _services(tmp_path)
    chat = Chat(create_app(services=services))
    response = local_webhook(chat.http, "desk", {"ticket_id": "x"}, secret="wrong")
    assert response.status_code == 401
    assert services.audit_log("local.comment", "x") == []


def test_relay_on_sqlite_and_postgresql(tmp_path: Path, database_url: str) -> None:
    """The relay's tables and queries (plugin migration 0002, claims, ordering) on both
    databases: replies in once, messages out in order, who speaks."""
    services = make_services(tmp_path, "local", options={"webhook_secret": LOCAL_SECRET},
                             database={"url": database_url},
                             escalation={"relay_poll_seconds": 0})
    chat = Chat(create_app(services=services))
    thread, _ = _escalate(chat)
    ticket = EscalationOutbox(services).list()[0].ticket_ref
    for _ in range(2):
        local_webhook(chat.http, "desk", {"ticket_id": ticket, "comment": {
            "id": "c1", "author_name": "Dana", "body": "Dana here.", "public": True}},
            delivery=f"d-{_}")
    for text in ("one", "two", "three"):
        assert chat.send(text, thread).assistant_text == ""
    assert [c["body"] for c in _comments(services, ticket)
            if c["author_role"] == "customer"] == ["one", "two", "three"]
    local_webhook(chat.http, "desk", {"ticket_id": ticket, "status": "solved"})
    assert Relay(services).for_ticket("desk", ticket).owner == Owner.AI
    assert [line for line in chat_lines(chat, thread) if line.startswith("Dana:")] == [
        "Dana: Dana here.", "Dana: Dana closed this conversation. If you need anything else, "
        "just write here and I'll help."]
    services.close()
