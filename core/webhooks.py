"""Helpdesk webhook deliveries: who sent them, once each, and which ticket they are about.

Authenticity is the connector's (`verify_webhook`: signature, and for Zendesk the signed
timestamp's freshness). Replays and redeliveries are ours: each delivery is claimed by one
INSERT into `webhook_delivery`, keyed by (connector, digest of what the signature covers), so
a copy — also one re-sent under a new, unsigned id header — finds the row and does nothing.
The sender's own delivery id is kept too (unique as well): a retry the sender re-signed with a
new timestamp keeps it. Each step's outcome is recorded as it finishes; a delivery with a failed
step may be claimed again (by a redelivery or the retry job) to complete the steps that failed.
Records are kept for `[automation] webhook_retention_days`, then pruned by serve's scheduler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from deskpilot._automation import TicketEvent
from deskpilot._time import utcnow
from deskpilot.knowledge.store import session_scope

# Headers naming one delivery (kept the same on the sender's retries), in order of preference.
# They are not signed: a delivery is keyed by what is, these only recognise re-signed retries.
# Zendesk's `x-zendesk-webhook-id` names the webhook, not the delivery, so it is not one of them.
DELIVERY_HEADERS = ("x-zendesk-webhook-invocation-id", "x-delivery-id", "x-github-delivery")


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("connector", "delivery_id"),
                      UniqueConstraint("connector", "sender_id",
                                       name="uq_webhook_delivery_sender"))

    id: int | None = Field(default=None, primary_key=True)
    connector: str
    # "sha256:<digest of what the signature covers>"
    delivery_id: str
    # The sender's own id of the delivery (an id header, Intercom's notification id), if any.
    sender_id: str | None = None
    ticket_id: str | None = None
    # The ticket event (TicketEvent's fields), so the retry job can run it again.
    event: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = "accepted"  # accepted | done | failed
    attempts: int = 1
    received_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str | None = None


class BadPayload(ValueError):
    """The body is not a ticket event this endpoint understands."""


def parse_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadPayload("body is not a JSON object")
    return payload


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _html_text(value: Any) -> str:
    """Intercom message bodies are HTML."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(_text(value), "html.parser").get_text(" ", strip=True)


def ticket_event(connector: str, payload: Mapping[str, Any]) -> TicketEvent | None:
    """The ticket a delivery is about; None for events about anything else.

    Understood: Zendesk trigger payloads `{"ticket": {"id", "subject", "description", "tags"}}`,
    Zendesk event webhooks `{"type": "zen:event-type:ticket.…", "detail": {…}}`, Intercom
    notifications `{"data": {"item": {"type": "conversation", "id", "source": {…}}}}`, and a
    flat `{"ticket_id": …}`.
    """
    ticket: Any = None
    if isinstance(payload.get("ticket"), Mapping):
        ticket = payload["ticket"]
    elif str(payload.get("type", "")).startswith("zen:event-type:ticket"):
        ticket = payload.get("detail")
    elif isinstance(payload.get("data"), Mapping) and isinstance(payload["data"].get("item"),
                                                                 Mapping):
        item = payload["data"]["item"]
        if item.get("type") not in (None, "conversation", "ticket"):
            return None
        source = item.get("source") if isinstance(item.get("source"), Mapping) else {}
        tags = (item.get("tags") or {}).get("tags", []) if isinstance(item.get("tags"),
                                                                      Mapping) else []
        ticket = {"id": item.get("id"), "subject": source.get("subject"),
                  "description": _html_text(source.get("body")),
                  "tags": [t.get("name") for t in tags if isinstance(t, Mapping)]}
    elif "ticket_id" in payload:
        ticket = {**payload, "id": payload["ticket_id"]}
    if not isinstance(ticket, Mapping) or ticket.get("id") in (None, ""):
        return None
    tags = ticket.get("tags")
    if isinstance(tags, str):  # Zendesk's {{ticket.tags}} placeholder is space-separated
        tags = tags.split()
    return TicketEvent(
        connector=connector,
        ticket_id=str(ticket["id"]),
        subject=_text(ticket.get("subject")),
        description=_text(ticket.get("description")),
        tags=tuple(str(t) for t in tags or [] if t),
        payload=dict(payload),
    )


