"""Handing a customer's conversation to a person, and keeping the bot quiet afterwards.

Two ways in, one path (`escalate`):
- the customer agent calls the CUSTOMER tool `escalate_to_human(reason)`;
- the customer asks for a person in so many words — the widget's "Talk to a person" button
  sends "I'd like to talk to a person" as a message — and the `before_agent_turn` hook hands
  over without asking the model. A message keeps it working with any ChatKit client and any
  model, the offline one included.

Either way the conversation goes into the outbox (outbox.py) with its transcript, triage and the
customer's identity, delivery is tried at once, and the customer is told what happens next.
While the outbox has a row for the thread, a person owns the conversation: the hook answers
every later message with HANDOFF_MESSAGE instead of the agent.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import deskpilot
from deskpilot import utcnow

from .outbox import EscalationOutbox
from .tables import Escalation, EscalationStatus

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
HANDOFF_MESSAGE = (
    "Thanks for your patience: this conversation has been handed to our support team, "
    "and a person will answer you here as soon as possible."
)

# An explicit request for a person, in the customer's own words (not a question about people).
_ASKS_FOR_PERSON = re.compile(
    r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(person|human|agent|someone|"
    r"representative|somebody|staff|operator)\b|\b(human|real person|live agent),? please\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(don't|do not|no need to|not)\b.{0,12}\b(talk|speak|chat)\b",
                      re.IGNORECASE)

#: (limit) -> the conversation so far as (role, text), oldest first.
History = Callable[[int], Awaitable[list[tuple[str, str]]]]


def requested(text: str) -> bool:
    """Whether a customer's message asks for a person outright."""
    return bool(_ASKS_FOR_PERSON.search(text)) and not _NEGATED.search(text)


def transcript(history: list[tuple[str, str]]) -> str:
    """The conversation as plain text, for the person taking over."""
    names = {"customer": "Customer", "assistant": "Assistant"}
    return "\n\n".join(f"{names.get(role, role)}: {text}" for role, text in history)


def _subject(title: str | None, reason: str) -> str:
    subject = " ".join((title or reason or "Chat conversation").split())
    if len(subject) > SUBJECT_CHARS:
        subject = subject[: SUBJECT_CHARS - 1].rstrip() + "…"
    return f"Chat: {subject}"


def customer_message(row: Escalation) -> str:
    if row.status == EscalationStatus.DELIVERED:
        return DELIVERED.format(ref=row.ticket_ref)
    if row.status == EscalationStatus.FAILED:
        return UNAVAILABLE
    return QUEUED


async def escalate(platform: deskpilot.Platform, *, thread_id: str, user_id: str,
                   title: str | None, metadata: dict[str, Any], history: History,
                   reason: str) -> str:
    """Hand the thread to a person; what to tell the customer. `metadata` is the thread's
    own: it is flagged in place, so the chat server saves the flag with the thread."""
    text = transcript(await history(TRANSCRIPT_ITEMS))
    subject = _subject(title, reason)
    # Part of the request when a triage plugin is loaded; escalation never waits on it.
    triage = await platform.run_blocking(platform.triage, f"{subject}\n{text}")
    request = deskpilot.EscalationRequest(
        subject=subject, transcript=f"Reason: {reason}\n\n{text}", customer_id=user_id,
        triage=triage or {}, thread_id=thread_id, created_at=utcnow(),
    )
    outbox = platform.shared(EscalationOutbox)  # built with the full platform
    row, created = await platform.run_blocking(outbox.record, thread_id, user_id, request)
    metadata["escalated"] = True
    metadata["escalation_id"] = row.id
    if created:
        row = await platform.run_blocking(outbox.deliver, row.id) or row
    return customer_message(row)


async def take_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn) -> str | None:
    """`before_agent_turn`: the handoff message while a person owns the conversation, the
    handoff itself when the customer asks for a person, else None (the agent answers)."""
    if turn.audience != deskpilot.ToolAudience.CUSTOMER:
        return None  # a support agent asking the copilot for a person is not a handover
    outbox = EscalationOutbox(platform)
    if turn.metadata.get("escalated") or await platform.run_blocking(
            outbox.for_thread, turn.thread_id) is not None:
        turn.metadata["escalated"] = True
        return HANDOFF_MESSAGE
    if not requested(turn.text):
        return None
    return await escalate(platform, thread_id=turn.thread_id, user_id=turn.user_id,
                          title=turn.title, metadata=turn.metadata, history=turn.history,
                          reason="The customer asked to talk to a person.")
