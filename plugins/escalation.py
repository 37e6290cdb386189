"""Built-in plugin: hand a customer's chat to a person, through the helpdesk connector.

Two ways in, one path:
- the customer agent calls the CUSTOMER tool `escalate_to_human(reason)`;
- the customer asks for a person in so many words — the widget's "Talk to a person" button
  sends "I'd like to talk to a person" as a message — and the chat server, before running the
  agent, hands over without asking the model (`EscalateTool.requested`). A message keeps it
  working with any ChatKit client and any model, the offline one included.

Either way the conversation goes into the outbox (plugins/escalation_outbox.py) with its
transcript, triage and the customer's identity, the thread is flagged `escalated` (the server
then stops answering in it), delivery is tried at once, and the customer is told what happens
next. Undelivered escalations are retried by the `background_workers` loop in `serve`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar

from agents import FunctionTool, RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.store import Store
from chatkit.types import (
    AssistantMessageItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from deskpilot.plugins.escalation_outbox import EscalationOutbox, utcnow
from deskpilot.plugins.escalation_table import Escalation, EscalationStatus

import deskpilot

log = logging.getLogger(__name__)

# How often the retry worker looks for due escalations (each row has its own backoff).
RETRY_TICK_SECONDS = 15.0
TRANSCRIPT_ITEMS = 100
SUBJECT_CHARS = 80

DELIVERED = (
    "I've passed this conversation to our support team (reference {ref}), with everything "
    "you've told me, so you won't need to repeat yourself. A person will reply to you here as "
    "soon as possible; I won't answer in this chat any more."
)
QUEUED = (
    "I've saved your request for our support team. Our helpdesk is not reachable at this "
    "moment, so it will be passed on automatically as soon as it is, and a person will follow "
    "up with you here; you won't need to repeat yourself."
)
UNAVAILABLE = (
    "I'm sorry: handing this conversation to a person is not possible right now. "
    "Please contact our support team directly."
)

# An explicit request for a person, in the customer's own words (not a question about people).
_ASKS_FOR_PERSON = re.compile(
    r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(person|human|agent|someone|"
    r"representative|somebody|staff|operator)\b|\b(human|real person|live agent),? please\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(don't|do not|no need to|not)\b.{0,12}\b(talk|speak|chat)\b",
                      re.IGNORECASE)


def _message_text(item: Any) -> str:
    return " ".join(part.text for part in item.content if hasattr(part, "text")).strip()


async def transcript(store: Store[Any], thread: ThreadMetadata, context: Any) -> str:
    """The conversation so far as plain text, oldest first, for the person taking over."""
    page = await store.load_thread_items(thread.id, None, TRANSCRIPT_ITEMS, "desc", context)
    lines = []
    for item in reversed(page.data):
        if isinstance(item, UserMessageItem):
            lines.append(f"Customer: {_message_text(item)}")
        elif isinstance(item, AssistantMessageItem):
            lines.append(f"Assistant: {_message_text(item)}")
    return "\n\n".join(lines)


def _subject(thread: ThreadMetadata, reason: str) -> str:
    subject = " ".join((thread.title or reason or "Chat conversation").split())
    if len(subject) > SUBJECT_CHARS:
        subject = subject[: SUBJECT_CHARS - 1].rstrip() + "…"
    return f"Chat: {subject}"


def _triage(services: Any, text: str) -> dict[str, Any]:
    """Part of the request when the triage plugin is installed; escalation never waits on it."""
    try:
        from deskpilot.plugins.triage import triage_service
    except ImportError:
        return {}
    try:
        return triage_service(services).triage_text(text)
    except Exception as exc:
        log.warning("triage of an escalated conversation failed: %s", exc)
        return {}


def customer_message(row: Escalation) -> str:
    if row.status == EscalationStatus.DELIVERED:
        return DELIVERED.format(ref=row.ticket_ref)
    if row.status == EscalationStatus.FAILED:
        return UNAVAILABLE
    return QUEUED


class EscalateTool(deskpilot.AgentTool):
    name: ClassVar[str] = "escalate_to_human"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.CUSTOMER

    @staticmethod
    def requested(message: UserMessageItem) -> bool:
        """Whether a customer's message asks for a person outright."""
        text = " ".join(p.text for p in message.content if isinstance(p, UserMessageTextContent))
        return bool(_ASKS_FOR_PERSON.search(text)) and not _NEGATED.search(text)

    async def escalate(
        self, thread: ThreadMetadata, store: Store[Any], context: Any, reason: str
    ) -> str:
        """Hand the thread to a person; what to tell the customer. `thread` is the server's own
        object: it is flagged in place so that the server's next save keeps the flag."""
        text = await transcript(store, thread, context)
        subject = _subject(thread, reason)
        request = deskpilot.EscalationRequest(
            subject=subject,
            transcript=f"Reason: {reason}\n\n{text}",
            customer_id=context.user_id,
            triage=await asyncio.to_thread(_triage, self.services, f"{subject}\n{text}"),
            thread_id=thread.id,
            created_at=utcnow(),
        )
        outbox = EscalationOutbox(self.services)
        row, created = await asyncio.to_thread(outbox.record, thread.id, context.user_id, request)
        thread.metadata["escalated"] = True
        thread.metadata["escalation_id"] = row.id
        if created:
            row = await asyncio.to_thread(outbox.deliver, row.id) or row
        return customer_message(row)

    def function_tool(self) -> FunctionTool:
        @function_tool(name_override=self.name)
        async def escalate_to_human(ctx: RunContextWrapper[Any], reason: str) -> str:
            """Hand this conversation to a human support agent. Use it when the customer asks
            for a person, or when you cannot help. Then tell the customer the returned message.

            Args:
                reason: One sentence for the support agent: what the customer needs.
            """
            chat = ctx.context
            if not isinstance(chat, AgentContext):
                return json.dumps({"escalated": False, "error": "not in a chat conversation"})
            message = await self.escalate(chat.thread, chat.store, chat.request_context, reason)
            return json.dumps({"escalated": True, "message_for_customer": message})

        return escalate_to_human


async def retry_forever(services: Any, tick: float = RETRY_TICK_SECONDS) -> None:
    """Deliver due escalations until cancelled; the first pass picks up what a restart left."""
    outbox = EscalationOutbox(services)
    while True:
        try:
            await asyncio.to_thread(outbox.deliver_due)
        except Exception:  # the database itself is down: keep the loop, try again next tick
            log.exception("escalation retry pass failed")
        await asyncio.sleep(tick)


@deskpilot.hookimpl
def register_tools(register: Any) -> None:
    register(EscalateTool)


@deskpilot.hookimpl
def background_workers(services: Any) -> list[Callable[[], Awaitable[None]]]:
    return [partial(retry_forever, services)]
