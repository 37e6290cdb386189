"""Loads plugins from the `deskpilot` entry-point group, built-ins included, in isolation.

The host knows no plugin by name: built-ins are found through the entry-point group exactly as
a third party's are. A plugin that fails to import or register, or raises inside a hook, is
recorded in `PluginHost.infos` and skipped: the app still starts and the other plugins run.

At load, the registration hooks that need nothing but the plugin are called (connectors, tools,
embedders, settings, ticket steps, migrations); routes and commands are asked for when the app
or the CLI is built, so a command that needs neither never imports what they import.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from deskpilot import _hooks
from deskpilot._automation import TicketStep
from deskpilot._events import Event
from deskpilot.core.config import PluginSettings

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from deskpilot._platform import Platform

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "deskpilot"
# Registration hooks called when the plugins load (the others when the app or CLI is built).
_LOAD_HOOKS = ("register_connectors", "register_tools", "register_embedders",
               "register_settings", "register_ticket_steps", "register_migrations")


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


@dataclass(frozen=True)
class SettingsClaim:
    """A plugin's settings model and the config table it reads (`register_settings`)."""

    plugin: str
    model: type
    section: str


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PluginHost:
    """The plugin manager plus what it found: classes by kind, and per-plugin status."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(_hooks)
        self.infos: dict[str, PluginInfo] = {}
        self.connectors: dict[str, type] = {}
        self.tools: dict[str, type] = {}
        self.embedders: dict[str, type] = {}
        self.settings_claims: list[SettingsClaim] = []
        self.migrations: dict[str, Path] = {}  # plugin name -> its Alembic versions folder
        self._steps: dict[str, TicketStep] = {}

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

    def _registrations(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, list[Any]]]:
        """Each plugin's registrations through one `register_*` hook: (plugin, what it
        registered). A plugin that raises registers nothing through it and is recorded."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            staged: list[Any] = []

            def register(*args: Any, _staged: list[Any] = staged, **options: Any) -> None:
                _staged.append((args, options))

            try:
                impl.function(**{k: v for k, v in {"register": register, **kwargs}.items()
                                 if k in impl.argnames})
            except Exception as exc:
                self._fail(impl.plugin_name, hook_name, exc)
                continue
            yield impl.plugin_name, staged

    def _collect(self) -> None:
        # Staged per plugin: a plugin that raises in any of these registers none of them.
        staged: dict[str, list[tuple[str, tuple[Any, ...], dict[str, Any]]]] = {}
        failed: set[str] = set()
        for hook_name in _LOAD_HOOKS:
            for plugin, registered in self._registrations(hook_name):
                staged.setdefault(plugin, []).extend((hook_name, a, o) for a, o in registered)
            failed |= {name for name, info in self.infos.items() if info.status == "failed"}
        for plugin in failed & set(staged):
            del staged[plugin]
        for plugin in failed:
            if (module := self.pm.get_plugin(plugin)) is not None:
                self.pm.unregister(module)
        for plugin, items in staged.items():
            for hook_name, (obj, *_), options in items:
                self._add(plugin, hook_name, obj, options)

    def _add(self, plugin: str, hook_name: str, obj: Any, options: dict[str, Any]) -> None:
        if hook_name == "register_connectors":
            self.connectors[obj.type] = obj
        elif hook_name == "register_tools":
            self.tools[obj.name] = obj
        elif hook_name == "register_embedders":
            self.embedders[obj.name] = obj
        elif hook_name == "register_settings":
            section = options.get("section") or f"plugins.{plugin}"
            self.settings_claims.append(SettingsClaim(plugin, obj, section))
        elif hook_name == "register_ticket_steps":
            self._steps[obj.name] = obj
        elif hook_name == "register_migrations":
            self.migrations[plugin] = Path(obj)

    def _fail(self, plugin_name: str, where: str, exc: BaseException) -> None:
        log.warning("plugin %s failed in %s: %s", plugin_name, where, exc)
        info = self.infos.get(plugin_name)
        if info is not None:
            info.status, info.error = "failed", f"in {where}: {_error_text(exc)}"

    # -- what the app and the CLI ask for -----------------------------------------------------
    @property
    def ticket_steps(self) -> list[TicketStep]:
        """The registered ticket steps, each after the steps it names in `after`."""
        graph = {name: [d for d in step.after if d in self._steps]
                 for name, step in self._steps.items()}
        try:
            return [self._steps[name] for name in TopologicalSorter(graph).static_order()]
        except CycleError as exc:
            raise RuntimeError(f"ticket steps depend on each other in a circle: {exc}") from None

    def routers(self, platform: Platform) -> list[APIRouter]:
        return [router for _plugin, staged in self._registrations("register_routes",
                                                                  platform=platform)
                for (router,), _ in staged]

    def commands(self) -> list[tuple[typer.Typer, str | None]]:
        """(a plugin's Typer app, the built-in group its commands join, or None for the top)."""
        return [(app, options.get("group"))
                for _plugin, staged in self._registrations("register_commands")
                for (app,), options in staged]

    def inactive(self) -> list[str]:
        """Installed plugins that are not running (denied or failed)."""
        return sorted(i.name for i in self.infos.values() if i.status != "loaded")

    # -- calling hooks ------------------------------------------------------------------------
    def _guarded(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                log.warning("plugin %s raised in %s: %s", impl.plugin_name, hook_name, exc)
                info = self.infos.get(impl.plugin_name)
                if info is not None:
                    info.error = f"in {hook_name}: {_error_text(exc)}"
                continue
            yield impl.plugin_name, result

    def emit(self, event: Event, **kwargs: Any) -> None:
        """Call an event's hook on every plugin; a failing plugin is logged, the rest run."""
        for _ in self._guarded(event.hook, event=event, **kwargs):
            pass

    def first(self, hook_name: str, **kwargs: Any) -> Any:
        """The first non-None answer of a first-result hook (a plugin that raises is skipped)."""
        for _plugin, result in self._guarded(hook_name, **kwargs):
            if result is not None:
                return result
        return None

    def each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Every plugin's answer to a hook, as (plugin name, answer)."""
        return list(self._guarded(hook_name, **kwargs))

    def describe(self) -> list[dict[str, Any]]:
        return [info.as_dict() for info in sorted(self.infos.values(), key=lambda i: i.name)]


def load_plugins(settings: PluginSettings | None = None, extra: Iterable[tuple[str, object]] = ()
                 ) -> PluginHost:
    """The installed plugins; `extra` registers more plugin objects first (tests)."""
    host = PluginHost(settings)
    for name, plugin in extra:
        host.register(plugin, name)
    return host.load_entry_points()

