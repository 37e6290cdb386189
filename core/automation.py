"""What a helpdesk ticket event sets off: the ticket steps plugins register (triage, tags, a
draft note, …), each after the steps it names.

A failing step is recorded in the result and the next still runs: a helpdesk outage for tags
should not cost the agent the draft. A step that does not apply (switched off, or the connector
cannot do its write-back) returns None and is left out of the result. Each outcome is recorded
with the delivery as the step ends; a delivery with a failed step stays "failed", and the
helpdesk's redelivery or serve's retry job (`retry_failed_deliveries`) runs again only the steps
that failed or never ran, handing them the recorded outcomes of those that succeeded.

Receiving the webhook (`receive`) is quick — verify, claim, parse — and returns the work to do
(`run_automation`), which the route runs after answering 202, so the helpdesk's delivery does
not time out while a model embeds text.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from deskpilot._automation import TicketEvent
from deskpilot._connector import Capability
from deskpilot._errors import ClientError, UnknownConnector
from deskpilot._time import utcnow
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
    delivery = webhooks.delivery_id(connector.signed_webhook_content(headers, body))
    claimed = webhooks.claim(services.engine, connector_name, delivery,
                             webhooks.sender_id(headers, payload), event)
    if claimed is None:
        return Receipt(200, {"status": "duplicate", "delivery": delivery})
    body_out = {"status": "accepted", "delivery": delivery, "ticket_id": event.ticket_id}
    return Receipt(202, body_out, lambda: attempt(services, claimed, event))


def attempt(services: Services, claimed: webhooks.Claimed, event: TicketEvent) -> str:
    """Run the steps a claimed delivery still needs and record how it ended: "done" when every
    step succeeded, else "failed" (open to a redelivery or the retry job)."""
    engine = services.engine
    try:
        result = run_automation(services, event, claimed.done,
                                record=lambda so_far: webhooks.record(engine, claimed.id, so_far))
    except Exception as exc:  # recorded; a redelivery may try again
        log.exception("automation for %s ticket %s failed", event.connector, event.ticket_id)
        webhooks.finish(engine, claimed.id, "failed", dict(claimed.done),
                        error=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    status = "failed" if any(map(webhooks.step_failed, result.values())) else "done"
    webhooks.finish(engine, claimed.id, status, result)
    return status


def retry_failed_deliveries(services: Services, older_than_seconds: float = 300,
                            max_attempts: int = 5) -> int:
    """serve's retry job: take up deliveries with a failed step, last tried at least
    `older_than_seconds` ago and fewer than `max_attempts` times; how many are now done."""
    finished_before = utcnow() - timedelta(seconds=older_than_seconds)
    completed = 0
    for row_id in webhooks.failed_deliveries(services.engine, finished_before, max_attempts):
        event = webhooks.stored_event(services.engine, row_id)
        claimed = webhooks.reclaim(services.engine, row_id) if event is not None else None
        if claimed is not None and attempt(services, claimed, event) == "done":
            completed += 1
    return completed


def _with_text(services: Services, event: TicketEvent) -> TicketEvent:
    """The event with the ticket's opening text: from the event, else as last synced."""
    text = ticket_text(event.subject, event.description)
    if not text:
        record = services.past_tickets.record(event.connector, event.ticket_id)
        text = record.text if record else ""
    return dataclasses.replace(event, text=text)


def run_automation(services: Services, event: TicketEvent,
                   done: Mapping[str, Any] | None = None,
                   record: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every registered ticket step on one event; returns what each step did. Without the
    ticket's text, only the steps that do not read it run. Steps in `done` (outcomes of an
    earlier attempt) are not run again; `record` is told the outcomes after each step."""
    event = _with_text(services, event)
    steps = [step for step in services.plugins.ticket_steps if event.text or not step.needs_text]
    result: dict[str, Any] = {}
    for step in steps:
        if done and step.name in done:
            result[step.name] = done[step.name]
            continue
        try:
            outcome = step.run(services, event, dict(result))
        except Exception as exc:
            log.warning("automation step %s for ticket %s failed: %s", step.name,
                        event.ticket_id, exc)
            outcome = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
        if outcome is not None:
            result[step.name] = outcome
            if record is not None:
                record(dict(result))
    if not result and not event.text:
        return {"skipped": {"reason": "no ticket text in the event and the ticket is not synced"}}
    return result
