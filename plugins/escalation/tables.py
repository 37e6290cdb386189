"""The escalation outbox table (the plugin's migration 0001): a handed-over conversation, kept
until the helpdesk has it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
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
