"""Handing a customer's conversation to a person, and who speaks afterwards.

Ways in, one path (`hand_over`):
- the customer agent calls the CUSTOMER tool `escalate_to_human(reason)`;
- the customer asks for a person in so many words, in one of the languages phrases.py hears
  — the widget's "Talk to a person" button sends "I'd like to talk to a person" (or its UI
  language's) as a message — and the `before_agent_turn` hook hands over without asking the
  model (any ChatKit client, any model, the offline one included), or takes up the assistant's
  offer of one: "yes" to "Would you like me to hand you over to a person?", "no" to "Did that
  answer your question? If not, I can hand you over to a person.";
- an `[[escalation.rules]]` rule holds (rules.py): at once, before the agent answers, or after
  the agent's Nth answer in a row without a source (`after_agent_turn`).

An anonymous visitor is first asked for an email address (validated; "skip" hands over without
one), so the person can also answer by email; a signed-in visitor's comes from the signed token.
The conversation then goes into the outbox (outbox.py) with its transcript, triage and the
customer's identity, delivery is tried at once, and the customer is told what happens next
(and, outside `[escalation] hours`, when people are back).

What the plugin says itself comes in the customer's language where phrases.py has it, and is
marked (`deskpilot.Reply`): the handoff, and before it the email question
(`Reply.HANDOFF_PENDING`), with `asked_for_person` when the message only asked for a person,
so the dashboard's rates and the knowledge-gap report read neither as an AI answer nor as a
question the knowledge missed.

Afterwards (relay.py) the AI is silent while a person owns the conversation: the customer's
messages go to the ticket, the person's replies come into the chat. Once the ticket is solved
the AI answers again, and a reopened ticket gives the conversation back to the person.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import deskpilot
from deskpilot import utcnow
from deskpilot.language import detect, small_talk

from .outbox import EscalationOutbox
from .phrases import (
    accepts_offer,
    days,
    language_of,
    moment,
    only_requested,
    requested,
    say,
    skips_email,
)
from .relay import Relay
from .rules import count_answer, message_rule, needs_triage, streak_rule
from .settings import EscalationSettings, Hours, Rule
from .tables import Escalation, EscalationStatus, Owner

TRANSCRIPT_ITEMS = 100
SUBJECT_CHARS = 80
# Items read back to find the assistant's last message (tool calls may lie between).
OFFER_LOOKBACK = 6

# The handoff's reason when [agent] over_budget = "handover" and the month's budget is spent.
BUDGET_SPENT = "This month's model budget is spent: a person answers instead of the AI."
_EMAIL_LIKE = re.compile(r"\S+@\S+")

#: (limit) -> the conversation so far as (role, text), oldest first.
History = Callable[[int], Awaitable[list[tuple[str, str]]]]


def transcript(history: list[tuple[str, str]]) -> str:
    """The conversation as plain text, for the person taking over."""
    names = {"customer": "Customer", "assistant": "Assistant"}
    return "\n\n".join(f"{names.get(role, role)}: {text}" for role, text in history)


def _customer_texts(conversation: list[tuple[str, str]]) -> list[str]:
    """The customer's messages, newest first."""
    return [text for role, text in reversed(conversation) if role == "customer"]


async def _turn_language(turn: deskpilot.ChatTurn) -> str:
    """The language to answer this turn in: its message's, else the conversation's."""
    return language_of([turn.text, *_customer_texts(await turn.history(10))])


def _subject(title: str | None, reason: str) -> str:
    subject = " ".join((title or reason or "Chat conversation").split())
    if len(subject) > SUBJECT_CHARS:
        subject = subject[: SUBJECT_CHARS - 1].rstrip() + "…"
    return f"Chat: {subject}"


def _hours_note(hours: Hours | None, now: datetime, language: str) -> str:
    if hours is None or hours.is_open(now):
        return ""
    return say("after_hours", language, days=days(hours.days, language),
               start=hours.start.strftime("%H:%M"), end=hours.end.strftime("%H:%M"),
               timezone=hours.timezone, opening=moment(hours.next_opening(now), language))


def customer_message(row: Escalation, language: str, hours: Hours | None = None,
                     now: datetime | None = None) -> str:
    if row.status == EscalationStatus.DELIVERED:
        text = say("delivered", language, ref=row.ticket_ref or "")
    elif row.status == EscalationStatus.FAILED:
        return say("unavailable", language)
    else:
        text = say("queued", language)
    return text + _hours_note(hours, now or utcnow(), language)


def valid_email(text: str) -> str:
    """The normalized address; ValueError naming what is wrong with it."""
    from email_validator import EmailNotValidError, validate_email

    found = _EMAIL_LIKE.search(text)
    candidate = found.group(0).strip(".,;:!?()<>\"'") if found else text.strip()
    try:
        # No DNS lookup: nothing goes to the network while a visitor waits (and tests run
        # offline); the syntax check is what a typo needs.
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc).rstrip(".")) from None


