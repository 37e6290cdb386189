"""Copilot: cited drafts marked as drafts, internal notes kept from customers, staff-only HTTP."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

import deskpilot
from deskpilot.core.agent import providers
from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from deskpilot.core.tables import AuditEvent
from deskpilot.plugins.copilot.drafts import DRAFT_MARKER, INTERNAL_LABEL, draft_for_ticket
from tests.core.agent.fake_openai import FakeOpenAI
from tests.plugins.support_fakes import (
    ADMIN,
    INTERNAL_NOTE,
    RESET_ARTICLE,
    SOLVED_TICKET,
    Chat,
    StubSearcher,
    make_services,
)

TICKET = deskpilot.Ticket(id="2001", subject="Password reset email not received",
                          description="I requested a password reset but no email arrives.",
                          status="open")
AUTH = {"Authorization": f"Bearer {ADMIN}"}
LLM_REPLY = ("Hi Ana, open Settings > Billing and choose Forgot password on the sign-in page; "
             "the reset link stays valid for 30 minutes [1].")
# The source list every draft of TICKET ends with, in the order the prompt numbers them.
SOURCE_LINES = [
    "[1] Article: Reset your password — https://help.example.com/reset-password",
    "[2] Solved ticket 1042 (internal: another customer's ticket): Password reset email never "
    "arrives",
    f"[3] Internal note on ticket 1042 ({INTERNAL_LABEL}): Password reset email never arrives",
]


def test_draft_is_marked_cites_sources_and_keeps_internal_notes_out_of_the_reply(
    tmp_path: Path,
) -> None:
    draft = draft_for_ticket(make_services(tmp_path), "desk", TICKET)

    assert draft.draft and draft.body.startswith(DRAFT_MARKER)
    reply, sources = draft.body.split("\n---\nSources:\n")
    assert "add no-reply@acme.example to your allowed senders" in reply  # past resolution
    assert "Forgot password" in reply  # article passage
    assert "[1] Article: Reset your password — https://help.example.com/reset-password" in sources
    assert "Solved ticket 1042" in sources
    # Internal knowledge: cited for the agent, labelled, never in the proposed reply.
    assert INTERNAL_LABEL in sources and "SECRET-NOTE" not in reply
    assert {s.audience for s in draft.sources} == {deskpilot.Audience.PUBLIC,
                                                   deskpilot.Audience.INTERNAL}


def test_customer_answers_never_contain_internal_notes(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    turn = Chat(create_app(services=services)).send("Password reset email never arrives")
    assert "(Source: Reset your password)" in turn.assistant_text
    assert "SECRET-NOTE" not in json.dumps(turn.events)
    # Nor another customer's solved ticket: tickets are staff knowledge.
    assert "no-reply@acme.example" not in json.dumps(turn.events)
    assert all(f is not None and f.audience == deskpilot.Audience.PUBLIC
               for f in services.searcher.calls)  # type: ignore[attr-defined]


def test_draft_endpoint_needs_the_admin_token_and_posts_an_internal_note(tmp_path: Path) -> None:
    services = make_services(tmp_path)  # connector "desk" is the local one
    http = TestClient(create_app(services=services))
    body = {"connector": "desk", "ticket_id": "2001", "subject": TICKET.subject,
            "description": TICKET.description}

    assert http.post("/v1/copilot/draft", json=body).status_code == 401
    assert http.post("/v1/copilot/draft", json=body,
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    drafted = http.post("/v1/copilot/draft", json=body, headers=AUTH)
    assert drafted.status_code == 200
    assert drafted.json()["body"].startswith(DRAFT_MARKER)
    assert drafted.json()["note_posted"] is False

    posted = http.post("/v1/copilot/draft", json={**body, "post_note": True}, headers=AUTH)
    assert posted.status_code == 200 and posted.json()["note_posted"] is True
    with Session(services.engine) as session:
        [note] = session.exec(select(AuditEvent).where(AuditEvent.kind == "local.note")).all()
    assert note.subject == "2001" and note.data["body"] == posted.json()["body"]

    no_ticket = {**body, "post_note": True, "ticket_id": None}
    assert http.post("/v1/copilot/draft", json=no_ticket, headers=AUTH).status_code == 400
    unknown = {**body, "connector": "nope"}
    assert http.post("/v1/copilot/draft", json=unknown, headers=AUTH).status_code == 404


def test_copilot_chatkit_is_for_staff_only(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    app = create_app(services=services)
    assert Chat(app, "/copilot/chatkit").send("Password reset email never arrives").status == 401

    staff = Chat(app, "/copilot/chatkit", token=ADMIN).send("I'd like to talk to a person")
    assert staff.status == 200
    # A staff member asking for a person is a question, not a handover.
    assert "passed this conversation" not in staff.assistant_text
    assert staff.assistant_text


def _llm_services(tmp_path: Path, provider: str, url: str, model: str) -> Services:
    services = make_services(tmp_path)
    services.settings.agent.provider = provider  # type: ignore[assignment]
    services.settings.agent.base_url = url
    services.settings.agent.api_key = SecretStr("test-key")
    services.settings.agent.model = model
    return services


def _prompt(body: dict[str, Any]) -> str:
    """The user message of a recorded request, from either API's body."""
    items = body.get("messages") or body.get("input")
    [user] = [m for m in items if m.get("role") == "user"]
    content = user["content"]
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_llm_draft_over_chat_completions_keeps_marker_and_sources_and_prompts_with_them(
    tmp_path: Path,
) -> None:
    """openai-compatible: the model writes the reply from numbered sources; the marker and the
    source list are still built here, and the draft names the model."""
    with FakeOpenAI([("text", LLM_REPLY)]) as fake:
        services = _llm_services(tmp_path, "openai-compatible", fake.url, "local-llama")
        draft = draft_for_ticket(services, "desk", TICKET)

    assert draft.generated_by == "local-llama"
    assert draft.draft and draft.body.startswith(DRAFT_MARKER)
    reply, sources = draft.body.split("\n---\nSources:\n")
    assert reply == f"{DRAFT_MARKER}\n\n{LLM_REPLY}\n"
    assert "add no-reply@acme.example" not in reply  # not the extractive reply
    assert sources.splitlines() == SOURCE_LINES
    assert [s.document_id for s in draft.sources] == ["reset-your-password", "1042", "1042"]

    [(path, body)] = fake.requests
    assert path == "/v1/chat/completions" and body["model"] == "local-llama"
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    assert "Acme Cloud" in system and "never quote or reveal" in system
    prompt = _prompt(body)
    assert prompt.startswith(f"Ticket:\n{TICKET.subject}\n{TICKET.description}\n\nSources:\n")
    # The same numbers as the source list, so the model's [n] point at the right passage.
    assert "[1] (public) Reset your password\n" in prompt
    assert "reset link that stays valid for 30 minutes" in prompt
    assert "[2] (public) Password reset email never arrives\n" in prompt
    assert "add no-reply@acme.example to your allowed senders" in prompt
    # Of a solved ticket, the model reads what its agents said, not what its customer wrote.
    assert "I asked for a reset link twice" not in prompt
    assert "[3] (INTERNAL) Password reset email never arrives\n" in prompt
    assert prompt.index("[1] (public)") < prompt.index("[2] (public)") < prompt.index(
        "[3] (INTERNAL)")


