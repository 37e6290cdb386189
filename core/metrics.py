"""Prometheus metrics: what the server did, for an operator's scraper (`GET /metrics`).

Each app has a registry of its own (not prometheus-client's global one), so two apps in one
process — the tests, a plugin's second app — count separately. Routes are labelled by their
template (`/v1/sync/{name}`), never the raw path, and unmatched paths by one label: a scanner
must not be able to grow the label set.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskpilot._events import ConversationEscalated, Event, SyncFinished, TicketTriaged

UNMATCHED_ROUTE = "(unmatched)"
# A sync report's document counts (see knowledge/runs.py::report), at its top level or per stream.
SYNC_OUTCOMES = ("indexed", "updated", "deleted", "unchanged", "failed", "empty")
SYNC_STREAMS = ("articles", "tickets")


class Metrics:
    """The counters and histograms of one app."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("deskpilot_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("deskpilot_http_request_duration_seconds",
                                         "Time to answer an HTTP request (to the end of its body)",
                                         ["method", "route"], registry=r)
        self.syncs = Counter("deskpilot_sync_runs", "Knowledge sync runs that ended",
                             ["connector", "status"], registry=r)
        self.sync_documents = Counter("deskpilot_sync_documents",
                                      "Documents a sync run handled, by stream and outcome",
                                      ["connector", "stream", "outcome"], registry=r)
        self.sync_seconds = Histogram("deskpilot_sync_duration_seconds", "Length of a sync run",
                                      ["connector"], registry=r,
                                      buckets=(1, 5, 15, 60, 300, 900, 3600, float("inf")))
        self.escalations = Counter("deskpilot_escalations", "Conversations handed to a person",
                                   registry=r)
        self.triaged = Counter("deskpilot_tickets_triaged", "Helpdesk tickets triaged",
                               ["connector", "abstained"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def record(self, event: Event) -> None:
        """Count what an event says happened (`platform.emit` calls this for every event)."""
        match event:
            case SyncFinished(connector=connector, report=report):
                self._record_sync(connector, report)
            case ConversationEscalated():
                self.escalations.inc()
            case TicketTriaged(connector=connector, result=result):
                self.triaged.labels(connector, str(bool(result.get("abstained"))).lower()).inc()

    def _record_sync(self, connector: str, report: dict[str, Any]) -> None:
        self.syncs.labels(connector, str(report.get("status", "unknown"))).inc()
        streams = {s: report[s] for s in SYNC_STREAMS if isinstance(report.get(s), dict)}
        for stream, counts in (streams or {"all": report}).items():
            for outcome in SYNC_OUTCOMES:
                value = counts.get(outcome)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    self.sync_documents.labels(connector, stream, outcome).inc(value)
        seconds = report.get("duration_seconds")
        if isinstance(seconds, int | float):
            self.sync_seconds.labels(connector).observe(seconds)


class RequestMetrics:
    """ASGI middleware counting each HTTP request by method, route template and status.

    Pure ASGI rather than Starlette's BaseHTTPMiddleware, which would buffer streamed chat
    responses; the time runs to the last body chunk, so a streamed turn counts whole."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it starts a response

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            # The router writes the matched route into the scope it was given.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(
                time.perf_counter() - started)
