"""Escalation: from the chat to a helpdesk ticket, through the outbox, even when it is down."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelResponse, Usage
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDoneEvent,
)
from sqlmodel import Session, select
from typer.testing import CliRunner

from deskpilot import RequestContext, utcnow
from deskpilot._tools import ToolAudience
from deskpilot.core.agent import build_customer_agent
from deskpilot.core.app import create_app
from deskpilot.core.chat.runtime import build_chat
from deskpilot.core.chat.tables import ChatThread
from deskpilot.core.cli import build_app
from deskpilot.core.services import Services
from deskpilot.core.tables import AuditEvent
from deskpilot.plugins.copilot.routes import build_copilot_agent
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import MESSAGES, requested
from deskpilot.plugins.escalation.tables import EscalationStatus
from tests.plugins.support_fakes import Chat, FlakyDesk, Recorder, make_services

ASK_EMAIL = MESSAGES["en"]["ask_email"]
QUEUED = MESSAGES["en"]["queued"]

cli = build_app()

HANDOFF_TEXT = "I'd like to talk to a person"  # what the widget's button sends


@pytest.fixture(autouse=True)
def desk() -> Iterator[None]:
    FlakyDesk.down, FlakyDesk.tickets = False, []
    yield


def _thread(services: Services, thread_id: str) -> ChatThread:
    with Session(services.engine) as session:
        row = session.get(ChatThread, thread_id)
        assert row is not None
        return row


def test_talk_to_a_person_creates_a_local_ticket_and_silences_the_bot(tmp_path: Path) -> None:
    recorder = Recorder()
    services = make_services(tmp_path, "local", recorder)
    chat = Chat(create_app(services=services))

    first = chat.send("How do I reset my password?")
    assert "Reset your password" in first.assistant_text
    searches = len(services.searcher.calls)  # type: ignore[attr-defined]

    # An anonymous visitor is asked where the person can reach them, then handed over.
    assert chat.send(HANDOFF_TEXT, first.thread_id).assistant_text == ASK_EMAIL
    handed = chat.send("ana@example.com", first.thread_id)
    assert "passed this conversation to our support team" in handed.assistant_text
    [row] = EscalationOutbox(services).list()
    assert row.status == EscalationStatus.DELIVERED and row.ticket_ref.startswith("local-")
    assert handed.assistant_text.count(row.ticket_ref) == 1
    # The local connector keeps the ticket in the database, with the transcript.
    with Session(services.engine) as session:
        [ticket] = session.exec(select(AuditEvent).where(AuditEvent.kind == "local.ticket")).all()
    request = ticket.data["request"]
    assert "Customer: How do I reset my password?" in request["transcript"]
    assert f"Assistant: {first.assistant_text.splitlines()[0]}" in request["transcript"]
    assert request["customer_id"].startswith("anon:") and request["thread_id"] == row.thread_id
    assert recorder.escalated == [{"thread_id": first.thread_id, "ticket_ref": row.ticket_ref}]

    # The flag is in the database, so it holds for a reloaded thread and a restarted server.
    assert _thread(services, first.thread_id).thread_metadata["escalated"] is True
    again = Chat(create_app(services=services))
    again.http.cookies = chat.http.cookies
    follow_up = again.send("Hello? Is anyone there?", first.thread_id)
    assert follow_up.status == 200 and follow_up.assistant_text == ""  # the person answers
    assert len(services.searcher.calls) == searches  # type: ignore[attr-defined] - no AI turn
    assert len(EscalationOutbox(services).list()) == 1


def test_a_new_conversation_is_not_looked_up_in_the_outbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A thread this request opens cannot have an escalation: its first message is answered
    # without the lookup (a burst of new chats queued on it for a worker thread); a follow-up,
    # and a handoff asked for in the very first message, still work as before.
    looked_up: list[str] = []
    original = EscalationOutbox.for_thread

    def for_thread(self: EscalationOutbox, thread_id: str) -> Any:
        looked_up.append(thread_id)
        return original(self, thread_id)

    monkeypatch.setattr(EscalationOutbox, "for_thread", for_thread)
    services = make_services(tmp_path, "local", escalation={"ask_email": False})
    chat = Chat(create_app(services=services))
    first = chat.send("How do I reset my password?")
    assert "Reset your password" in first.assistant_text and looked_up == []
    chat.send("And how long is the link valid?", first.thread_id)
    assert looked_up == [first.thread_id]

    handed = chat.send(HANDOFF_TEXT)
    assert "passed this conversation to our support team" in handed.assistant_text
    assert [row.thread_id for row in EscalationOutbox(services).list()] == [handed.thread_id]
    assert chat.send("Hello?", handed.thread_id).assistant_text == ""  # the person answers


def test_helpdesk_down_keeps_the_escalation_and_a_retry_delivers_it_once(tmp_path: Path) -> None:
    FlakyDesk.down = True
    services = make_services(tmp_path, "flakydesk")
    chat = Chat(create_app(services=services))
    first = chat.send("My invoice is wrong")

    chat.send("Can I speak to a human?", first.thread_id)
    handed = chat.send("skip", first.thread_id)  # no email address: replies come in the chat

    assert handed.assistant_text == QUEUED
    [row] = EscalationOutbox(services).list(EscalationStatus.PENDING)
    assert row.attempts == 1 and "ConnectError" in (row.last_error or "")
    assert _thread(services, first.thread_id).thread_metadata["escalated"] is True
    assert chat.send("hello?", first.thread_id).assistant_text == ""
    assert EscalationOutbox(services).deliver_due() == []  # backing off: not due yet
    services.close()

    # A restart later, the helpdesk is back: the retry worker's pass delivers it, once.
    FlakyDesk.down = False
    restarted = make_services(tmp_path, "flakydesk")
    outbox = EscalationOutbox(restarted)
    later = utcnow() + timedelta(hours=2)
    [delivered] = outbox.deliver_due(later)
    assert delivered.status == EscalationStatus.DELIVERED and delivered.ticket_ref == "FD-1"
    assert delivered.attempts == 2 and delivered.last_error is None
    assert outbox.deliver_due(later + timedelta(hours=2)) == []
    [ticket] = FlakyDesk.tickets
    assert "Customer: My invoice is wrong" in ticket.transcript
    assert ticket.thread_id == first.thread_id

    result = CliRunner().invoke(cli, ["escalations", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    [listed] = json.loads(result.stdout)
    assert listed["status"] == "delivered" and listed["ticket_ref"] == "FD-1"
    pending = CliRunner().invoke(
        cli, ["escalations", "--data-dir", str(tmp_path), "--json", "--status", "pending"])
    assert json.loads(pending.stdout) == []


class EscalatingModel(Model):
    """Calls escalate_to_human, then tells the customer what the tool said."""

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        last = input[-1] if isinstance(input, list) else {}
        if isinstance(last, dict) and last.get("type") == "function_call_output":
            text = json.loads(last["output"])["message_for_customer"]
            item: Any = ResponseOutputMessage(
                type="message", id=f"msg_{time.time_ns()}", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])])
        else:
            item = ResponseFunctionToolCall(
                type="function_call", id="fc_1", call_id="call_1", name="escalate_to_human",
                arguments=json.dumps({"reason": "refund dispute"}), status="completed")
        return ModelResponse(output=[item], usage=Usage(requests=1), response_id="resp_1")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        item = (await self.get_response(*args, **kwargs)).output[0]
        if isinstance(item, ResponseOutputMessage):  # the events ChatKit makes a message from
            text = item.content[0].text
            empty = ResponseOutputText(type="output_text", text="", annotations=[])
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added", sequence_number=0, output_index=0,
                item=item.model_copy(update={"content": [], "status": "in_progress"}))
            yield ResponseContentPartAddedEvent(
                type="response.content_part.added", sequence_number=1, output_index=0,
                item_id=item.id, content_index=0, part=empty)
            yield ResponseTextDoneEvent(
                type="response.output_text.done", sequence_number=2, output_index=0,
                item_id=item.id, content_index=0, text=text, logprobs=[])
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done", sequence_number=3, output_index=0, item=item)
        yield ResponseCompletedEvent(
            type="response.completed", sequence_number=4,
            response=Response(id="resp_1", created_at=time.time(), model="x", object="response",
                              output=[item], parallel_tool_calls=False, tool_choice="auto",
                              tools=[], status="completed"))


def test_the_agent_escalates_with_the_tool(tmp_path: Path) -> None:
    services = make_services(tmp_path, "flakydesk", escalation={"ask_email": False})
    app = create_app(services=services)

    def build(services: Services, context: Any) -> Agent[Any]:
        agent = build_customer_agent(services, context)
        return agent.clone(model=EscalatingModel())

    app.state.chat = build_chat(services, build)
    turn = Chat(app).send("I want my money back, this is the third time")

    assert "reference FD-1" in turn.assistant_text
    [ticket] = FlakyDesk.tickets
    assert ticket.transcript.startswith("Reason: refund dispute")
    assert _thread(services, turn.thread_id).thread_metadata["escalated"] is True


def test_customer_agent_gets_escalation_and_never_an_agent_tool(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    tools = services.plugins.tools
    customer = {tool.name for tool in build_customer_agent(services).tools}
    assert "escalate_to_human" in customer
    assert all(tools[name].audience == ToolAudience.CUSTOMER for name in customer)
    copilot = {tool.name for tool in build_copilot_agent(
        services, RequestContext(user_id="staff:admin")).tools}
    assert {"search_internal", "similar_tickets", "draft_reply"} <= copilot
    assert not customer & {n for n, cls in tools.items() if cls.audience == ToolAudience.AGENT}
    assert "escalate_to_human" not in copilot


@pytest.mark.parametrize("text, asks", [
    ("I'd like to talk to a person", True),
    ("Can I speak with a human agent please?", True),
    ("human, please", True),
    ("I don't want to talk to a person, just tell me", False),
    ("Who is the person in charge of billing?", False),
])
def test_explicit_requests_for_a_person(text: str, asks: bool) -> None:
    assert requested(text) is asks