async def escalate(platform: deskpilot.Platform, *, thread_id: str, user_id: str,
                   title: str | None, metadata: dict[str, Any], history: History,
                   reason: str, rule: str | None = None, email: str | None = None,
                   name: str | None = None, client_address: str | None = None) -> str:
    """Hand the thread to a person; what to tell the customer. `metadata` is the thread's
    own: it is flagged in place, so the chat server saves the flag with the thread. Raises a
    ClientError 429 when a new ticket would break the handoff limits."""
    settings = platform.settings_for(EscalationSettings)
    outbox = platform.shared(EscalationOutbox)  # built with the full platform
    if await platform.run_blocking(outbox.for_thread, thread_id) is None:
        # A new ticket: within the handoff limits (a 429 naming the one it would break).
        platform.shared(HandoffLimits).admit(session=user_id, address=client_address)
    now = utcnow()
    conversation = await history(TRANSCRIPT_ITEMS)
    language = language_of(_customer_texts(conversation))
    text = transcript(conversation)
    subject = _subject(title, reason)
    # Part of the request when a triage plugin is loaded; escalation never waits on it.
    triage = await platform.run_blocking(platform.triage, f"{subject}\n{text}")
    header = f"Reason: {reason}" + (f"\nRule: {rule}" if rule else "")
    if note := _hours_note(settings.hours, now, language):
        header += f"\nOutside business hours, the customer was told:{note}"
    request = deskpilot.EscalationRequest(
        subject=subject, transcript=f"{header}\n\n{text}", customer_id=user_id,
        customer_email=email, customer_name=name, triage=triage or {}, thread_id=thread_id,
        created_at=now,
    )
    row, created = await platform.run_blocking(outbox.record, thread_id, user_id, request)
    metadata["escalated"] = True
    metadata["escalation_id"] = row.id
    metadata.pop("handoff_pending", None)
    if rule:
        platform.audit("escalation.rule", row.id, rule=rule, reason=reason, thread_id=thread_id)
    if created:
        row = await platform.run_blocking(outbox.deliver, row.id) or row
    message = customer_message(row, language, settings.hours, now)
    told = _reason_told(settings, rule, reason, language) if rule else None
    return f"{told.rstrip('.')}. {message}" if told else message


def _reason_told(settings: EscalationSettings, rule_name: str, reason: str, language: str
                 ) -> str | None:
    """The rule's reason in the visitor's language, if the rule has it: `reasons[language]`,
    else `reason` when written in that language (English when too short to tell)."""
    rule = next((r for r in settings.rules if r.name == rule_name), None)
    if rule is not None and language in rule.reasons:
        return rule.reasons[language]
    return reason if (detect(reason) or "en") == language else None


class HandoffLimits(deskpilot.RateLimits):
    """`[escalation] handoffs_per_session` and `handoffs_per_address`, one per platform."""

    def __init__(self, platform: deskpilot.Platform) -> None:
        settings = platform.settings_for(EscalationSettings)
        super().__init__("handoffs to a person", session=settings.handoffs_per_session,
                         address=settings.handoffs_per_address)


def handed(text: str, asked_for_person: bool = False) -> deskpilot.Reply:
    """The reply that says a person has the conversation: marked, so the widget starts
    watching for their messages."""
    return deskpilot.Reply(text, event=deskpilot.Reply.HANDOFF,
                           asked_for_person=asked_for_person)


async def hand_over(platform: deskpilot.Platform, turn: deskpilot.ChatTurn, reason: str,
                    rule: str | None = None) -> str:
    """Escalate, after asking an anonymous visitor for an email address first."""
    settings = platform.settings_for(EscalationSettings)
    email = turn.claims.get("email") if isinstance(turn.claims.get("email"), str) else None
    name = turn.claims.get("name") if isinstance(turn.claims.get("name"), str) else None
    if email is not None:
        try:
            email = valid_email(email)
        except ValueError:
            email = None  # the host site's data: not the visitor's to correct here
    anonymous = not turn.claims and turn.user_id.startswith("anon:")
    if anonymous and settings.ask_email and email is None:
        language = await _turn_language(turn)
        turn.metadata["handoff_pending"] = {"reason": reason, "rule": rule, "language": language}
        return say("ask_email", language)
    return await escalate(platform, thread_id=turn.thread_id, user_id=turn.user_id,
                          title=turn.title, metadata=turn.metadata, history=turn.history,
                          reason=reason, rule=rule, email=email, name=name,
                          client_address=turn.client_address)


async def _pending_email(platform: deskpilot.Platform, turn: deskpilot.ChatTurn,
                         pending: dict[str, Any]) -> str:
    email = None
    if not skips_email(turn.text):
        try:
            email = valid_email(turn.text)
        except ValueError as exc:
            return say("bad_email", str(pending.get("language") or "en"), problem=str(exc))
    return await escalate(platform, thread_id=turn.thread_id, user_id=turn.user_id,
                          title=turn.title, metadata=turn.metadata, history=turn.history,
                          reason=pending.get("reason") or "The customer asked for a person.",
                          rule=pending.get("rule"), email=email,
                          client_address=turn.client_address)


