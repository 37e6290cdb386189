"""The Platform: what a plugin may use of the running Deskpilot.

Hooks receive it as `platform`, every `AgentTool` holds it as `self.platform`, and
`deskpilot.core.services.Services` implements it. Anything a plugin needs from the host that
is not here is a gap in this API, not an invitation to import the internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from agents import Agent, FunctionTool, RunConfig
    from agents.models.interface import Model
    from sqlalchemy.engine import Engine
    from starlette.requests import Request
    from starlette.responses import Response

    from deskpilot._chat import RequestContext
    from deskpilot._connector import Connector
    from deskpilot._documents import Article
    from deskpilot._embedder import Embedder
    from deskpilot._events import Event
    from deskpilot._search import Passage, SearchFilter
    from deskpilot._tools import ToolAudience
    from deskpilot.core.budget import BudgetStatus
    from deskpilot.core.config import Settings

T = TypeVar("T")

#: Builds the agent of a chat turn: (platform, the turn's RequestContext) -> agents.Agent.
AgentFactory = Callable[["Platform", "RequestContext"], "Agent[Any]"]
#: A route handler speaking the ChatKit protocol: (request, RequestContext) -> response.
ChatEndpoint = Callable[["Request", "RequestContext"], Awaitable["Response"]]


class PastTicket(Protocol):
    """A past ticket as last synced: its opening text and the labels people gave it."""

    connector: str
    external_id: str
    text: str
    category: str | None
    priority: str | None
    intent: str | None
    tags: list[str]
    status: str


class Neighbour(Protocol):
    record: PastTicket
    similarity: float


class TicketMemory(Protocol):
    """Labelled past tickets of one connector (or all), each with its embedding."""

    fingerprint: str
    records: list[PastTicket]
    vectors: np.ndarray

    def neighbours(self, vector: np.ndarray, k: int, exclude: str | None = None
                   ) -> list[Neighbour]:
        """The `k` most similar past tickets (cosine), optionally not the ticket `exclude`."""
        ...


class TicketEmbedder(Protocol):
    """The platform embedder, remembering the past tickets' vectors (in the database too)."""

    def matrix(self, texts: list[str], persist: bool = True) -> np.ndarray: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...


class PastTickets(Protocol):
    """What triage and tagging learn from: every synced ticket's text and labels."""

    embedder: TicketEmbedder

    def get(self, connector: str | None) -> TicketMemory:
        """The memory of one connector's tickets (None: all connectors'), re-read and
        re-embedded (new texts only) when the tickets changed."""
        ...

    def record(self, connector: str, ticket_id: str) -> PastTicket | None: ...

    def fingerprint(self, connector: str | None) -> str:
        """Changes whenever a ticket of `connector` (None: any) is added, removed or
        relabelled."""
        ...


class PlatformMetrics(Protocol):
    """`platform.metrics`: a plugin's own Prometheus metrics, on the server's `GET /metrics`.
    Names are prefixed `deskpilot_`; one name keeps the label names it was first used with."""

    def count(self, name: str, documentation: str, amount: float = 1.0, **labels: str
              ) -> None:
        """Add `amount` to the counter `deskpilot_<name>_total` (`labels`: its label values),
        e.g. `count("relayed_messages", "Messages relayed", direction="to_chat")`."""
        ...

    def gauge(self, name: str, documentation: str, label: str,
              read: Callable[[], Mapping[str, float]]) -> None:
        """Register the gauge `deskpilot_<name>`, read at each scrape: `read()` (blocking is
        fine: it runs off the event loop) gives a value per value of `label`. Registering a
        name again replaces its reader."""
        ...


