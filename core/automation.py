"""What a helpdesk ticket event sets off: the ticket steps plugins register (triage, tags, a
draft note, …), each after the steps it names.

A failing step is recorded in the result and the next still runs: a helpdesk outage for tags
should not cost the agent the draft. A step that does not apply (switched off, or the connector
cannot do its write-back) returns None and is left out of the result.

Receiving the webhook (`receive`) is quick — verify, claim, parse — and returns the work to do
(`run_automation`), which the route runs after answering 202, so the helpdesk's delivery does
not time out while a model embeds text.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deskpilot._automation import TicketEvent
from deskpilot._connector import Capability
from deskpilot._errors import ClientError, UnknownConnector
from deskpilot.core import webhooks
from deskpilot.core.services import Services
from deskpilot.knowledge.tickets import ticket_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What to answer the helpdesk, and the work to do after answering (if any)."""

    status_code: int
    body: dict[str, Any]
    work: Callable[[], None] | None = None


def receive(services: Services, connector_name: str, headers: Mapping[str, str], body: bytes
            ) -> Receipt:
    """Verify and claim one delivery. Raises ClientError (404 unknown connector or no webhooks,
    401 bad signature, 400 not JSON); nothing is stored before the signature holds."""
    connector = services.connectors.get(connector_name)
    if connector is None:
        raise UnknownConnector(connector_name)  # an anonymous caller: no list of names
    if Capability.WEBHOOKS not in connector.capabilities:
        raise ClientError(404, f"connector {connector_name!r} does not receive webhooks")
    if not connector.verify_webhook(headers, body):
        raise ClientError(401, "missing, invalid or expired webhook signature")
    try:
        payload = webhooks.parse_payload(body)
    except webhooks.BadPayload as exc:
        raise ClientError(400, str(exc)) from None
    event = webhooks.ticket_event(connector_name, payload)
    if event is None:
        return Receipt(200, {"status": "ignored", "reason": "not a ticket event"})
    delivery = webhooks.delivery_id(headers, body, payload)
    if not webhooks.claim(services.engine, connector_name, delivery, event.ticket_id):
        return Receipt(200, {"status": "duplicate", "delivery": delivery})

    def work() -> None:
        try:
            result = run_automation(services, event)
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


def _with_text(services: Services, event: TicketEvent) -> TicketEvent:
    """The event with the ticket's opening text: from the event, else as last synced."""
    text = ticket_text(event.subject, event.description)
    if not text:
        record = services.past_tickets.record(event.connector, event.ticket_id)
        text = record.text if record else ""
    return dataclasses.replace(event, text=text)


def run_automation(services: Services, event: TicketEvent) -> dict[str, Any]:
    """Run every registered ticket step on one event; returns what each step did. Without the
    ticket's text, only the steps that do not read it run."""
    event = _with_text(services, event)
    steps = [step for step in services.plugins.ticket_steps if event.text or not step.needs_text]
    result: dict[str, Any] = {}
    for step in steps:
        try:
            outcome = step.run(services, event, dict(result))
        except Exception as exc:
            log.warning("automation step %s for ticket %s failed: %s", step.name,
                        event.ticket_id, exc)
            outcome = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
        if outcome is not None:
            result[step.name] = outcome
    if not result and not event.text:
        return {"skipped": {"reason": "no ticket text in the event and the ticket is not synced"}}
    return result