async def _to_person(platform: deskpilot.Platform, row: Escalation, turn: deskpilot.ChatTurn
                     ) -> None:
    """Record the customer's message for the ticket and try to add it at once (a failure
    is retried by the worker)."""
    relay = Relay(platform)
    source = turn.item_id or "text:" + hashlib.sha256(turn.text.encode()).hexdigest()
    await platform.run_blocking(relay.record_customer_message, row, source, turn.text)
    await platform.run_blocking(relay.deliver_to_ticket, row.id)


async def take_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn
                    ) -> str | deskpilot.Reply | None:
    """`before_agent_turn`: silence while a person owns the conversation (the message goes to
    the ticket), the handoff when the customer asks for a person or a rule holds, else None
    (the agent answers)."""
    if turn.audience != deskpilot.ToolAudience.CUSTOMER:
        return None  # a support agent asking the copilot for a person is not a handover
    # A conversation this request opens has no escalation yet: no lookup (under a burst of new
    # chats, it waited for a worker thread before the customer saw their message received).
    row = None if turn.new_thread else \
        await platform.run_blocking(EscalationOutbox(platform).for_thread, turn.thread_id)
    if row is not None:
        turn.metadata["escalated"] = True
        if row.owner == Owner.PERSON:
            if turn.text:
                await _to_person(platform, row, turn)
            return ""  # the person answers, not the AI
        if requested(turn.text):  # solved, and the customer wants the person back
            await platform.run_blocking(Relay(platform).hand_back, row)
            await _to_person(platform, row, turn)
            return handed(say("handed_back", await _turn_language(turn)),
                          asked_for_person=only_requested(turn.text))
        return None  # solved: the AI answers, and nothing goes to the (solved) ticket
    if turn.metadata.get("escalated"):
        return ""  # flagged by a handoff whose row is not visible yet: never the AI
    if isinstance(pending := turn.metadata.get("handoff_pending"), dict):
        return _marked(turn, await _pending_email(platform, turn, pending))
    if requested(turn.text):
        return _marked(turn, await hand_over(platform, turn,
                                             "The customer asked to talk to a person."),
                       asked_for_person=only_requested(turn.text))
    if await _takes_up_offer(turn):
        return _marked(turn, await hand_over(platform, turn,
                                             "The customer accepted the offer of a person."),
                       asked_for_person=True)
    if await _budget_spent(platform):
        return _marked(turn, await hand_over(platform, turn, BUDGET_SPENT))
    rule = await _message_rule(platform, turn)
    if rule is not None:
        return _marked(turn, await hand_over(platform, turn, rule.reason, rule.name))
    return None


async def _takes_up_offer(turn: deskpilot.ChatTurn) -> bool:
    """A bare yes or no that takes up the person the assistant's last message offered (the
    history is read only for such a message)."""
    reply = small_talk(turn.text)
    if turn.new_thread or reply is None:
        return False
    said = [text for role, text in await turn.history(OFFER_LOOKBACK) if role == "assistant"]
    return bool(said) and accepts_offer(said[-1], reply)


async def _budget_spent(platform: deskpilot.Platform) -> bool:
    """`[agent] over_budget = "handover"` and this month's model budget is spent."""
    agent = platform.settings.agent
    if not agent.monthly_budget or agent.over_budget != "handover":
        return False
    return (await platform.run_blocking(platform.budget_status)).active


async def _message_rule(platform: deskpilot.Platform, turn: deskpilot.ChatTurn) -> Rule | None:
    rules = platform.settings_for(EscalationSettings).rules
    if not rules or not turn.text:
        return None
    triage = None
    if needs_triage(rules):
        triage = await platform.run_blocking(platform.triage, turn.text, cpu=True)
    return message_rule(rules, turn.text, turn.claims, triage)


async def after_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn,
                     answer: deskpilot.AgentAnswer) -> str | deskpilot.Reply | None:
    """`after_agent_turn`: count answers without a source (to questions, not small talk);
    hand over after N in a row."""
    if turn.audience != deskpilot.ToolAudience.CUSTOMER or turn.metadata.get("escalated"):
        return None
    rules = platform.settings_for(EscalationSettings).rules
    if not any(rule.low_confidence_answers for rule in rules):
        return None  # nothing counts answers: the thread's metadata stays as it is
    if small_talk(turn.text) is not None:
        return None  # "thanks" asked nothing: its reply cites nothing, and need not
    streak = count_answer(turn.metadata, answer)
    rule = streak_rule(rules, streak)
    if rule is None:
        return None
    turn.metadata.pop("low_confidence_streak", None)
    return _marked(turn, await hand_over(platform, turn, rule.reason, rule.name))


def _marked(turn: deskpilot.ChatTurn, text: str, asked_for_person: bool = False
            ) -> deskpilot.Reply:
    """The plugin's reply on the way to a person: the handoff once the conversation is theirs,
    else a pending one (the email question): never read as the AI's answer."""
    if turn.metadata.get("escalated"):
        return handed(text, asked_for_person)
    return deskpilot.Reply(text, event=deskpilot.Reply.HANDOFF_PENDING,
                           asked_for_person=asked_for_person)