@runtime_checkable
class Platform(Protocol):
    @property
    def settings(self) -> Settings:
        """The effective configuration (read it, do not change it)."""
        ...

    def settings_for(self, model: type[T]) -> T:
        """A plugin's own settings: the validated instance of a model the plugin registered
        with `register_settings` (its defaults when the config has none)."""
        ...

    @property
    def engine(self) -> Engine:
        """The database (SQLAlchemy engine): a plugin's own tables live here, created by the
        migrations it registers with `register_migrations`."""
        ...

    @property
    def embedder(self) -> Embedder:
        """The configured embedder (loaded on first use: seconds for the local model)."""
        ...

    @property
    def connectors(self) -> Mapping[str, Connector]:
        """Configured, enabled connectors by name."""
        ...

    def connector(self, name: str) -> Connector:
        """The enabled connector `name`; raises `UnknownConnector` (a `ClientError`, 404)."""
        ...

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        """Hybrid search of the knowledge, best first; `per_document`: each document's best
        passage only. Blocking (it embeds the query): call it through `run_blocking(...,
        cpu=True)` from async code."""
        ...

    def publish_articles(self, source: str, articles: Sequence[Article],
                         withdrawn: Sequence[str] = ()) -> None:
        """Index a plugin's own articles under `source` (not a connector's name), replacing
        their earlier versions, and remove the articles `withdrawn` (ids). The articles'
        audience is theirs: PUBLIC ones reach customers. Blocking (it embeds); raises
        ClientError (503) when another process (the running server) owns the embedded index."""
        ...

    @property
    def past_tickets(self) -> PastTickets:
        """Labelled past tickets with their embeddings."""
        ...

    def shared(self, factory: Callable[[Platform], T]) -> T:
        """One `factory(platform)` per running platform, built on first use: where a plugin
        keeps long-lived state (models, caches) instead of module globals."""
        ...

    async def run_blocking(self, fn: Callable[..., T], /, *args: Any, cpu: bool = False) -> T:
        """Run blocking `fn(*args)` off the event loop: in the thread pool (database, helpdesk
        calls), or with `cpu=True` on the one thread where embedding and search run (they hold
        the GIL; queueing them there keeps the loop answering)."""
        ...

    def audit(self, kind: str, subject: str = "", **data: Any) -> None:
        """Record that the platform did something someone may ask about later."""
        ...

    def audit_log(self, kind: str, subject: str) -> list[dict[str, Any]]:
        """The `data` of every audit record of `kind` about `subject`, oldest first."""
        ...

    def claim_write(self, kind: str, subject: str) -> bool:
        """Take the one right to a write-back that must happen at most once (say, a draft note
        on ticket `subject`): True for exactly one caller, across threads, processes and
        workers. Take it before calling the helpdesk; `release_write` if the write failed."""
        ...

    def release_write(self, kind: str, subject: str) -> None:
        """Give back a claim whose write did not happen, so a retry may take it."""
        ...

    def emit(self, event: Event) -> None:
        """Tell every plugin implementing the event's hook; a plugin that raises is recorded
        against itself and does not stop the others or the caller."""
        ...

    @property
    def metrics(self) -> PlatformMetrics:
        """Counters and gauges of the plugin's own on `GET /metrics` (`PlatformMetrics`)."""
        ...

    def budget_status(self) -> BudgetStatus:
        """This month's estimated model spend (`spent`, `budget`, `currency`, `month`) and
        whether `[agent] monthly_budget` is reached (`active`; then `over_budget` says what the
        customer agent does: "offline" or "handover"). Blocking (a database read, at most every
        30 s)."""
        ...

    def triage(self, text: str, connector: str | None = None) -> dict[str, Any] | None:
        """Ask the plugin that triages (hook `triage_text`); None when none is loaded."""
        ...

    def function_tools(self, audience: ToolAudience) -> list[FunctionTool]:
        """The agents FunctionTools of every registered tool `audience` may use: a customer
        gets CUSTOMER tools only, staff get AGENT tools and the CUSTOMER tools `for_staff`."""
        ...

    def model(self, *, shared: bool = True) -> Model:
        """The configured model (`[agent] provider`). Shared by default (one HTTP client per
        platform, bound to the server's event loop); `shared=False` for a run on an event loop
        of its own, e.g. `asyncio.run` in a worker thread."""
        ...

    def run_config(self, workflow: str) -> RunConfig:
        """The agents RunConfig for a run (tracing only where the settings allow it)."""
        ...

    def chat_endpoint(self, build_agent: AgentFactory, *, audience: ToolAudience,
                      workflow: str) -> ChatEndpoint:
        """A ChatKit endpoint of a plugin's own (e.g. the staff copilot): the host's server,
        store and request handling with `build_agent`'s agent. Mount it on a route that
        authenticates its callers and passes their RequestContext."""
        ...

    def post_to_thread(self, thread_id: str, item_id: str, text: str, *,
                       author: str | None = None, event: str | None = None) -> bool:
        """Add a message to a customer's chat thread from outside a turn (a person's reply
        relayed from the helpdesk). `item_id` is the caller's and makes the call idempotent:
        posting the same id again changes nothing and keeps the message's place. `author`: the
        person's display name; `event`: what the message says happened ("closed"). Both travel
        in the message as an entity annotation (`data.deskpilot`), so a client can show them.
        False if there is no such thread. Blocking (a database write)."""
        ...

    @property
    def require_admin(self) -> Callable[..., Awaitable[None]]:
        """A FastAPI dependency: the caller must present the admin token (401/403 if not)."""
        ...
