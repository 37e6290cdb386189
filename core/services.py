"""The running platform: built once from settings, shared by app, CLI, plugins and tools.

`Services` implements the `deskpilot.Platform` protocol (the API plugins get) and keeps the
host's own parts besides (the vector index, the plugin host, the executors). Everything heavy
(embedding model, vector index, model client) is built on first use, so `deskpilot plugins` or
`config check` never load a model.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from deskpilot._connector import Connector
from deskpilot._documents import Article, DocumentKind, SyncPage
from deskpilot._errors import ClientError, UnknownConnector
from deskpilot._events import Event
from deskpilot._search import Passage, SearchFilter
from deskpilot._tools import AgentTool, ToolAudience
from deskpilot.core.config import ConfigError, Settings, check_plugin_settings, describe
from deskpilot.core.plugins import PluginHost, load_plugins

if TYPE_CHECKING:
    from agents import FunctionTool, RunConfig
    from agents.models.interface import Model
    from sqlalchemy.engine import Engine

    from deskpilot._embedder import Embedder
    from deskpilot._platform import AgentFactory, ChatEndpoint
    from deskpilot.core.budget import Budget, BudgetStatus
    from deskpilot.core.metrics import Metrics
    from deskpilot.knowledge.interfaces import VectorIndex
    from deskpilot.knowledge.past_tickets import TicketMemories
    from deskpilot.knowledge.search import Searcher
    from deskpilot.knowledge.sync import Progress
    from deskpilot.knowledge.tables import SyncRun

log = logging.getLogger(__name__)
T = TypeVar("T")
# Threads searching at once (core.services.Services.query_executor): a burst of chat turns
# waits in them to share query-embedding batches.
QUERY_THREADS = 32


def built_once(method: Callable[[Any], T]) -> T:
    """Like functools.cached_property, but the first build is serialized: the scheduler thread
    and a request must not open the (single-owner) embedded index twice."""
    name = method.__name__

    @functools.wraps(method)
    def getter(self: Any) -> T:
        if name not in self.__dict__:
            with self._build_lock:
                if name not in self.__dict__:
                    self.__dict__[name] = method(self)
        return self.__dict__[name]

    def setter(self: Any, value: T) -> None:  # lets tests and embedders of Services inject parts
        self.__dict__[name] = value

    return property(getter, setter)  # type: ignore[return-value]


def make_embedder(registry: Mapping[str, type[Embedder]], settings: Any) -> Embedder:
    """The embedder named by `[embedder] name`, from the classes plugins registered."""
    cls = registry.get(settings.name)
    if cls is None:
        installed = ", ".join(sorted(registry)) or "none"
        raise ConfigError(f"embedder.name: unknown embedder {settings.name!r}"
                          f" (installed: {installed})")
    return cls(settings)


# `[agent] knowledge_language = "auto"`: how many article titles are read, and how long the
# reading stands when no sync ran in this process.
LANGUAGE_SAMPLE_TITLES = 300
KNOWLEDGE_LANGUAGE_TTL = 300.0


class Services:
    def __init__(self, settings: Settings, plugins: PluginHost | None = None) -> None:
        """Raises ConfigError when a plugin's settings (or a key no plugin knows) are wrong."""
        self.settings = settings
        self.plugins = plugins or load_plugins(settings.plugins)
        self._build_lock = threading.RLock()
        self._shared: dict[Any, Any] = {}
        self._knowledge_language: tuple[str, float] | None = None  # (name, when it was read)
        self._plugin_settings = check_plugin_settings(
            settings, self.plugins.settings_claims, self.plugins.inactive())

    # -- settings ---------------------------------------------------------------------------
    def settings_for(self, model: type[T]) -> T:
        try:
            return self._plugin_settings[model]  # type: ignore[return-value]
        except KeyError:
            raise LookupError(f"{model.__name__} was not registered with register_settings"
                              ) from None

    # -- database ---------------------------------------------------------------------------
    # The database layer (SQLAlchemy, Alembic) is imported when first used: `config check` and
    # `plugins` never need it.
    @built_once
    def engine(self) -> Engine:
        from deskpilot.core import store

        return store.make_engine(self.settings.database_url)

    def migrate(self) -> None:
        from deskpilot.core import store

        store.upgrade(self.engine, self.plugins.migrations)

    def audit(self, kind: str, subject: str = "", **data: Any) -> None:
        from deskpilot.core import store

        store.audit(self.engine, kind, subject, **data)

    def audit_log(self, kind: str, subject: str) -> list[dict[str, Any]]:
        from deskpilot.core import store

        return store.audit_log(self.engine, kind, subject)

    def claim_write(self, kind: str, subject: str) -> bool:
        from deskpilot.core import store

        return store.claim_write(self.engine, kind, subject)

    def release_write(self, kind: str, subject: str) -> None:
        from deskpilot.core import store

        store.release_write(self.engine, kind, subject)

    # -- knowledge --------------------------------------------------------------------------
    @built_once
    def embedder(self) -> Embedder:
        return make_embedder(self.plugins.embedders, self.settings.embedder)

    @built_once
    def index(self) -> VectorIndex:
        from deskpilot.knowledge.index import open_index

        return open_index(self.settings.index, self.settings.data_dir, self.embedder.dimension)

    @built_once
    def searcher(self) -> Searcher:
        from deskpilot.knowledge.search import Searcher

        return Searcher(self.embedder, self.index)

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        return self.searcher.search(query, k, filter, per_document)

    def publish_articles(self, source: str, articles: Sequence[Article],
                         withdrawn: Sequence[str] = ()) -> None:
        from deskpilot.knowledge.text import chunk_document

        index = self.index
        for article_id in withdrawn:
            index.delete_document(source, DocumentKind.ARTICLE, article_id)
        for article in articles:
            chunks = chunk_document(source, article)
            vectors = self.embedder.embed_documents([c.text for c in chunks]) if chunks else []
            index.delete_document(source, DocumentKind.ARTICLE, article.id)  # may be shorter now
            if chunks:
                index.upsert(chunks, vectors)

    @built_once
    def past_tickets(self) -> TicketMemories:
        from deskpilot.knowledge.past_tickets import TicketMemories

        return TicketMemories(self.embedder, self.engine)

    def sync(self, connector: str, full: bool = False, progress: Progress | None = None,
             cancel: threading.Event | None = None) -> SyncRun:
        """One sync of a configured connector, recorded; plugins are told (`sync_finished`).

        Raises UnknownConnector, SyncLocked if the connector is already syncing, and IndexLocked
        if another process owns the embedded index (the cue to ask the running server)."""
        from deskpilot._documents import Ticket
        from deskpilot._events import SyncFinished, TicketsSynced
        from deskpilot.knowledge.runs import report
        from deskpilot.knowledge.sync import run_sync

        def applied(page: SyncPage) -> None:
            tickets = [d for d in page.documents if isinstance(d, Ticket)]
            if tickets:
                self.emit(TicketsSynced(connector=connector, tickets=tickets))

        source = self.connector(connector)
        # Opened before the run takes the lock: a locked index must not leave a failed run.
        index, embedder = self.index, self.embedder
        run = run_sync(source, index=index, embedder=embedder, engine=self.engine,
                       batch_size=self.settings.embedder.batch_size, full=full,
                       progress=progress, cancel=cancel, applied=applied)
        self._knowledge_language = None  # the articles may be others now
        self.emit(SyncFinished(connector=connector, report=report(run)))
        return run

    def knowledge_language(self) -> str:
        """The language the help center is written in, by name, for the customer agent's
        instructions: `[agent] knowledge_language`, or with "auto" the language of the synced
        articles' titles ("English" until one is confidently read). Read again after a sync
        in this process, and every KNOWLEDGE_LANGUAGE_TTL seconds (another process's sync)."""
        configured = self.settings.agent.knowledge_language
        if configured != "auto":
            return configured
        read = self._knowledge_language
        if read is None or time.monotonic() - read[1] > KNOWLEDGE_LANGUAGE_TTL:
            from sqlalchemy.exc import SQLAlchemyError
            from sqlmodel import select

            from deskpilot.core.agent.language import ENGLISH_NAMES, corpus_language
            from deskpilot.knowledge.store import session_scope
            from deskpilot.knowledge.tables import SourceDocument

            try:
                with session_scope(self.engine) as session:
                    titles = list(session.exec(
                        select(SourceDocument.title)
                        .where(SourceDocument.kind == DocumentKind.ARTICLE.value)
                        .limit(LANGUAGE_SAMPLE_TITLES)))
            except SQLAlchemyError as exc:  # a chat turn goes on, in English
                log.warning("could not read the articles' language: %s", exc)
                titles = []
            code = corpus_language(titles) or "en"
            read = (ENGLISH_NAMES.get(code, "English"), time.monotonic())
            self._knowledge_language = read
        return read[0]

    def sync_history(self, connector: str | None = None, limit: int = 5
                     ) -> dict[str, list[dict[str, Any]]]:
        """The latest runs of each connector (or of `connector`), newest first. A name that is
        neither configured nor in the history is a 404: a typo, not a connector without runs."""
        from deskpilot.knowledge.runs import recent_runs

        runs = recent_runs(self.engine, connector, limit)
        configured = self.settings.connectors
        if connector is not None and not runs and connector not in configured:
            raise ClientError(404, f"no connector named {connector!r} (configured: "
                                   f"{', '.join(sorted(configured)) or 'none'})")
        return runs

    # -- connectors -------------------------------------------------------------------------
    @built_once
    def connectors(self) -> dict[str, Connector]:
        """Configured, enabled connectors by name. An unknown type is a ConfigError."""
        built: dict[str, Connector] = {}
        for name, conf in self.settings.connectors.items():
            if not conf.enabled:
                continue
            cls = self.plugins.connectors.get(conf.type)
            if cls is None:
                known = ", ".join(sorted(self.plugins.connectors)) or "none"
                raise ConfigError(
                    f"connectors.{name}.type: unknown connector type {conf.type!r}"
                    f" (installed: {known})"
                )
            try:
                built[name] = cls.from_config(name, conf.options())
            except ValidationError as exc:
                raise ConfigError(describe(exc.errors()[0], under=("connectors", name))) from None
            except ValueError as exc:  # a connector's own check in its constructor
                raise ConfigError(f"connectors.{name}: {exc}") from None
            built[name].platform = self
        return built

    def connector(self, name: str) -> Connector:
        connector = self.connectors.get(name)
        if connector is None:
            raise UnknownConnector(name, self.connectors)
        return connector

    # -- running work -----------------------------------------------------------------------
    @built_once
    def query_executor(self) -> ThreadPoolExecutor:
        """Where chat turns embed and search, apart from the thread pool so queries never
        queue behind database calls or the other way round. Many threads, though searching
        holds the GIL: while one batch of queries is embedded (torch spreads it over the
        cores itself), the queries that arrive must be waiting in threads of their own to
        join the next batch (knowledge.search.QueryBatcher) — with one thread, 100 turns
        embedded one query at a time, ~1 s of queueing for the last."""
        threads = max(QUERY_THREADS, self.settings.chat.max_concurrent_turns)
        return ThreadPoolExecutor(threads, thread_name_prefix="deskpilot-query")

    async def run_blocking(self, fn: Callable[..., T], /, *args: Any, cpu: bool = False) -> T:
        call = functools.partial(fn, *args)
        if cpu:
            return await asyncio.get_running_loop().run_in_executor(self.query_executor, call)
        import anyio.to_thread  # the thread pool FastAPI runs sync routes and dependencies in

        return await anyio.to_thread.run_sync(call)

    def shared(self, factory: Callable[[Services], T]) -> T:
        """One `factory(self)` per running platform, built on first use: where plugins keep
        long-lived state (models, caches, trained classifiers) instead of module globals."""
        return self._shared_once(factory, lambda: factory(self))

    def _shared_once(self, key: Any, build: Callable[[], T]) -> T:
        """`build()` once per platform under `key`, the first build serialized (as built_once)."""
        with self._build_lock:
            if key not in self._shared:
                self._shared[key] = build()
            return self._shared[key]

    # -- plugins ----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.metrics.record(event)
        self.plugins.emit(event, platform=self)

    @built_once
    def metrics(self) -> Metrics:
        from deskpilot.core.metrics import Metrics

        return Metrics(self)

    # -- model cost -------------------------------------------------------------------------
    @built_once
    def budget(self) -> Budget:
        """Model usage and cost: `record` each call, `status()`, and the reports the dashboard
        shows (`by_day`, `by_month`, `by_conversation`, `conversation`)."""
        from deskpilot.core.budget import Budget

        return Budget(self.settings.agent, lambda: self.engine, self.metrics)

    def budget_status(self) -> BudgetStatus:
        """This month's estimated model spend against `[agent] monthly_budget`, and whether the
        switch is on (`active`). Blocking when the figure is over 30 s old (a database read)."""
        return self.budget.status()

    def triage(self, text: str, connector: str | None = None) -> dict[str, Any] | None:
        return self.plugins.first("triage_text", platform=self, text=text, connector=connector)

    def function_tools(self, audience: ToolAudience) -> list[FunctionTool]:
        # Built once per platform and audience: building a FunctionTool parses its signature and
        # docstring (~2 ms of event-loop CPU per turn), and a tool keeps no per-turn state.
        return list(self._shared_once(
            ("function_tools", audience),
            lambda: [cls(self.tool_platform(cls.audience)).function_tool()
                     for cls in self._tools(audience)]))

    def tool_platform(self, audience: ToolAudience) -> Any:
        """What a tool of `audience` gets as `self.platform`: a CUSTOMER tool the customer view
        (public search only, no internal data), an AGENT tool the platform itself."""
        if audience != ToolAudience.CUSTOMER:
            return self
        from deskpilot.core.customer_view import CustomerPlatform

        return self._shared_once("customer_view", lambda: CustomerPlatform(self))

    def _tools(self, audience: ToolAudience) -> list[type[AgentTool]]:
        """CUSTOMER: customer tools only, whatever else plugins register. AGENT (staff): agent
        tools, and the customer tools that are also for staff."""
        tools = [cls for cls in self.plugins.tools.values() if issubclass(cls, AgentTool)]
        if audience == ToolAudience.CUSTOMER:
            return [cls for cls in tools if cls.audience == ToolAudience.CUSTOMER]
        return [cls for cls in tools if cls.audience == ToolAudience.AGENT or cls.for_staff]

    # -- agents -----------------------------------------------------------------------------
    def model(self, *, shared: bool = True) -> Model:
        """The configured model, for plugins (copilot, drafts, snippets): they check what it
        writes against their own sources."""
        from deskpilot.core.agent.providers import make_model

        if not shared:
            return make_model(self.settings.agent, self.offline_default_tool(),
                              self.offline_triggers(), record=self._record_usage)
        return self._shared_once("model", lambda: self.model(shared=False))

    async def _record_usage(self, model: str, input_tokens: int, output_tokens: int) -> None:
        from deskpilot.core.budget import call_scope

        conversation_id, workflow = call_scope.get()
        await self.run_blocking(functools.partial(
            self.budget.record, model, input_tokens=input_tokens, output_tokens=output_tokens,
            conversation_id=conversation_id, workflow=workflow))

    def customer_model(self) -> Model:
        """The customer agent's model (shared): an LLM's answers are checked against the
        passages its tools returned (core/agent/grounding.py). Once the month's model budget
        is spent, the offline model (core/budget.py)."""
        from deskpilot.core.agent.providers import make_model

        if self.budget.switched():
            return self._shared_once("offline_model", lambda: make_model(
                self.settings.agent.model_copy(update={"provider": "offline"}),
                self.offline_default_tool(), self.offline_triggers()))

        def embed(texts: list[str]) -> list[list[float]]:  # built only when an LLM answers
            return self.embedder.embed_documents(texts)

        return self._shared_once("customer_model", lambda: make_model(
            self.settings.agent, self.offline_default_tool(), self.offline_triggers(), embed,
            record=self._record_usage, lexical_weight=lambda: self.searcher.lexical_weight()))

    def offline_triggers(self) -> tuple[Any, ...]:
        """The customer tools the offline model calls when a message matches their examples."""
        from deskpilot.core.agent.offline_tools import OfflineTrigger

        found = (OfflineTrigger.of(cls) for cls in self._tools(ToolAudience.CUSTOMER))
        return tuple(trigger for trigger in found if trigger is not None)

    def offline_default_tool(self) -> str | None:
        """The customer tool the offline model asks with the customer's words, if any."""
        defaults = [cls.name for cls in self._tools(ToolAudience.CUSTOMER) if cls.offline_default]
        return defaults[0] if defaults else None

    def run_config(self, workflow: str) -> RunConfig:
        """One per workflow, shared by its runs (the SDK only reads it): building one validates
        its model settings through the type hints, ~0.4 ms of event-loop CPU per chat turn."""
        from deskpilot.core.agent import run_config

        return self._shared_once(("run_config", workflow),
                                 lambda: run_config(self.settings.agent, workflow))

    def chat_endpoint(self, build_agent: AgentFactory, *, audience: ToolAudience,
                      workflow: str) -> ChatEndpoint:
        from deskpilot.core.chat.endpoint import chat_endpoint

        return chat_endpoint(self, build_agent, audience, workflow)

    def post_to_thread(self, thread_id: str, item_id: str, text: str, *,
                       author: str | None = None, event: str | None = None) -> bool:
        from deskpilot.core.chat.posting import post_to_thread

        return post_to_thread(self.engine, thread_id, item_id, text, author=author, event=event)

    @property
    def require_admin(self) -> Callable[..., Any]:
        from deskpilot.core.admin import require_admin

        return require_admin

    # -- health -----------------------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        """What /readyz reports: each dependency's state, and whether the index holds every
        enabled connector's knowledge yet; `ready` only if all are ok."""
        from deskpilot.core import store

        checks: dict[str, str] = {}
        try:
            store.ping(self.engine)
            behind = [
                f"{history} at {current}, expected {head}"
                for history, (current, head) in store.schema_state(
                    self.engine, self.plugins.migrations).items()
                if current != head
            ]
            checks["database"] = (
                "ok" if not behind
                else f"schema {'; '.join(behind)}: run `deskpilot db upgrade`"
            )
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
        try:
            self.index.ping()
            checks["index"] = "ok"
        except Exception as exc:
            checks["index"] = f"unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
        if checks["database"] == "ok":
            checks["knowledge"] = self._knowledge_readiness()
        return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}

    def _knowledge_readiness(self) -> str:
        """"ok" once every enabled connector has synced successfully at least once: before
        that, answers would come from an empty or partial index."""
        from deskpilot.knowledge.runs import first_syncs_pending

        enabled = [name for name, conf in self.settings.connectors.items() if conf.enabled]
        pending = first_syncs_pending(self.engine, enabled)
        if not pending:
            return "ok"
        return "first sync not finished: " + "; ".join(
            f"{name!r} {state}" for name, state in pending.items())

    def close(self) -> None:
        """Release what was built; safe to call twice (a closed index cannot be closed again)."""
        built = self.__dict__
        if (index := built.pop("index", None)) is not None:
            index.close()
        built.pop("searcher", None)
        if (executor := built.pop("query_executor", None)) is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for connector in built.pop("connectors", {}).values():
            connector.close()
        if (engine := built.pop("engine", None)) is not None:
            engine.dispose()
