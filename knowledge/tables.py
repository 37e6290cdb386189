"""The sync engine's tables: checkpoints, runs, the registry of indexed documents, locks.

Schema changes go through the Alembic migrations in core/migrations/versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from deskpilot._time import utcnow


class SyncState(SQLModel, table=True):
    """Per connector: the checkpoint of its incremental sync, persisted after every page."""

    __tablename__ = "sync_state"

    connector: str = Field(primary_key=True)
    checkpoint: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow)


class SyncRun(SQLModel, table=True):
    """One sync run and its counts, shown by `deskpilot sync status`."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(index=True)
    full: bool = False
    status: str = "running"  # running | succeeded | failed | cancelled | interrupted
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    added: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # Per kind ("article", "ticket"): indexed, updated, deleted, unchanged, failed, empty.
    counts: dict[str, dict[str, int]] | None = Field(default=None, sa_column=Column(JSON))
    warnings: list[str] | None = Field(default=None, sa_column=Column(JSON))

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SourceDocument(SQLModel, table=True):
    """Registry of every indexed document: its content hash decides whether to re-embed."""

    __tablename__ = "source_document"
    __table_args__ = (UniqueConstraint("connector", "kind", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(index=True)
    kind: str
    external_id: str
    content_hash: str
    chunk_count: int = 0
    title: str = ""
    url: str | None = None
    source_updated_at: datetime | None = None
    indexed_at: datetime = Field(default_factory=utcnow)


class SyncFailure(SQLModel, table=True):
    """A document whose own request (or indexing) failed: fetched again on later runs, with
    backoff, until it succeeds or is gone; listed by `deskpilot sync status`."""

    __tablename__ = "sync_failure"
    __table_args__ = (UniqueConstraint("connector", "kind", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(index=True)
    kind: str
    external_id: str
    url: str | None = None
    status: int | None = None
    error: str
    attempts: int = 1
    first_failed_at: datetime = Field(default_factory=utcnow)
    last_failed_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime = Field(default_factory=utcnow)


class SyncLock(SQLModel, table=True):
    """At most one sync per connector, across processes: a row is the lock, with an expiry so
    a crashed holder does not block forever."""

    __tablename__ = "sync_lock"

    connector: str = Field(primary_key=True)
    holder: str
    expires_at: datetime
