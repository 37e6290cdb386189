"""Chat tables: threads, their items, attachments and feedback. Every row carries its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from deskpilot._time import utcnow


def _naive(index: bool = False) -> Column[datetime]:
    # ChatKit's timestamps are naive; keep them as given (sqlmodel's default wants aware ones).
    return Column(DateTime(), nullable=False, index=index)


class ChatThread(SQLModel, table=True):
    """A thread: columns for querying and analytics, `data` the full ChatKit ThreadMetadata."""

    __tablename__ = "chat_thread"
    __table_args__ = (Index("ix_chat_thread_user_created", "user_id", "created_at", "id"),)

    id: str = Field(primary_key=True)
    user_id: str
    created_at: datetime = Field(sa_column=_naive())
    title: str | None = None
    status: str = "active"
    # `metadata` is taken by SQLModel itself; the column keeps the plain name.
    thread_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ChatItem(SQLModel, table=True):
    """A thread item. `seq` only grows, so it orders items stably even with equal timestamps."""

    __tablename__ = "chat_item"
    __table_args__ = (
        UniqueConstraint("thread_id", "id", name="uq_chat_item_thread_id"),
        Index("ix_chat_item_thread_seq", "thread_id", "seq"),
    )

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER primary key.
    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    id: str
    thread_id: str = Field(foreign_key="chat_thread.id", ondelete="CASCADE")
    user_id: str = Field(index=True)
    created_at: datetime = Field(sa_column=_naive())
    type: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ChatAttachment(SQLModel, table=True):
    __tablename__ = "chat_attachment"

    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    thread_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_naive())
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ChatFeedback(SQLModel, table=True):
    """Thumbs up/down on an assistant item, one row per user and item (the latest vote wins)."""

    __tablename__ = "chat_feedback"
    __table_args__ = (UniqueConstraint("thread_id", "item_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str = Field(index=True)
    item_id: str
    user_id: str = Field(index=True)
    kind: str  # positive | negative
    created_at: datetime = Field(default_factory=utcnow, sa_column=_naive(index=True))
