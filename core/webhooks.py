"""Helpdesk webhook deliveries: who sent them, once each, and which ticket they are about.

Authenticity is the connector's (`verify_webhook`: signature, and for Zendesk the signed
timestamp's freshness). Replays and redeliveries are ours: each delivery is claimed by one
INSERT into `webhook_delivery`, keyed by (connector, delivery id), so the second copy finds the
row and does nothing. A delivery whose automation failed may be claimed again by a redelivery.
Records are kept for `[automation] webhook_retention_days`, then pruned by serve's scheduler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, delete, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from deskpilot._automation import TicketEvent
from deskpilot._time import utcnow
from deskpilot.knowledge.store import session_scope

# Headers naming one delivery (kept the same on the sender's retries), in order of preference.
# Zendesk's `x-zendesk-webhook-id` names the webhook, not the delivery, so it is not one of them.
DELIVERY_HEADERS = ("x-zendesk-webhook-invocation-id", "x-delivery-id", "x-github-delivery")


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("connector", "delivery_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connector: str
    delivery_id: str
    ticket_id: str | None = None
    status: str = "accepted"  # accepted | done | failed | ignored
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


def delivery_id(headers: Mapping[str, str], body: bytes, payload: Mapping[str, Any]) -> str:
    """The delivery's own id if the sender gives one, else a digest of the signed body (so an
    exact replay is still recognised)."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name in DELIVERY_HEADERS:
        if lower.get(name):
            return f"{name}:{lower[name]}"
    if payload.get("type") == "notification_event" and payload.get("id"):  # Intercom
        return f"intercom:{payload['id']}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


_table = WebhookDelivery.__table__  # type: ignore[attr-defined]


def claim(engine: Engine, connector: str, delivery: str, ticket_id: str | None) -> bool:
    """True if this process is the one to act on the delivery: a first delivery, or a
    redelivery of one whose automation failed. One atomic statement either way."""
    try:
        with session_scope(engine) as session:
            session.execute(insert(_table).values(
                connector=connector, delivery_id=delivery, ticket_id=ticket_id,
                status="accepted", received_at=utcnow(), result={}))
        return True
    except IntegrityError:
        pass
    with session_scope(engine) as session:
        retried = session.execute(
            update(_table)
            .where(_table.c.connector == connector, _table.c.delivery_id == delivery,
                   _table.c.status == "failed")
            .values(status="accepted", error=None, finished_at=None)
        )
        return retried.rowcount == 1


def finish(engine: Engine, connector: str, delivery: str, status: str,
           result: dict[str, Any] | None = None, error: str | None = None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(_table)
            .where(_table.c.connector == connector, _table.c.delivery_id == delivery)
            .values(status=status, result=result or {}, error=error, finished_at=utcnow())
        )


def prune(engine: Engine, older_than: timedelta) -> int:
    """Delete the records of deliveries received more than `older_than` ago; how many."""
    with session_scope(engine) as session:
        deleted = session.execute(
            delete(_table).where(_table.c.received_at < utcnow() - older_than)
            .returning(_table.c.id)
        )
        return len(deleted.all())
