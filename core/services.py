"""The running platform's services, built once from settings and shared by app, CLI and tools.

Everything heavy (embedding model, vector index) is built on first use, so `deskpilot plugins`
or `config check` never load a model.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from core import store
from core.config import Settings
from core.connector import Connector
from core.plugins import PluginHost, load_plugins

if TYPE_CHECKING:
    from core.embedder import Embedder
    from knowledge.interfaces import VectorIndex
    from knowledge.search import Searcher

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings, plugins: PluginHost | None = None) -> None:
        self.settings = settings
        self.plugins = plugins or load_plugins(settings.plugins)

    @cached_property
    def engine(self) -> Engine:
        return store.make_engine(self.settings.database_url)

    def migrate(self) -> None:
        store.upgrade(self.engine)

    @cached_property
    def embedder(self) -> Embedder:
        from knowledge.embedders import make_embedder

        return make_embedder(self.plugins.embedders, self.settings.embedder)

    @cached_property
    def index(self) -> VectorIndex:
        from knowledge.index import open_index

        return open_index(self.settings.index, self.settings.data_dir, self.embedder.dimension)

    @cached_property
    def searcher(self) -> Searcher:
        from knowledge.search import Searcher

        return Searcher(self.embedder, self.index)

    @cached_property
    def connectors(self) -> dict[str, Connector]:
        """Configured, enabled connectors by name. An unknown type is a ConfigError."""
        from core.config import ConfigError

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
        if "index" in self.__dict__:
            self.index.close()
        if "connectors" in self.__dict__:
            for connector in self.connectors.values():
                connector.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
