"""Labelled past tickets: what triage and tagging learn from.

The sync engine keeps one `ticket_record` row per live ticket of a connector (its opening text
and the labels humans gave it: category, priority, tags) and removes the row when the ticket is
deleted at the source. Rows change only when a label or the text changes, so `fingerprint`
tells a model trained on them whether it is out of date.

`ticket_vector` keeps those texts' embeddings (knowledge/past_tickets.py) across restarts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint, delete, func
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from deskpilot._documents import DocumentKind, DocumentRef, Ticket
from deskpilot._time import utcnow


class TicketRecord(SQLModel, table=True):
    __tablename__ = "ticket_record"
    __table_args__ = (UniqueConstraint("connector", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(index=True)
    external_id: str
    text: str
    category: str | None = None
    priority: str | None = None
    # No connector reports an intent yet; triage predicts one only where rows carry it.
    intent: str | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = ""
    updated_at: datetime | None = None
    # When a label or the text last changed: what `fingerprint` watches.
    changed_at: datetime = Field(default_factory=utcnow)


class TicketVector(SQLModel, table=True):
    """A past ticket's text as one embedder embedded it, so a restart need not embed it again.
    Keyed by text, not by ticket: a relabelled ticket keeps its vector, a reworded one does not."""

    __tablename__ = "ticket_vector"

    # "name:model:dimension" of the embedder: another model never reuses these vectors.
    embedder: str = Field(primary_key=True)
    text_sha256: str = Field(primary_key=True)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # little-endian float32
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def ticket_text(subject: str, description: str) -> str:
    """The text triage reads: what the customer wrote when opening the ticket. The same for
    training rows and for a new ticket, so both are embedded alike."""
    return "\n".join(part.strip() for part in (subject, description) if part.strip())


def _opening(ticket: Ticket) -> str:
    description = ticket.description
    if not description.strip():  # e.g. a Zendesk ticket whose first comment is private
        first = next((c for c in ticket.comments if c.public and c.author_role == "customer"),
                     None)
        description = first.body if first else ""
    return ticket_text(ticket.subject, description)


def _values(connector: str, ticket: Ticket) -> dict[str, Any]:
    # Aware: the timestamp columns are UTCDateTime, which refuses naive values.
    updated = ticket.updated_at.astimezone(UTC) if ticket.updated_at else None
    return {
        "connector": connector,
        "external_id": ticket.id,
        "text": _opening(ticket),
        "category": ticket.category,
        "priority": ticket.priority,
        "tags": sorted(set(ticket.tags)),
        "status": ticket.status,
        "updated_at": updated,
    }


def record_tickets(
    session: Session, connector: str, tickets: Iterable[Ticket], deleted: Iterable[DocumentRef]
) -> None:
    """Apply one sync page: upsert its tickets' rows, drop the rows of deleted tickets."""
    latest = {t.id: t for t in tickets}  # later duplicates win, like later events
    gone = {ref.id for ref in deleted if ref.kind == DocumentKind.TICKET} - set(latest)
    if gone:
        session.exec(delete(TicketRecord).where(  # type: ignore[call-overload]
            col(TicketRecord.connector) == connector, col(TicketRecord.external_id).in_(gone)))
    if not latest:
        return
    rows = {
        row.external_id: row
        for row in session.exec(select(TicketRecord).where(
            TicketRecord.connector == connector, col(TicketRecord.external_id).in_(latest)))
    }
    for ticket_id, ticket in latest.items():
        values = _values(connector, ticket)
        row = rows.get(ticket_id)
        if row is None:
            session.add(TicketRecord(**values))
            continue
        labels_changed = any(
            getattr(row, key) != values[key] for key in ("text", "category", "priority", "tags")
        )
        for key, value in values.items():
            setattr(row, key, value)
        if labels_changed:
            row.changed_at = utcnow()
        session.add(row)


def forget_unseen_tickets(session: Session, connector: str, seen: Collection[str]) -> None:
    """After a complete listing: tickets it did not list are gone."""
    session.exec(delete(TicketRecord).where(  # type: ignore[call-overload]
        col(TicketRecord.connector) == connector, col(TicketRecord.external_id).not_in(seen)))


def load_records(engine: Engine, connector: str | None = None) -> list[TicketRecord]:
    """Every recorded ticket with some text, of one connector or of all, in a stable order."""
    with Session(engine, expire_on_commit=False) as session:
        query = select(TicketRecord).where(TicketRecord.text != "").order_by(
            col(TicketRecord.connector), col(TicketRecord.external_id))
        if connector is not None:
            query = query.where(TicketRecord.connector == connector)
        return list(session.exec(query))


def record_texts(engine: Engine) -> set[str]:
    """The texts of every connector's recorded tickets."""
    with Session(engine) as session:
        return set(session.exec(select(TicketRecord.text).where(TicketRecord.text != "")))


def get_record(engine: Engine, connector: str, ticket_id: str) -> TicketRecord | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(select(TicketRecord).where(
            TicketRecord.connector == connector, TicketRecord.external_id == ticket_id)).first()


def fingerprint(engine: Engine, connector: str | None = None) -> str:
    """Changes whenever a row of `connector` (or any) is added, removed or relabelled."""
    with Session(engine) as session:
        query = select(func.count(), func.max(TicketRecord.changed_at))  # type: ignore[arg-type]
        if connector is not None:
            query = query.where(TicketRecord.connector == connector)
        count, latest = session.exec(query).one()
    return f"{count}:{latest.isoformat() if latest else ''}"
