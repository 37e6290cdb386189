"""serve's scheduler: a first sync for a connector with nothing indexed, the connector's
interval afterwards, and the daily prune of old webhook delivery records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, select

from deskpilot._time import utcnow
from deskpilot.core import schedule
from deskpilot.core.services import Services
from deskpilot.core.store import make_engine, upgrade
from deskpilot.core.webhooks import WebhookDelivery, prune
from tests.plugins.helpers import embedded_defaults


def _delivery(delivery_id: str, age: timedelta) -> WebhookDelivery:
    return WebhookDelivery(connector="desk", delivery_id=delivery_id, ticket_id="1",
                           status="done", received_at=utcnow() - age)


def _delivery_ids(engine: object) -> set[str]:
    with Session(engine) as session:  # type: ignore[arg-type]
        return set(session.exec(select(WebhookDelivery.delivery_id)))


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_prune_forgets_only_deliveries_older_than_the_retention(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        session.add(_delivery("old", timedelta(days=31)))
        session.add(_delivery("recent", timedelta(days=29)))
        session.commit()

    assert prune(engine, timedelta(days=30)) == 1
    assert _delivery_ids(engine) == {"recent"}
    assert prune(engine, timedelta(days=30)) == 0
    engine.dispose()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = embedded_defaults(tmp_path / "data")  # the demo connector, hourly
    yield services
    services.close()


def test_empty_connector_syncs_at_once_then_hourly_and_old_deliveries_are_pruned(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = threading.Event()
    monkeypatch.setattr(schedule, "scheduled_sync", lambda *args: synced.set())
    with Session(services.engine) as session:
        session.add(_delivery("old", timedelta(days=90)))
        session.add(_delivery("recent", timedelta(hours=1)))
        session.commit()

    scheduler = schedule.start_scheduler(services)
    try:
        assert synced.wait(10), "the empty demo connector was not synced at once"
        sync_job = scheduler.scheduler.get_job("sync:demo")
        assert isinstance(sync_job.trigger, IntervalTrigger)
        assert sync_job.trigger.interval == timedelta(hours=1)
        prune_job = scheduler.scheduler.get_job("prune:webhook_delivery")
        assert prune_job.trigger.interval == timedelta(days=1)
        assert _wait_until(lambda: _delivery_ids(services.engine) == {"recent"})
    finally:
        scheduler.stop()


def test_retention_zero_keeps_deliveries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    services = embedded_defaults(tmp_path / "data", automation={"webhook_retention_days": 0})
    monkeypatch.setattr(schedule, "scheduled_sync", lambda *args: None)
    scheduler = schedule.start_scheduler(services)
    try:
        assert scheduler.scheduler.get_job("prune:webhook_delivery") is None
        assert scheduler.scheduler.get_job("sync:demo") is not None
    finally:
        scheduler.stop()
        services.close()
