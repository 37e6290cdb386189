"""What a helpdesk ticket event sets off: triage → tags → draft note, as `[automation]` says.

Each step runs only if it is switched on, its plugin is loaded (not denied, not failed) and the
connector can do the write-back. A failing step is recorded in the result and the next still
runs: a helpdesk outage for tags should not cost the agent the draft.

Receiving the webhook (`receive`) is quick — verify, claim, parse — and returns the work to do
(`run_automation`), which the route runs after answering 202, so the helpdesk's delivery does
not time out while a model embeds text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deskpilot.core import webhooks
from deskpilot.core.connector import Capability, Connector
from deskpilot.core.documents import Ticket
from deskpilot.core.services import Services
from deskpilot.core.store import audit
from deskpilot.core.tables import AuditEvent
from deskpilot.core.webhooks import TicketEvent
from deskpilot.knowledge.tickets import get_record, ticket_text
from sqlmodel import Session, select

log = logging.getLogger(__name__)

DRAFT_AUDIT_KIND = "automation.draft"


class WebhookRejected(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class Receipt:
    """What to answer the helpdesk, and the work to do after answering (if any)."""

    status_code: int
    body: dict[str, Any]
    work: Callable[[], None] | None = None


def _plugin_loaded(services: Services, name: str) -> bool:
    return services.plugins.pm.get_plugin(name) is not None


def _connector(services: Services, name: str) -> Connector:
    connector = services.connectors.get(name)
    if connector is None:
        raise WebhookRejected(404, f"no enabled connector named {name!r}")
    return connector


def receive(services: Services, connector_name: str, headers: Mapping[str, str], body: bytes
            ) -> Receipt:
    """Verify and claim one delivery. Raises WebhookRejected (404 unknown connector or no
    webhooks, 401 bad signature, 400 not JSON); nothing is stored before the signature holds."""
    connector = _connector(services, connector_name)
    if Capability.WEBHOOKS not in connector.capabilities:
        raise WebhookRejected(404, f"connector {connector_name!r} does not receive webhooks")
    if not connector.verify_webhook(headers, body):
        raise WebhookRejected(401, "missing, invalid or expired webhook signature")
    try:
        payload = webhooks.parse_payload(body)
    except webhooks.BadPayload as exc:
        raise WebhookRejected(400, str(exc)) from None
    event = webhooks.ticket_event(payload)
    if event is None:
        return Receipt(200, {"status": "ignored", "reason": "not a ticket event"})
    delivery = webhooks.delivery_id(headers, body, payload)
    if not webhooks.claim(services.engine, connector_name, delivery, event.ticket_id):
        return Receipt(200, {"status": "duplicate", "delivery": delivery})

    def work() -> None:
        try:
            result = run_automation(services, connector_name, event)
        except Exception as exc:  # recorded; a redelivery may try again
            log.exception("automation for %s ticket %s failed", connector_name, event.ticket_id)
            webhooks.finish(services.engine, connector_name, delivery, "failed",
                            error=f"{type(exc).__name__}: {exc}"[:500])
            return
        # Retried on redelivery only if every step failed: a step that wrote (a draft note)
        # must not write twice.
        failed = bool(result) and all("error" in step for step in result.values())
        webhooks.finish(services.engine, connector_name, delivery,
                        "failed" if failed else "done", result)

    body_out = {"status": "accepted", "delivery": delivery, "ticket_id": event.ticket_id}
    return Receipt(202, body_out, work)


def _event_text(services: Services, connector: str, event: TicketEvent) -> str:
    text = ticket_text(event.subject, event.description)
    if text:
        return text
    record = get_record(services.engine, connector, event.ticket_id)
    return record.text if record else ""


def run_automation(services: Services, connector_name: str, event: TicketEvent
                   ) -> dict[str, Any]:
    """Triage, tag and draft for one ticket event; returns what each step did."""
    settings = services.settings.automation
    connector = _connector(services, connector_name)
    text = _event_text(services, connector_name, event)
    if not text:
        return {"skipped": {"reason": "no ticket text in the event and the ticket is not synced"}}
    result: dict[str, Any] = {}
    triage: dict[str, Any] | None = None
    if settings.triage and _plugin_loaded(services, "triage"):
        from deskpilot.plugins.triage import triage_service

        try:
            triage = triage_service(services).triage_ticket(connector_name, event.ticket_id, text)
            result["triage"] = triage
        except Exception as exc:
            result["triage"] = _failed("triage", event, exc)
    if (settings.tags and _plugin_loaded(services, "tagging")
            and Capability.TAGS in connector.capabilities):
        from deskpilot.plugins.tagging import tagging_service

        try:
            result["tags"] = tagging_service(services).tag_ticket(
                connector_name, event.ticket_id, text, triage,
                dry_run=settings.tag_dry_run, present=event.tags)
        except Exception as exc:
            result["tags"] = _failed("tagging", event, exc)
    if (settings.draft_note and _plugin_loaded(services, "copilot")
            and Capability.NOTES in connector.capabilities):
        result["draft"] = _draft(services, connector_name, event, text)
    return result


def _draft(services: Services, connector_name: str, event: TicketEvent, text: str
           ) -> dict[str, Any]:
    """At most one draft note per ticket: our own write-backs make the helpdesk send
    ticket-updated events, which must not pile up notes."""
    subject = f"{connector_name}/{event.ticket_id}"
    with Session(services.engine) as session:
        posted = session.exec(select(AuditEvent.id).where(
            AuditEvent.kind == DRAFT_AUDIT_KIND, AuditEvent.subject == subject)).first()
    if posted is not None:
        return {"skipped": "a draft was already posted on this ticket"}
    from deskpilot.plugins.copilot import draft_for_ticket, post_draft_note

    try:
        # As a Ticket, not bare text: the draft must not cite this ticket as its own source.
        ticket = Ticket(id=event.ticket_id, subject="", description=text, status="open")
        draft = draft_for_ticket(services, connector_name, ticket)
        post_draft_note(services, connector_name, event.ticket_id, draft)
    except Exception as exc:
        return _failed("draft", event, exc)
    audit(services.engine, DRAFT_AUDIT_KIND, subject, connector=connector_name,
          ticket_id=event.ticket_id, sources=len(draft.sources))
    return {"posted": True, "sources": len(draft.sources), "generated_by": draft.generated_by}


def _failed(step: str, event: TicketEvent, exc: Exception) -> dict[str, Any]:
    log.warning("automation step %s for ticket %s failed: %s", step, event.ticket_id, exc)
    return {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
