"""Prometheus metrics: what the server did, for an operator's scraper (`GET /metrics`).

Each app has a registry of its own (not prometheus-client's global one), so two apps in one
process — the tests, a plugin's second app — count separately. Routes are labelled by their
template (`/v1/sync/{name}`), never the raw path, and unmatched paths by one label: a scanner
must not be able to grow the label set.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskpilot._events import ConversationEscalated, Event, SyncFinished, TicketTriaged

if TYPE_CHECKING:
    from deskpilot.core.services import Services

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "(unmatched)"
# A sync report's document counts (see knowledge/runs.py::report), at its top level or per stream.
SYNC_OUTCOMES = ("indexed", "updated", "deleted", "unchanged", "failed", "empty")
SYNC_STREAMS = ("articles", "tickets")
# A first answer word comes in well under a second from the offline model, in seconds from an LLM.
FIRST_WORD_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, float("inf"))
_PLUGIN_NAME = re.compile(r"[a-z][a-z0-9_]*")


class _Gauges(Collector):
    """Gauges read at scrape time: the month's model spend, and plugins' (`Metrics.gauge`)."""

    def __init__(self) -> None:
        self.readers: dict[str, tuple[str, str, Callable[[], Mapping[str, float]]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, label, read) in list(self.readers.items()):
            try:
                values = read()
            except Exception as exc:  # the database is down: the other metrics still scrape
                log.warning("metric %s left out: %s: %s", name, type(exc).__name__,
                            str(exc).splitlines()[0] if str(exc) else "")
                continue
            family = GaugeMetricFamily(name, documentation, labels=[label] if label else [])
            for value_of_label, value in values.items():
                family.add_metric([value_of_label] if label else [], float(value))
            yield family


class Metrics:
    """The counters and histograms of one app; `count` and `gauge` are plugins' (the
    `deskpilot.PlatformMetrics` of `platform.metrics`)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, services: Services | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._lock = threading.Lock()
        self._plugin_counters: dict[str, Counter] = {}
        self._gauges = _Gauges()
        r.register(self._gauges)
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
        self.sync_failures = Counter(
            "deskpilot_sync_failures",
            "Sync failures: runs that failed (scope run), documents that failed (scope document)",
            ["connector", "scope"], registry=r)
        self.chat_turns = Counter(
            "deskpilot_chat_turns",
            "Chat messages answered, by who answered: the agent, or a plugin before it (a handoff)",
            ["audience", "answered_by"], registry=r)
        self.first_word_seconds = Histogram(
            "deskpilot_chat_first_word_seconds",
            "From the start of a chat turn (the message stored) to the first word of the "
            "agent's answer", ["audience"],
            registry=r, buckets=FIRST_WORD_BUCKETS)
        self.tool_calls = Counter("deskpilot_tool_calls", "Tool calls of chat agents, by tool",
                                  ["tool"], registry=r)
        currency = services.settings.agent.currency if services is not None else "USD"
        self.model_tokens = Counter("deskpilot_model_tokens", "LLM tokens, by model and kind",
                                    ["model", "kind"], registry=r)
        self.model_cost = Counter("deskpilot_model_cost",
                                  f"Estimated LLM cost in {currency} ([agent.prices])", ["model"],
                                  registry=r)
        if services is not None:
            for name, documentation, figure in (
                    ("deskpilot_model_spend_this_month",
                     f"Estimated LLM cost this calendar month (UTC) in {currency}", "spent"),
                    ("deskpilot_model_monthly_budget",
                     f"[agent] monthly_budget in {currency} (0: none)", "budget"),
                    ("deskpilot_model_budget_exceeded",
                     "1 while the budget switch is on (the customer agent does not use the LLM)",
                     "active")):
                self._gauges.readers[name] = (documentation, "", _budget_figure(services, figure))

    def render(self) -> bytes:
        """Blocking: plugins' gauges and the month's spend may read the database."""
        return generate_latest(self.registry)

    # -- what the host counts ---------------------------------------------------------------
    def chat_turn(self, audience: str, answered_by: str) -> None:
        self.chat_turns.labels(audience, answered_by).inc()

    def first_word(self, audience: str, seconds: float) -> None:
        self.first_word_seconds.labels(audience).observe(seconds)

    def tool_call(self, tool: str) -> None:
        self.tool_calls.labels(tool).inc()

    def model_call(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        self.model_tokens.labels(model, "input").inc(input_tokens)
        self.model_tokens.labels(model, "output").inc(output_tokens)
        self.model_cost.labels(model).inc(cost)

    # -- plugins' metrics (deskpilot.PlatformMetrics) ---------------------------------------
    def count(self, name: str, documentation: str, amount: float = 1.0, **labels: str) -> None:
        full = _plugin_name(name)
        with self._lock:
            counter = self._plugin_counters.get(full)
            if counter is None:
                counter = Counter(full, documentation, sorted(labels), registry=self.registry)
                self._plugin_counters[full] = counter
        if set(labels) != set(counter._labelnames):
            raise ValueError(f"metric {full} has the labels {sorted(counter._labelnames)}, "
                             f"not {sorted(labels)}")
        (counter.labels(**labels) if labels else counter).inc(amount)

    def gauge(self, name: str, documentation: str, label: str,
              read: Callable[[], Mapping[str, float]]) -> None:
        self._gauges.readers[_plugin_name(name)] = (documentation, label, read)

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
        status = str(report.get("status", "unknown"))
        self.syncs.labels(connector, status).inc()
        if status == "failed":
            self.sync_failures.labels(connector, "run").inc()
        failed = report.get("failed")
        if isinstance(failed, int) and not isinstance(failed, bool) and failed > 0:
            self.sync_failures.labels(connector, "document").inc(failed)
        streams = {s: report[s] for s in SYNC_STREAMS if isinstance(report.get(s), dict)}
        for stream, counts in (streams or {"all": report}).items():
            for outcome in SYNC_OUTCOMES:
                value = counts.get(outcome)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    self.sync_documents.labels(connector, stream, outcome).inc(value)
        seconds = report.get("duration_seconds")
        if isinstance(seconds, int | float):
            self.sync_seconds.labels(connector).observe(seconds)


def _plugin_name(name: str) -> str:
    if not _PLUGIN_NAME.fullmatch(name):
        raise ValueError(f"metric name {name!r}: use lower-case letters, digits and _")
    return name if name.startswith("deskpilot_") else f"deskpilot_{name}"


def _budget_figure(services: Services, figure: str) -> Callable[[], Mapping[str, float]]:
    return lambda: {"": float(getattr(services.budget_status(), figure))}


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
