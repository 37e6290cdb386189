"""The running platform's services, built once from settings and shared by app, CLI and tools.

Everything heavy (embedding model, vector index) is built on first use, so `deskpilot plugins`
or `config check` never load a model.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from deskpilot.core import store
from deskpilot.core.config import Settings
from deskpilot.core.connector import Connector
from deskpilot.core.plugins import PluginHost, load_plugins
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from deskpilot.core.embedder import Embedder
    from deskpilot.knowledge.interfaces import VectorIndex
    from deskpilot.knowledge.search import Searcher

log = logging.getLogger(__name__)
T = TypeVar("T")


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


class Services:
    def __init__(self, settings: Settings, plugins: PluginHost | None = None) -> None:
        self.settings = settings
        self.plugins = plugins or load_plugins(settings.plugins)
        self._build_lock = threading.RLock()
        self._shared: dict[Callable[[Services], Any], Any] = {}

    @built_once
    def engine(self) -> Engine:
        return store.make_engine(self.settings.database_url)

    def migrate(self) -> None:
        store.upgrade(self.engine)

    @built_once
    def embedder(self) -> Embedder:
        from deskpilot.knowledge.embedders import make_embedder

        return make_embedder(self.plugins.embedders, self.settings.embedder)

    @built_once
    def index(self) -> VectorIndex:
        from deskpilot.knowledge.index import open_index

        return open_index(self.settings.index, self.settings.data_dir, self.embedder.dimension)

    @built_once
    def searcher(self) -> Searcher:
        from deskpilot.knowledge.search import Searcher

        return Searcher(self.embedder, self.index)

    @built_once
    def query_executor(self) -> ThreadPoolExecutor:
        """Where chat turns embed and search: one thread, since both hold the GIL (torch spreads
        the matrix work over the cores itself), and apart from the loop's default executor so
        queries never queue behind database calls or the other way round."""
        return ThreadPoolExecutor(1, thread_name_prefix="deskpilot-query")

    @built_once
    def connectors(self) -> dict[str, Connector]:
        """Configured, enabled connectors by name. An unknown type is a ConfigError."""
        from deskpilot.core.config import ConfigError

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
                built[name].engine = self.engine
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                first = str(exc).splitlines()
                raise ConfigError(f"connectors.{name}: {' '.join(first[1:3]).strip()}") from None
        return built

    def shared(self, factory: Callable[[Services], T]) -> T:
        """One `factory(self)` per running platform, built on first use: where plugins keep
        long-lived state (models, caches, trained classifiers) instead of module globals."""
        with self._build_lock:
            if factory not in self._shared:
                self._shared[factory] = factory(self)
            return self._shared[factory]

    def readiness(self) -> dict[str, Any]:
        """What /readyz reports: each dependency's state; `ready` only if all are ok."""
        checks: dict[str, str] = {}
        try:
            store.ping(self.engine)
            current, head = store.current_revision(self.engine), store.head_revision(self.engine)
            checks["database"] = (
                "ok" if current == head
                else f"schema at {current}, expected {head}: run `deskpilot db upgrade`"
            )
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
        try:
            self.index.ping()
            checks["index"] = "ok"
        except Exception as exc:
            checks["index"] = f"unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
        return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}

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
