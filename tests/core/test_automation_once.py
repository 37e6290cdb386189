"""Webhook automation acts once: replays of a signed delivery under a new id header, two
genuine deliveries for one ticket at the same moment, and redeliveries after a partial failure.

The helpdesk is the in-memory TestDesk with the triage, tagging and copilot (draft note)
plugins; the concurrency test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import deskpilot
import deskpilot.plugins.copilot
import deskpilot.plugins.tagging
import deskpilot.plugins.triage
from deskpilot.core.app import create_app
from deskpilot.core.automation import receive, retry_failed_deliveries
from deskpilot.core.config import ConnectorSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from deskpilot.core.webhooks import WebhookDelivery
from tests.core.test_automation import with_fake_zendesk, zendesk_signed
from tests.plugins.helpers import (
    VOCABULARY,
    HashEmbedder,
    TestDesk,
    TestDeskPlugin,
    desk,
    record_past,
    sign,
)

EVENT = {"ticket": {"id": 9001, "subject": "Refund for a double charge",
                    "description": "My invoice was charged twice, please refund it"}}


def make_services(tmp_path: Path, database_url: str | None = None, **automation: Any
                  ) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data", database={"url": database_url}, automation=automation,
        plugins={"allow": ["embedders", "knowledge_search"]},
        connectors={"desk": ConnectorSettings(type="testdesk", vocabulary=VOCABULARY)})
    host = load_plugins(settings.plugins, extra=[
        ("testdesk", TestDeskPlugin()), ("triage", deskpilot.plugins.triage),
        ("tagging", deskpilot.plugins.tagging), ("copilot", deskpilot.plugins.copilot)])
    services = Services(settings, host)
    services.__dict__["embedder"] = HashEmbedder()
    services.migrate()
    record_past(services)
    return services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path)
    yield services
    services.close()


def deliveries(services: Services) -> list[WebhookDelivery]:
    with Session(services.engine) as session:
        return list(session.exec(select(WebhookDelivery)))


def test_a_signed_delivery_replayed_with_new_id_headers_acts_once(services: Services) -> None:
    body = json.dumps(EVENT).encode()
    with TestClient(create_app(services=services)) as client:
        answers = [client.post("/v1/webhooks/desk", content=body,
                               headers={**sign(body), "X-Delivery-Id": f"replay-{n}"})
                   for n in range(5)]
        assert [a.status_code for a in answers] == [202, 200, 200, 200, 200]
        assert all(a.json()["status"] == "duplicate" for a in answers[1:])
        assert len(desk(services).notes) == 1
        assert desk(services).tag_calls == [("9001", ["billing", "refund"])]


def test_zendesk_replay_of_one_signed_timestamp_under_a_new_invocation_id(
        tmp_path: Path) -> None:
    services = make_services(tmp_path, draft_note=False)  # the fake serves no note API
    fake = with_fake_zendesk(services)
    record_past(services, connector="zd")
    body = json.dumps({"type": "zen:event-type:ticket.created", "id": "evt-1", "detail": {
        "id": "77", "subject": "Charged twice",
        "description": "My invoice was charged twice, refund please"}}).encode()
    signed = zendesk_signed(body, "inv-1")
    with TestClient(create_app(services=services)) as client:
        first = client.post("/v1/webhooks/zd", content=body, headers=signed)
        replays = [client.post("/v1/webhooks/zd", content=body, headers={
            **signed, "X-Zendesk-Webhook-Invocation-Id": f"inv-forged-{n}"}) for n in range(3)]
    assert first.status_code == 202
    assert [r.json()["status"] for r in replays] == ["duplicate"] * 3
    assert fake.tag_puts == [("77", ["billing", "refund"])]
    services.close()


class SlowDesk(TestDesk):
    """A helpdesk whose note API takes a moment, as a real one does."""

    __test__ = False

    def add_note(self, ticket_id: str, body: str) -> None:
        time.sleep(0.3)
        super().add_note(ticket_id, body)


def test_two_deliveries_for_one_ticket_at_once_post_one_draft(tmp_path: Path,
                                                              database_url: str) -> None:
    services = make_services(tmp_path, database_url)
    slow = SlowDesk("desk", desk(services).options)
    services.__dict__["connectors"] = {"desk": slow}
    # Two genuine deliveries (the ticket was created, then updated): different bodies.
    bodies = [json.dumps(EVENT).encode(),
              json.dumps({"ticket": {**EVENT["ticket"], "tags": "vip"}}).encode()]
    services.index  # noqa: B018 - opened first, as serve does at start: one opener per process
    receipts = [receive(services, "desk", sign(body), body) for body in bodies]
    assert [r.status_code for r in receipts] == [202, 202]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r.work,)) for r in receipts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    assert len(slow.notes) == 1, slow.notes
    assert sorted(d.status for d in deliveries(services)) == ["done", "done"]
    services.close()


class FlakyTagsDesk(TestDesk):
    """The helpdesk's tag API is down until `down` is cleared."""

    __test__ = False
    down = True

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        if self.down:
            raise deskpilot.ClientError(502, "helpdesk answered 503 Service Unavailable")
        super().add_tags(ticket_id, tags)


def _flaky(services: Services) -> FlakyTagsDesk:
    flaky = FlakyTagsDesk("desk", desk(services).options)
    services.__dict__["connectors"] = {"desk": flaky}
    return flaky


def test_a_redelivery_completes_the_failed_step_and_repeats_none(services: Services) -> None:
    flaky = _flaky(services)
    body = json.dumps(EVENT).encode()
    with TestClient(create_app(services=services)) as client:
        assert client.post("/v1/webhooks/desk", content=body, headers=sign(body)
                           ).status_code == 202
        [delivery] = deliveries(services)
        assert delivery.status == "failed"  # not "done": the tags are missing
        assert "error" in delivery.result["tags"] and delivery.result["draft"]["posted"]
        assert len(flaky.notes) == 1

        flaky.down = False
        again = client.post("/v1/webhooks/desk", content=body, headers=sign(body))
        assert again.status_code == 202, again.text
        duplicate = client.post("/v1/webhooks/desk", content=body, headers=sign(body))
        assert duplicate.json()["status"] == "duplicate"
    [delivery] = deliveries(services)
    assert delivery.status == "done"
    assert flaky.tag_calls == [("9001", ["billing", "refund"])]
    assert len(flaky.notes) == 1  # the draft is not posted again
    assert delivery.result["tags"]["added"] == ["billing", "refund"]
    assert delivery.result["draft"]["posted"] is True


def test_the_retry_worker_completes_a_partly_failed_delivery(services: Services) -> None:
    flaky = _flaky(services)
    body = json.dumps(EVENT).encode()
    receipt = receive(services, "desk", sign(body), body)
    assert receipt.work is not None
    receipt.work()
    assert [d.status for d in deliveries(services)] == ["failed"]

    assert retry_failed_deliveries(services, older_than_seconds=0) == 0  # still down: kept
    assert [d.status for d in deliveries(services)] == ["failed"]
    flaky.down = False
    assert retry_failed_deliveries(services, older_than_seconds=0) == 1
    [delivery] = deliveries(services)
    assert delivery.status == "done" and delivery.attempts == 3
    assert flaky.tag_calls == [("9001", ["billing", "refund"])]
    assert len(flaky.notes) == 1
    assert retry_failed_deliveries(services, older_than_seconds=0) == 0
