"""Tags come from the helpdesk's vocabulary and similar past tickets, are written once, and no
text — least of all a retrieved article's — can make one be written."""

from __future__ import annotations

from sqlmodel import Session, select

from deskpilot.core.services import Services
from deskpilot.core.tables import AuditEvent
from deskpilot.plugins.tagging import tagging_service
from tests.plugins.helpers import desk, record_past

REFUND = "My invoice was charged twice, please refund the charge"


def test_proposals_come_from_similar_tickets_and_the_vocabulary(services: Services) -> None:
    record_past(services)
    tags = tagging_service(services)
    proposed = [p.tag for p in tags.propose("desk", REFUND)]
    assert sorted(proposed) == ["billing", "refund"]

    desk(services).options.vocabulary = ["billing"]  # "refund" is no longer a helpdesk tag
    tags._vocabularies.clear()
    assert [p.tag for p in tags.propose("desk", REFUND)] == ["billing"]


def test_dry_run_writes_nothing_and_a_second_apply_writes_nothing(services: Services) -> None:
    record_past(services)
    tags, connector = tagging_service(services), desk(services)

    dry = tags.tag_ticket("desk", "new-1", REFUND, dry_run=True)
    assert dry["would_add"] == ["billing", "refund"] and dry["added"] == []
    assert connector.tag_calls == []

    real = tags.tag_ticket("desk", "new-1", REFUND)
    assert real["added"] == ["billing", "refund"]
    assert connector.tag_calls == [("new-1", ["billing", "refund"])]

    again = tags.tag_ticket("desk", "new-1", REFUND)
    assert again["added"] == [] and again["already_present"] == ["billing", "refund"]
    assert connector.tag_calls == [("new-1", ["billing", "refund"])]
    with Session(services.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.kind == "tags.applied")).all()
    assert [e.data["added"] for e in events] == [["billing", "refund"]]


def test_tags_the_ticket_already_has_are_not_sent(services: Services) -> None:
    record_past(services)
    outcome = tagging_service(services).tag_ticket("desk", "new-2", REFUND, present=["billing"])
    assert outcome["added"] == ["refund"]
    assert desk(services).tag_calls == [("new-2", ["refund"])]
