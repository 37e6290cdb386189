"""The two-way relay of a handed-over conversation, and who speaks in it.

    to the chat    a person's public replies on the escalation's ticket become messages in the
                   customer's thread, with the person's name; internal notes never do
    to the ticket  the customer's chat messages, while a person owns the conversation, become
                   the requester's public comments

Both ways go through `relay_message` rows first (an outbox): a row per message, unique per
(escalation, direction, source id), so a redelivered webhook, a re-read ticket or a retried
write adds nothing twice, and a restart between recording and delivering loses nothing. Rows
are delivered in the order they were recorded; a failed one holds back those after it.

The ticket is read through the connector (`conversation`): when its webhook says the ticket
changed (the `relay` ticket step), and every `[escalation] relay_poll_seconds` for tickets whose
helpdesk sends no webhooks. Its status decides who speaks:

    person owns it  the AI is silent; the customer's messages go to the ticket
    solved/closed   the person's closing note is posted; the AI answers the customer's next
                    message (which does not go to the ticket: that would reopen it, a loop)
    reopened        (the ticket open again, or a new reply from the person) back to the person
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import deskpilot
from deskpilot import utcnow

from .outbox import LEASE, backoff
from .tables import Direction, Escalation, EscalationStatus, Owner, RelayMessage

log = logging.getLogger(__name__)

SOLVED = frozenset({"solved", "closed"})
# Solved tickets are still read for a while: a person may reopen one and write again.
WATCH_SOLVED = timedelta(days=7)
CLOSED_NOTE = ("{name} closed this conversation. If you need anything else, just write here "
               "and I'll help.")


def chat_item_id(row: RelayMessage) -> str:
    """The relayed message's item id in the thread: fixed by the row, so posting twice is one
    message."""
    return f"msg_relay_{row.id}"


class Relay:
    def __init__(self, platform: deskpilot.Platform) -> None:
        self.platform = platform
        self.engine = platform.engine

    # -- finding escalations --------------------------------------------------------------
    def for_ticket(self, connector: str, ticket_id: str) -> Escalation | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(select(Escalation).where(
                Escalation.connector == connector, Escalation.ticket_ref == ticket_id,
                Escalation.status == EscalationStatus.DELIVERED)).first()

    def _get(self, escalation_id: str) -> Escalation:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Escalation, escalation_id)
        assert row is not None  # escalations are never deleted
        return row

    def _relaying(self, row: Escalation) -> deskpilot.Connector | None:
        connector = self.platform.connectors.get(row.connector)
        if connector is None or deskpilot.Capability.RELAY not in connector.capabilities:
            return None
        return connector

    # -- recording --------------------------------------------------------------------------
    def _record(self, row: Escalation, direction: Direction, source_id: str, body: str, *,
                author: str | None = None, event: str | None = None) -> bool:
        """A new row, or False if this message was recorded before."""
        now = utcnow()
        message = RelayMessage(escalation_id=row.id, direction=direction, source_id=source_id,
                               body=body, author_name=author, event=event, created_at=now,
                               next_attempt_at=now)
        try:
            with Session(self.engine) as session:
                session.add(message)
                session.commit()
        except IntegrityError:
            return False
        return True

    def _set(self, escalation_id: str, **values: Any) -> None:
        with Session(self.engine) as session:
            session.execute(update(Escalation).where(col(Escalation.id) == escalation_id)
                            .values(**values))
            session.commit()

    def record_customer_message(self, row: Escalation, item_id: str, body: str) -> bool:
        """Queue the message for the ticket; False if recorded before, or if the helpdesk
        cannot take it (its connector does not relay: the person answers from the ticket)."""
        if self._relaying(row) is None:
            return False
        return self._record(row, Direction.TO_TICKET, item_id, body)

    def hand_back(self, row: Escalation) -> None:
        """The customer asked for a person again after the ticket was solved."""
        self._set(row.id, owner=Owner.PERSON)
        self.platform.audit("relay.handed_back", row.id, thread_id=row.thread_id)

    # -- to the chat --------------------------------------------------------------------------
    def sync_ticket(self, row: Escalation, webhook: dict[str, Any] | None = None
                    ) -> dict[str, Any] | None:
        """Read the ticket, record what is new, update who speaks, and post to the chat.
        None if the connector cannot relay."""
        connector = self._relaying(row)
        if connector is None or not row.ticket_ref:
            return None
        conversation = connector.conversation(row.ticket_ref, webhook)
        new = 0
        last_author = None
        for message in conversation.messages:
            if not (message.public and message.author_role == "agent" and message.body.strip()):
                continue  # internal notes, the customer's own messages, the system's
            last_author = message.author_name or last_author
            if self._record(row, Direction.TO_CHAT, f"message:{message.id}",
                            message.body.strip(), author=message.author_name):
                new += 1
        solved = conversation.status in SOLVED
        was_solved = row.ticket_status in SOLVED
        owner = row.owner
        if solved and not was_solved and row.owner == Owner.PERSON:
            name = last_author or "Our support team"
            key = conversation.messages[-1].id if conversation.messages else "-"
            self._record(row, Direction.TO_CHAT, f"closed:{key}", CLOSED_NOTE.format(name=name),
                         author=last_author, event="closed")
            owner = Owner.AI
        elif not solved and (was_solved or new):
            owner = Owner.PERSON  # reopened, or the person wrote again
        if owner != row.owner or conversation.status != row.ticket_status:
            self._set(row.id, owner=owner, ticket_status=conversation.status)
            if owner != row.owner:
                self.platform.audit("relay.owner", row.id, owner=owner,
                                    ticket_status=conversation.status)
        posted = self.deliver_to_chat(row)
        return {"ticket_status": conversation.status, "owner": owner, "new": new,
                "posted": posted}

    def _pending(self, escalation_id: str, direction: Direction) -> list[RelayMessage]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(
                select(RelayMessage)
                .where(RelayMessage.escalation_id == escalation_id,
                       RelayMessage.direction == direction,
                       RelayMessage.status == EscalationStatus.PENDING)
                .order_by(col(RelayMessage.id))).all())

    def _finish(self, message: RelayMessage) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(message)
            session.commit()
        if message.status == EscalationStatus.DELIVERED:
            self.platform.metrics.count(
                "relayed_messages", "Messages relayed between customers' chats and their "
                "tickets, by direction (to_chat: a person's reply; to_ticket: the customer's)",
                direction=str(message.direction))

    def deliver_to_chat(self, row: Escalation) -> int:
        """Post the escalation's pending replies into its thread, in order; how many."""
        posted = 0
        for message in self._pending(row.id, Direction.TO_CHAT):
            item_id = chat_item_id(message)
            if not self.platform.post_to_thread(row.thread_id, item_id, message.body,
                                                author=message.author_name,
                                                event=message.event):
                message.status, message.last_error = EscalationStatus.FAILED, "thread deleted"
            else:
                message.status, message.ref = EscalationStatus.DELIVERED, item_id
                message.delivered_at = utcnow()
                posted += 1
            message.attempts += 1
            self._finish(message)
        return posted

    # -- to the ticket ------------------------------------------------------------------------
    def _claim(self, message_id: int, now: datetime) -> bool:
        stmt = (update(RelayMessage)
                .where(col(RelayMessage.id) == message_id,
                       col(RelayMessage.status) == EscalationStatus.PENDING,
                       col(RelayMessage.next_attempt_at) <= now)
                .values(next_attempt_at=now + LEASE))
        with Session(self.engine) as session:
            claimed = session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
            session.commit()
        return claimed

    def deliver_to_ticket(self, escalation_id: str, now: datetime | None = None) -> int:
        """Add the customer's pending messages to the ticket, in order, stopping at the first
        that fails (or that another worker holds); how many were added."""
        now = now or utcnow()
        row = self._get(escalation_id)
        connector = self._relaying(row)
        if row.status != EscalationStatus.DELIVERED or not row.ticket_ref or connector is None:
            return 0  # the ticket does not exist yet: the messages wait for it
        request = deskpilot.EscalationRequest.model_validate(row.request)
        added = 0
        for message in self._pending(row.id, Direction.TO_TICKET):
            if not self._claim(message.id or 0, now):
                break
            message.attempts += 1
            try:
                message.ref = connector.add_customer_message(row.ticket_ref, (
                    deskpilot.CustomerMessage(
                        key=f"{row.id}:{message.source_id}", body=message.body,
                        customer_id=row.user_id, customer_email=row.customer_email,
                        customer_name=request.customer_name, created_at=message.created_at)))
            except Exception as exc:  # helpdesk down: retried with backoff, order kept
                message.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                message.next_attempt_at = now + backoff(message.attempts)
                self._finish(message)
                log.warning("relay of a message to ticket %s failed (attempt %d): %s",
                            row.ticket_ref, message.attempts, message.last_error)
                break
            message.status, message.delivered_at = EscalationStatus.DELIVERED, now
            message.last_error = None
            self._finish(message)
            added += 1
        return added

    # -- the worker's passes ------------------------------------------------------------------
    def deliver_due(self, now: datetime | None = None) -> int:
        """Every pending message whose time has come, both ways; how many were delivered."""
        now = now or utcnow()
        with Session(self.engine) as session:
            due = session.exec(
                select(RelayMessage.escalation_id, RelayMessage.direction)
                .where(RelayMessage.status == EscalationStatus.PENDING,
                       col(RelayMessage.next_attempt_at) <= now)
                .distinct()).all()
        delivered = 0
        for escalation_id, direction in due:
            if direction == Direction.TO_TICKET:
                delivered += self.deliver_to_ticket(escalation_id, now)
            else:
                delivered += self.deliver_to_chat(self._get(escalation_id))
        return delivered

    def poll(self, now: datetime | None = None) -> int:
        """Read every ticket a person owns, and those solved lately (they may be reopened),
        for what their webhooks did not bring; how many messages were new."""
        now = now or utcnow()
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.exec(select(Escalation).where(
                Escalation.status == EscalationStatus.DELIVERED,
                (col(Escalation.owner) == Owner.PERSON)
                | (col(Escalation.delivered_at) >= now - WATCH_SOLVED))).all()
        new = 0
        for row in rows:
            try:
                outcome = self.sync_ticket(row)
            except Exception as exc:  # one helpdesk error must not stop the other tickets
                log.warning("reading ticket %s for replies failed: %s", row.ticket_ref, exc)
                continue
            new += (outcome or {}).get("new", 0)
        return new