def test_llm_draft_over_the_responses_api_uses_the_model_reply(tmp_path: Path) -> None:
    """openai: the same draft through the Responses API."""
    with FakeOpenAI([("text", LLM_REPLY)]) as fake:
        services = _llm_services(tmp_path, "openai", fake.url, "gpt-test")
        draft = draft_for_ticket(services, "desk", TICKET)

    assert draft.generated_by == "gpt-test"
    reply, sources = draft.body.split("\n---\nSources:\n")
    assert reply == f"{DRAFT_MARKER}\n\n{LLM_REPLY}\n"
    assert sources.splitlines() == SOURCE_LINES
    [(path, body)] = fake.requests
    assert path == "/v1/responses" and body["model"] == "gpt-test"
    assert TICKET.description in _prompt(body) and "[3] (INTERNAL)" in _prompt(body)


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
def test_unreachable_model_falls_back_to_the_cited_extractive_draft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    """Nothing listens at base_url: the agent still gets the offline draft, with its sources,
    marked as offline, and the failure is logged."""
    # Connection errors are retried with backoff (seconds); one attempt shows the same path.
    monkeypatch.setattr(providers, "MAX_RETRIES", 0)
    offline = draft_for_ticket(make_services(tmp_path / "offline"), "desk", TICKET)
    services = _llm_services(tmp_path, provider, f"http://127.0.0.1:{_closed_port()}/v1",
                             "gpt-test")

    with caplog.at_level(logging.WARNING, logger="deskpilot.plugins.copilot"):
        draft = draft_for_ticket(services, "desk", TICKET)

    assert draft.generated_by == "offline"
    assert draft.body == offline.body  # the extractive reply, word for word
    reply, sources = draft.body.split("\n---\nSources:\n")
    assert reply.startswith(DRAFT_MARKER) and "add no-reply@acme.example" in reply
    assert sources.splitlines() == SOURCE_LINES
    assert "LLM draft failed" in caplog.text


