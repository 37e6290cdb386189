"""The platform's own tables (the sync engine's are in knowledge/tables.py, plugins keep theirs).

Schema changes go through the Alembic migrations in core/migrations/versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from deskpilot._time import utcnow


class AuditEvent(SQLModel, table=True):
    """What the platform did that someone may ask about later (syncs, write-backs, escalations)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(index=True)
    subject: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class WriteClaim(SQLModel, table=True):
    """A write-back that must happen at most once (a draft note per ticket), claimed by one
    INSERT before the helpdesk is called: of two racing workers, the second finds the row."""

    __tablename__ = "write_claim"

    kind: str = Field(primary_key=True)
    subject: str = Field(primary_key=True)
    claimed_at: datetime = Field(default_factory=utcnow)


class ModelUsage(SQLModel, table=True):
    """One model call's tokens and estimated cost (core/budget.py), at the prices configured
    when it was made: a later price change does not rewrite what was spent."""

    __tablename__ = "model_usage"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    # The chat thread the call answered; None for work outside a conversation (a draft note).
    conversation_id: str | None = Field(default=None, index=True)
    workflow: str = ""
    model: str
    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
