"""GET /metrics: Prometheus text that parses, behind the admin token, whose counters move
with what the server does (requests per route, a sync, an escalation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from deskpilot._events import SyncFinished
from deskpilot.connectors.local import DEMO_PATH
from deskpilot.core.app import create_app
from deskpilot.core.metrics import Metrics
from deskpilot.core.services import Services
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from tests.knowledge.conftest import make_services  # noqa: F401 - fixture
from tests.plugins.escalation.relay_helpers import LOCAL_SECRET, local_webhook
from tests.plugins.support_fakes import ADMIN, Chat
from tests.plugins.support_fakes import make_services as make_support_services


def samples(client: TestClient, token: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_the_admin_token(tmp_path: Path) -> None:
    services = make_support_services(tmp_path)
    with TestClient(create_app(services=services)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_requests_are_counted_per_route_template_and_unknown_paths_share_one_label(
        tmp_path: Path) -> None:
    services = make_support_services(tmp_path)
    with TestClient(create_app(services=services)) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        for path in ("/no/such/a", "/no/such/b", "/wp-login.php"):
            assert client.get(path).status_code == 404
        assert client.post("/v1/sync/nope", headers={"Authorization": f"Bearer {ADMIN}"}
                          ).status_code == 404
        found = samples(client, ADMIN)
    assert value(found, "deskpilot_http_requests_total", method="GET", route="/healthz",
                 status="200") == 3
    assert value(found, "deskpilot_http_requests_total", method="GET", route="(unmatched)",
                 status="404") == 3
    assert value(found, "deskpilot_http_requests_total", method="POST",
                 route="/v1/sync/{connector}", status="404") == 1
    assert value(found, "deskpilot_http_request_duration_seconds_count", method="GET",
                 route="/healthz") == 3
    assert not any("wp-login" in str(labels) for _, labels in found)


def delta(before: dict[tuple[str, frozenset], float], after: dict[tuple[str, frozenset], float],
          name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_chat_and_an_escalation_move_their_counters(tmp_path: Path) -> None:
    services = make_support_services(tmp_path, "local", options={"webhook_secret": LOCAL_SECRET},
                                     escalation={"relay_poll_seconds": 0})
    app = create_app(services=services)
    chat = Chat(app)
    with chat.http:
        before = samples(chat.http, ADMIN)
        first = chat.send("How do I reset my password?")  # the agent: a search, then words
        chat.send("I'd like to talk to a person", first.thread_id)
        chat.send("ana@example.com", first.thread_id)  # an anonymous visitor is asked first
        [row] = EscalationOutbox(services).list()
        reply = {"ticket_id": row.ticket_ref, "status": "open", "comment": {
            "id": "c1", "author_name": "Dana", "body": "Hi Ana, on it.", "public": True}}
        assert local_webhook(chat.http, "desk", reply).status_code == 202  # into the chat
        chat.send("Thanks, it's order 1234.", first.thread_id)  # onto the ticket
        after = samples(chat.http, ADMIN)
    chats = {"method": "POST", "route": "/chatkit", "status": "200"}
    assert delta(before, after, "deskpilot_http_requests_total", **chats) == 4
    assert delta(before, after, "deskpilot_escalations_total") == 1
    assert delta(before, after, "deskpilot_chat_turns_total", audience="customer",
                 answered_by="agent") == 1
    assert delta(before, after, "deskpilot_chat_turns_total", audience="customer",
                 answered_by="plugin") == 3  # the handoff's two, and the person's silence
    assert delta(before, after, "deskpilot_chat_first_word_seconds_count",
                 audience="customer") == 1
    assert delta(before, after, "deskpilot_tool_calls_total", tool="search_knowledge") == 1
    assert delta(before, after, "deskpilot_relayed_messages_total", direction="to_chat") == 1
    assert delta(before, after, "deskpilot_relayed_messages_total", direction="to_ticket") == 1
    # Gauges read at the scrape: the snippet queue (empty here) and the month's model spend.
    for status in ("pending", "approved", "rejected"):
        assert ("deskpilot_snippet_queue", frozenset({("status", status)})) in after
    assert value(after, "deskpilot_model_spend_this_month") == 0
    assert value(after, "deskpilot_model_budget_exceeded") == 0


def test_a_sync_moves_the_sync_counters(
        make_services: Callable[..., Services],  # noqa: F811
) -> None:
    services = make_services({"demo": {"type": "local", "path": str(DEMO_PATH / "billing")}})
    services.settings.server.admin_token = SecretStr("s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(services=services)) as client:
        assert client.post("/v1/sync/demo", headers=auth).status_code == 200
        found = samples(client, "s3cret")
    [run_status] = [dict(labels)["status"] for name, labels in found
                    if name == "deskpilot_sync_runs_total" and found[(name, labels)] == 1]
    assert run_status == "succeeded"
    documents = sum(v for (name, labels), v in found.items()
                    if name == "deskpilot_sync_documents_total"
                    and dict(labels)["connector"] == "demo")
    assert documents == 4  # the demo's billing articles, each counted once
    assert value(found, "deskpilot_sync_duration_seconds_count", connector="demo") == 1


def test_failed_syncs_and_failed_documents_count_as_sync_failures() -> None:
    metrics = Metrics()
    metrics.record(SyncFinished(connector="desk", report={"status": "failed", "failed": 0}))
    metrics.record(SyncFinished(connector="desk", report={"status": "succeeded", "failed": 3}))
    found = {(s.name, frozenset(s.labels.items())): s.value
             for family in text_string_to_metric_families(metrics.render().decode())
             for s in family.samples}
    assert value(found, "deskpilot_sync_failures_total", connector="desk", scope="run") == 1
    assert value(found, "deskpilot_sync_failures_total", connector="desk", scope="document") == 3


def test_plugins_count_and_gauge_under_the_deskpilot_prefix() -> None:
    metrics = Metrics()
    metrics.count("orders_looked_up", "Orders looked up", shop="eu")
    metrics.count("orders_looked_up", "Orders looked up", amount=2, shop="eu")
    metrics.gauge("open_orders", "Open orders", "shop", lambda: {"eu": 4, "us": 1})
    text = metrics.render().decode()
    found = {(s.name, frozenset(s.labels.items())): s.value
             for family in text_string_to_metric_families(text) for s in family.samples}
    assert value(found, "deskpilot_orders_looked_up_total", shop="eu") == 3
    assert value(found, "deskpilot_open_orders", shop="us") == 1
    with pytest.raises(ValueError, match="has the labels"):
        metrics.count("orders_looked_up", "Orders looked up", region="eu")
    with pytest.raises(ValueError, match="metric name"):
        metrics.count("Orders-Looked-Up", "Orders looked up")


def test_a_gauge_that_cannot_be_read_leaves_the_others_scraping(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    services = make_support_services(tmp_path)
    services.metrics.gauge("broken", "Reads a database that is down", "status",
                           lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    with TestClient(create_app(services=services)) as client:
        assert client.get("/healthz").status_code == 200
        found = samples(client, ADMIN)
    assert value(found, "deskpilot_http_requests_total", method="GET", route="/healthz",
                 status="200") == 1
    assert not any(name.startswith("deskpilot_broken") for name, _ in found)
    assert "metric deskpilot_broken left out: ZeroDivisionError" in caplog.text
