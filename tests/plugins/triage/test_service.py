"""Triage learns from the labelled past tickets the sync engine records, and abstains when a
ticket is unlike any of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import deskpilot
from deskpilot._tools import ToolAudience
from deskpilot.core.agent import build_customer_agent
from deskpilot.core.services import Services
from deskpilot.knowledge.store import session_scope
from deskpilot.knowledge.tickets import load_records, record_tickets
from deskpilot.plugins.triage.model import TriageModel
from deskpilot.plugins.triage.service import triage_service
from tests.plugins.helpers import desk, make_services, past_tickets, record_past


def test_sync_records_labelled_tickets_and_drops_deleted_ones(services: Services) -> None:
    connector = desk(services)
    connector.tickets = past_tickets()
    services.sync("desk")
    records = {r.external_id: r for r in load_records(services.engine, "desk")}
    assert len(records) == len(connector.tickets)
    assert records["past-0"].category == "billing"
    assert records["past-0"].tags == ["billing", "refund"]
    assert records["past-0"].text.startswith("Refund for double charge\n")

    connector.tickets = connector.tickets[1:]  # a full listing without past-0: it is gone
    services.sync("desk", full=True)
    assert "past-0" not in {r.external_id for r in load_records(services.engine, "desk")}


def test_predicts_category_and_priority_and_abstains_out_of_scope(services: Services) -> None:
    record_past(services)
    triage = triage_service(services)

    known = triage.triage_text("I was charged twice on my invoice, refund please", "desk")
    assert known["category"] == "billing" and not known["abstained"]
    assert known["priority"] == "normal"
    assert 0 < known["confidence"] <= 1

    unknown = triage.triage_text("what is the airspeed velocity of an unladen swallow", "desk")
    assert unknown["abstained"] and unknown["category"] is None


def test_models_persist_and_retrain_only_after_the_tickets_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(tmp_path)
    record_past(services)
    first = triage_service(services).models("desk")
    assert set(first) == {"category", "priority"}  # no ticket carries an intent
    assert (tmp_path / "data" / "models" / "triage" / "desk" / "meta.json").is_file()
    services.close()

    restarted = make_services(tmp_path)
    reloaded = triage_service(restarted)
    fit = TriageModel.fit
    monkeypatch.setattr(TriageModel, "fit", _refuse)  # a restart loads, never retrains
    assert reloaded.triage_text("site down with 503 errors", "desk")["category"] == "outage"
    monkeypatch.setattr(TriageModel, "fit", fit)

    # A sync relabels a ticket: the plugin is told, and the next prediction retrains.
    before = reloaded._models["desk"].fingerprint
    relabelled = past_tickets()[0].model_copy(update={"category": "refunds"})
    with session_scope(restarted.engine) as session:
        record_tickets(session, "desk", [relabelled], [])
    restarted.emit(deskpilot.SyncFinished(connector="desk", report={}))
    reloaded.models("desk")
    assert reloaded._models["desk"].fingerprint != before
    restarted.close()


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("retrained although the tickets did not change")


def test_ticket_triaged_is_notified(services: Services) -> None:
    record_past(services)
    seen: list[dict[str, Any]] = []

    class Listener:
        @deskpilot.hookimpl
        def ticket_triaged(self, event: deskpilot.TicketTriaged) -> None:
            seen.append({"connector": event.connector, "ticket_id": event.ticket_id,
                         **event.result})

    services.plugins.register(Listener(), "listener")
    triage_service(services).triage_ticket("desk", "past-4")
    assert seen and seen[0]["ticket_id"] == "past-4" and seen[0]["category"] == "login"


def test_customer_agent_never_gets_the_agent_only_tools(services: Services) -> None:
    tools = services.plugins.tools
    assert tools["triage_ticket"].audience == ToolAudience.AGENT
    assert tools["tag_ticket"].audience == ToolAudience.AGENT

    agent = build_customer_agent(services)

    names = {tool.name for tool in agent.tools}
    assert "triage_ticket" not in names and "tag_ticket" not in names
    assert all(tools[name].audience == ToolAudience.CUSTOMER for name in names)
