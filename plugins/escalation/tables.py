"""The plugin's tables: the escalation outbox (migration 0001: a handed-over conversation, kept
until the helpdesk has it, and since 0002 who speaks in it), and the relay's messages (0002)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime


class EscalationStatus(StrEnum):
    PENDING = "pending"  # recorded; delivery not yet confirmed (retried with backoff)
    DELIVERED = "delivered"  # the helpdesk created the ticket: `ticket_ref`
    FAILED = "failed"  # the connector can never take it (e.g. it cannot create tickets)


def _aware(nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Escalation(SQLModel, table=True):
    __tablename__ = "escalation"
    __table_args__ = (Index("ix_escalation_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True)
    # Unique: escalating a thread twice (button and tool, or a retried request) is one ticket.
    thread_id: str = Field(unique=True)
    user_id: str = Field(index=True)
    connector: str
    status: str = EscalationStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    ticket_ref: str | None = None
    # The EscalationRequest as JSON: what the helpdesk gets, frozen when the customer asked.
    request: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_aware(index=True))
    # Also the delivery lease: a worker claims a due row by pushing this into the future.
    next_attempt_at: datetime = Field(sa_column=_aware())
    delivered_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
    # Who answers the customer: "person" from the handoff until the ticket is solved, then
    # "ai"; a reopened ticket (or a person's new reply) makes it "person" again.
    owner: str = "person"
    # The ticket's status as last read from the helpdesk (open, pending, solved, closed).
    ticket_status: str | None = None
    # Where the person can also answer by email: asked of an anonymous visitor, or the signed
    # token's; sent to the helpdesk as the requester.
    customer_email: str | None = None


class Owner(StrEnum):
    PERSON = "person"
    AI = "ai"


class Direction(StrEnum):
    TO_CHAT = "to_chat"  # a person's public reply on the ticket, into the customer's chat
    TO_TICKET = "to_ticket"  # a customer's chat message, onto the ticket as the requester's


class RelayMessage(SQLModel, table=True):
    """One relayed message. Unique per (escalation, direction, source id): a redelivered
    webhook or a re-read ticket finds its row and adds nothing. Rows are written before the
    message is delivered (the outbox), so a restart in between loses nothing; `id` only grows,
    which is the order messages are delivered in."""

    __tablename__ = "relay_message"
    __table_args__ = (
        UniqueConstraint("escalation_id", "direction", "source_id"),
        Index("ix_relay_message_due", "direction", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: str = Field(index=True)
    direction: str
    # The helpdesk's message id (to_chat), or the chat item id (to_ticket), or an event key
    # ("closed:…") for the note that the person closed the conversation.
    source_id: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    author_name: str | None = None
    event: str | None = None
    status: str = "pending"  # pending | delivered | failed (as the escalation's)
    attempts: int = 0
    last_error: str | None = None
    # Where it landed: the chat item id, or the helpdesk's comment id.
    ref: str | None = None
    created_at: datetime = Field(sa_column=_aware())
    next_attempt_at: datetime = Field(sa_column=_aware())
    delivered_at: datetime | None = Field(default=None, sa_column=_aware(nullable=True))
