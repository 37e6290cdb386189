"""The review queue (the plugin's migration 0001): answer snippets distilled from solved tickets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime


class SnippetStatus(StrEnum):
    PENDING = "pending"  # waiting for a reviewer; staff-only until approved
    APPROVED = "approved"  # public knowledge: the customer agent may answer from it
    REJECTED = "rejected"  # never public; similar solved tickets join it rather than reopen it


class Snippet(SQLModel, table=True):
    __tablename__ = "answer_snippet"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=SnippetStatus.PENDING, index=True)
    question: str
    answer: str
    # Which model phrased it: "extractive" (the agents' own sentences) or the LLM's name.
    phrased_by: str = "extractive"
    # The solved tickets it was distilled from, each {connector, ticket_id, question, answer},
    # already redacted: personal data never reaches this table.
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # The question's embedding (float32, little-endian): how similar solved tickets join it.
    vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    embedder: str | None = None
    locale: str = "en"
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(),
                                                                        nullable=True))
    reviewed_by: str | None = None
    # What the index holds for it: the hash of the published text, None when not published.
    # The publisher compares it with what should be public (approved: this text; else none).
    published_hash: str | None = None
