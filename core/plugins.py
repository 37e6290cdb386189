"""Loads plugins from the `deskpilot` entry-point group, built-ins included, in isolation.

A plugin that fails to import or register, or raises inside an event hook, is recorded in
`PluginHost.infos` and skipped: the app still starts and the other plugins still run.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from deskpilot.core import hookspecs
from deskpilot.core.config import PluginSettings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "deskpilot"


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str | None
    dist: str | None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    status: str = "loaded"  # loaded | failed | denied

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "version": self.version,
            "distribution": self.dist,
            "hooks": self.hooks,
            "status": self.status,
            "error": self.error,
        }


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PluginHost:
    """The plugin manager plus what it found: classes by kind, and per-plugin status."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.connectors: dict[str, type] = {}
        self.tools: dict[str, type] = {}
        self.embedders: dict[str, type] = {}
        self.routers: dict[str, Any] = {}  # FastAPI APIRouters contributed by plugins

    # -- loading ----------------------------------------------------------------------------
    def _allowed(self, name: str) -> bool:
        if name in self.settings.deny:
            return False
        return not self.settings.allow or name in self.settings.allow

    def load_entry_points(self) -> PluginHost:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                version=dist.version if dist else None,
                dist=dist.metadata["Name"] if dist else None,
            )
            self.infos[ep.name] = info
            if not self._allowed(ep.name):
                info.status = "denied"
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import-time failure is the plugin's, not ours
                log.warning("plugin %s failed to import: %s", ep.name, exc)
                info.status, info.error = "failed", _error_text(exc)
                continue
            self.register(module, ep.name, info)
        self._collect()
        return self

    def register(self, plugin: object, name: str, info: PluginInfo | None = None) -> None:
        """Register a plugin object (a module or an instance), e.g. in tests."""
        info = info or self.infos.setdefault(
            name, PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)),
                             version=None, dist=None)
        )
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # bad hook signatures are pluggy validation errors
            info.status, info.error = "failed", _error_text(exc)
            return
        info.hooks = sorted(
            hook.name for hook in self.pm.get_hookcallers(plugin) or []
        )

    def _collect(self) -> None:
        # hook → (where registered objects go, how each is named there)
        registries: dict[str, tuple[dict[str, Any], Callable[[Any, str], str]]] = {
            "register_connectors": (self.connectors, lambda cls, _: cls.type),
            "register_tools": (self.tools, lambda cls, _: cls.name),
            "register_embedders": (self.embedders, lambda cls, _: cls.name),
            "register_routes": (self.routers, lambda router, plugin: f"{plugin}:{id(router)}"),
        }
        for plugin_name, _ in self.pm.list_name_plugin():
            # Stage a plugin's objects so a plugin that raises half-way registers none of them.
            staged: list[tuple[str, Any]] = []
            try:
                for hook_name in registries:
                    for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                        if impl.plugin_name == plugin_name:
                            impl.function(
                                register=lambda obj, h=hook_name, s=staged: s.append((h, obj))
                            )
            except Exception as exc:
                self._fail(plugin_name, exc)
                continue
            for hook_name, obj in staged:
                registry, name_of = registries[hook_name]
                registry[name_of(obj, plugin_name)] = obj

    def _fail(self, plugin_name: str, exc: BaseException) -> None:
        log.warning("plugin %s failed to register: %s", plugin_name, exc)
        info = self.infos.get(plugin_name)
        if info is not None:
            info.status, info.error = "failed", _error_text(exc)
        plugin = self.pm.get_plugin(plugin_name)
        if plugin is not None:
            self.pm.unregister(plugin)

    # -- events -----------------------------------------------------------------------------
    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an event hook on every plugin; a failing plugin is logged, the rest still run."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                log.warning("plugin %s raised in %s: %s", impl.plugin_name, hook_name, exc)
                info = self.infos.get(impl.plugin_name)
                if info is not None:
                    info.error = f"in {hook_name}: {_error_text(exc)}"

    def describe(self) -> list[dict[str, Any]]:
        return [info.as_dict() for info in sorted(self.infos.values(), key=lambda i: i.name)]


def load_plugins(settings: PluginSettings | None = None, extra: Iterable[tuple[str, object]] = ()
                 ) -> PluginHost:
    host = PluginHost(settings)
    for name, plugin in extra:
        host.register(plugin, name)
    return host.load_entry_points()