def delivery_id(signed: bytes) -> str:
    """A delivery's key: the digest of what its signature covers (`signed_webhook_content`)."""
    return "sha256:" + hashlib.sha256(signed).hexdigest()


def sender_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str | None:
    """The delivery's own id if the sender gives one (kept the same on its retries)."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name in DELIVERY_HEADERS:
        if lower.get(name):
            return f"{name}:{lower[name]}"
    if payload.get("type") == "notification_event" and payload.get("id"):  # Intercom
        return f"intercom:{payload['id']}"
    return None


_table = WebhookDelivery.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """This process acts on delivery row `id`; `done` holds the outcomes of steps an earlier
    attempt completed (empty on a first delivery)."""

    id: int
    done: dict[str, Any]


def step_failed(outcome: Any) -> bool:
    """Whether a step's recorded outcome is its failure (`{"error": ...}`)."""
    return isinstance(outcome, Mapping) and "error" in outcome


def _completed(result: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: outcome for name, outcome in (result or {}).items()
            if not step_failed(outcome)}


def claim(engine: Engine, connector: str, delivery: str, sender: str | None,
          event: TicketEvent) -> Claimed | None:
    """Claimed if this process is the one to act on the delivery: a first delivery, or a
    redelivery of one with a failed step. None for a duplicate. One atomic statement each."""
    try:
        with session_scope(engine) as session:
            row = session.execute(insert(_table).values(
                connector=connector, delivery_id=delivery, sender_id=sender,
                ticket_id=event.ticket_id, event=asdict(event), status="accepted",
                attempts=1, received_at=utcnow(), result={}).returning(_table.c.id)).one()
        return Claimed(row.id, {})
    except IntegrityError:
        pass
    same = _table.c.delivery_id == delivery
    if sender is not None:
        same = or_(same, _table.c.sender_id == sender)
    with session_scope(engine) as session:
        row = session.execute(select(_table.c.id).where(
            _table.c.connector == connector, same).limit(1)).first()
    return None if row is None else reclaim(engine, row.id)


def reclaim(engine: Engine, row_id: int) -> Claimed | None:
    """Take a delivery with a failed step back for another attempt; None if it is not failed
    (done, or being worked on by someone else)."""
    with session_scope(engine) as session:
        row = session.execute(
            update(_table).where(_table.c.id == row_id, _table.c.status == "failed")
            .values(status="accepted", error=None, finished_at=None,
                    attempts=_table.c.attempts + 1)
            .returning(_table.c.id, _table.c.result)).first()
    return None if row is None else Claimed(row.id, _completed(row.result))


def stored_event(engine: Engine, row_id: int) -> TicketEvent | None:
    with session_scope(engine) as session:
        event = session.execute(select(_table.c.event).where(_table.c.id == row_id)).scalar()
    if not event:
        return None
    return TicketEvent(**{**event, "tags": tuple(event.get("tags") or ())})


def record(engine: Engine, row_id: int, result: dict[str, Any]) -> None:
    """The outcomes so far, written after each step: what a crash leaves is still known."""
    with session_scope(engine) as session:
        session.execute(update(_table).where(_table.c.id == row_id).values(result=result))


def finish(engine: Engine, row_id: int, status: str, result: dict[str, Any] | None = None,
           error: str | None = None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(_table).where(_table.c.id == row_id)
            .values(status=status, result=result or {}, error=error, finished_at=utcnow())
        )


def failed_deliveries(engine: Engine, finished_before: datetime, max_attempts: int
                      ) -> list[int]:
    """Rows with a failed step, last tried before `finished_before`, fewer than
    `max_attempts` times: what the retry job takes up."""
    with session_scope(engine) as session:
        rows = session.execute(select(_table.c.id).where(
            _table.c.status == "failed", _table.c.attempts < max_attempts,
            _table.c.finished_at < finished_before).order_by(_table.c.id))
        return [row.id for row in rows]


def prune(engine: Engine, older_than: timedelta) -> int:
    """Delete the records of deliveries received more than `older_than` ago; how many."""
    with session_scope(engine) as session:
        deleted = session.execute(
            delete(_table).where(_table.c.received_at < utcnow() - older_than)
            .returning(_table.c.id)
        )
        return len(deleted.all())