def test_model_calling_an_unknown_tool_falls_back_to_the_extractive_draft(
    tmp_path: Path,
) -> None:
    """A reachable model that misbehaves (calls a tool the draft agent does not have) fails
    the run: the draft falls back rather than failing the request."""
    with FakeOpenAI([("tool", "send_reply", json.dumps({"text": "Done."}))]) as fake:
        services = _llm_services(tmp_path, "openai-compatible", fake.url, "local-llama")
        draft = draft_for_ticket(services, "desk", TICKET)

    assert len(fake.requests) == 1  # the model was asked
    assert draft.generated_by == "offline"
    assert "add no-reply@acme.example" in draft.body and "Done." not in draft.body
    assert draft.body.split("\n---\nSources:\n")[1].splitlines() == SOURCE_LINES


def test_webhook_draft_does_not_cite_the_ticket_it_is_written_for(tmp_path: Path) -> None:
    """Ticket 1042 is in the index as a solved ticket; a webhook about 1042 itself (say, the
    customer reopened it) must not be answered by quoting 1042 back as a source."""
    from deskpilot import TicketEvent
    from deskpilot.core.automation import run_automation

    # The index as a sync of this connector ("desk") leaves it.
    indexed = [dataclasses.replace(p, source="desk")
               for p in (RESET_ARTICLE, SOLVED_TICKET, INTERNAL_NOTE)]
    services = make_services(tmp_path, searcher=StubSearcher(indexed))
    result = run_automation(services, TicketEvent(
        connector="desk", ticket_id="1042", subject="Password reset email never arrives",
        description="Still no reset email."))

    assert result["draft"]["posted"] is True
    with Session(services.engine) as session:
        [note] = session.exec(select(AuditEvent).where(AuditEvent.kind == "local.note")).all()
    assert note.subject == "1042"
    assert "Solved ticket 1042" not in note.data["body"]
    assert "ticket 1042" not in note.data["body"]  # nor its internal note
    assert "[1] Article: Reset your password" in note.data["body"]


@pytest.mark.parametrize("leaky_reply, how", [
    ("Hi Ana, good news: agents can force a reset from the admin console after checking "
     "your identity [1].", "quotes internal source [3]"),
    ("Hi Ana, we can reset it for you from our side [3].", "cites internal source [3]"),
])
def test_llm_reply_revealing_an_internal_source_is_replaced_by_the_extractive_draft(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, leaky_reply: str, how: str,
) -> None:
    """The model was told not to, but did: the internal note must not reach the proposed
    reply, so the draft falls back to the extractive one and says why in the log."""
    with FakeOpenAI([("text", leaky_reply)]) as fake:
        services = _llm_services(tmp_path, "openai-compatible", fake.url, "local-llama")
        with caplog.at_level(logging.WARNING, logger="deskpilot.plugins.copilot"):
            draft = draft_for_ticket(services, "desk", TICKET)

    reply, sources = draft.body.split("\n---\nSources:\n")
    assert draft.generated_by == "offline"
    assert leaky_reply not in reply and "admin console" not in reply
    assert "add no-reply@acme.example" in reply  # the extractive reply
    assert sources.splitlines() == SOURCE_LINES
    assert how in caplog.text


def test_a_draft_quotes_the_agents_of_a_solved_ticket_never_its_customer(
    tmp_path: Path,
) -> None:
    """The customer's line matches the question best, word for word, yet only the agent's
    answer is quoted; a ticket indexed before authors were recorded is not quoted at all."""
    from tests.plugins.support_fakes import StubSearcher, passage

    mixed = passage("Reset email missing", "My reset email never arrives, can you help?\n"
                    "Hi there! Corporate filters hold our mail: ask IT to allow "
                    "no-reply@acme.example.\nThanks, it works now!", 1.2, kind="ticket",
                    doc="7", audience=deskpilot.Audience.INTERNAL,
                    authors=("customer", "agent", "customer"))
    unknown = dataclasses.replace(mixed, document_id="8", authors=())
    services = make_services(tmp_path, searcher=StubSearcher([mixed, unknown]))
    draft = draft_for_ticket(services, None, "My reset email never arrives, can you help?")

    assert draft.reply == ("Hi,\n\nCorporate filters hold our mail: ask IT to allow "
                           "no-reply@acme.example. [1]\n\nBest regards")
    assert [s.document_id for s in draft.sources] == ["7", "8"]


@pytest.mark.parametrize(("ticket", "name"), [
    ("Reset link expired. Can you help? - Maria", "Maria"),
    ("Reset link expired.\n\nThanks,\nJonas", "Jonas"),
    ("Reset link expired. Please help!", None),
    ("Reset link expired - thanks", None),
    (deskpilot.Ticket(id="1", subject="Reset", description="Help - Maria",
                      requester=deskpilot.Person(name="Ana Lima")), "Ana"),
])
def test_the_greeting_names_the_requester(ticket: Any, name: str | None) -> None:
    from deskpilot.plugins.copilot.drafts import requester_name

    assert requester_name(ticket) == name
