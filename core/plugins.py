"""Loads plugins from the `deskpilot` entry-point group, built-ins included, in isolation.

The host knows no plugin by name: built-ins are found through the entry-point group exactly as
a third party's are. A plugin that fails to import or register, or raises inside a hook, is
recorded in `PluginHost.infos` and skipped: the app still starts and the other plugins run.

Registrations are checked before they count: a class of the wrong kind, or without the `type` /
`name` it is keyed by, or a name another plugin already registered, is refused and recorded
against the plugin that tried (its `problems`; `deskpilot plugins` shows them). A built-in keeps
its name whatever the load order, unless the operator names the replacement in
`[plugins.replace]`; between two third-party plugins the first one loaded keeps it. A hook
implementation no hookspec declares (a misspelt name) is reported the way pluggy's
`check_pending` finds it, instead of loading silently.

At load, the registration hooks that need nothing but the plugin are called (connectors, tools,
embedders, settings, ticket steps, migrations); routes, dashboard pages and commands are asked
for when the app or the CLI is built, so a command that needs none never imports what they
import.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from deskpilot import _hooks
from deskpilot._automation import TicketStep
from deskpilot._connector import Connector
from deskpilot._dashboard import PAGE_NAME, DashboardPage
from deskpilot._embedder import Embedder
from deskpilot._events import Event
from deskpilot._tools import TOOL_NAME, AgentTool, ToolAudience
from deskpilot.core.config import PluginSettings

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from deskpilot._platform import Platform

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "deskpilot"
#: The distribution whose plugins are the built-ins (they keep their names unless replaced).
BUILTIN_DIST = "deskpilot"
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
    #: What was refused (a registration, an unknown hook): the plugin still runs without it.
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "version": self.version,
            "distribution": self.dist,
            "hooks": self.hooks,
            "status": self.status,
            "error": self.error,
            "problems": self.problems,
        }


class Refused(Exception):
    """A registration the host does not accept; the message says why."""


# What each kind of registration must be, and what it is keyed by.
_KINDS: dict[str, tuple[str, type, str]] = {  # hook -> (kind, base class, key attribute)
    "register_connectors": ("connector type", Connector, "type"),
    "register_tools": ("tool", AgentTool, "name"),
    "register_embedders": ("embedder", Embedder, "name"),
}


def checked_key(hook_name: str, obj: Any) -> str:
    """The name `obj` registers under through `hook_name`; Refused when it is of the wrong kind,
    abstract, or without a usable key."""
    kind, base, attr = _KINDS[hook_name]
    noun = kind.split()[0]
    label = getattr(obj, "__name__", repr(obj))
    if not isinstance(obj, type):
        raise Refused(f"{noun} {label}: a {type(obj).__name__}, not a class; register a "
                      f"deskpilot.{base.__name__} subclass")
    if not issubclass(obj, base):
        raise Refused(f"{noun} {label}: not a subclass of deskpilot.{base.__name__}")
    key = getattr(obj, attr, None)
    if not isinstance(key, str) or not key:
        raise Refused(f"{noun} {label}: no `{attr}` (a class attribute, the name "
                      f"users write in the config)")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise Refused(f"{noun} {label}: does not implement {missing}")
    if hook_name == "register_tools":
        if not TOOL_NAME.match(key):
            raise Refused(f"tool {label}: name {key!r} is not 1-64 letters, digits, '_' or '-'")
        if not isinstance(getattr(obj, "audience", None), ToolAudience):
            raise Refused(f"tool {label}: audience {getattr(obj, 'audience', None)!r} is not a "
                          "deskpilot.ToolAudience")
    return key


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
        self._step_owner: dict[str, str] = {}
        self._registered: dict[str, dict[str, Any]] = {}  # plugin -> kind -> what it got
        #: Configuration the host could not apply (a `[plugins.replace]` naming nobody).
        self.warnings: list[str] = []

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
        callers = self.pm.get_hookcallers(plugin) or []
        info.hooks = sorted(hook.name for hook in callers if hook.has_spec())
        known = [name for name, caller in vars(self.pm.hook).items()
                 if isinstance(caller, pluggy.HookCaller) and caller.has_spec()]
        # What pluggy's check_pending would raise for, per plugin and without stopping: an
        # implementation no hookspec declares is never called.
        for hook in callers:
            if not hook.has_spec() and not any(
                    impl.optionalhook for impl in hook.get_hookimpls() if impl.plugin is plugin):
                close = difflib.get_close_matches(hook.name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self._problem(name, f"unknown hook {hook.name}{hint}: Deskpilot never calls it")

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
        order = list(self.infos)
        # Keyed registrations: every candidate per (hook, key), in load order, then one winner.
        candidates: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        for plugin in sorted(staged, key=lambda p: order.index(p) if p in order else -1):
            for hook_name, args, options in staged[plugin]:
                if not args:
                    self._problem(plugin, f"{hook_name}: register() called with nothing")
                    continue
                obj = args[0]
                if hook_name in _KINDS:
                    try:
                        key = checked_key(hook_name, obj)
                    except Refused as exc:
                        self._problem(plugin, f"refused: {exc}")
                        continue
                    candidates.setdefault((hook_name, key), []).append((plugin, obj))
                else:
                    self._add(plugin, hook_name, obj, options)
        self._resolve(candidates)

    def _builtin(self, plugin: str) -> bool:
        info = self.infos.get(plugin)
        return info is not None and info.dist == BUILTIN_DIST

    def _resolve(self, candidates: dict[tuple[str, str], list[tuple[str, Any]]]) -> None:
        replace = dict(self.settings.replace)
        for (hook_name, key), offers in candidates.items():
            kind = _KINDS[hook_name][0]
            named = replace.pop(key, None)
            chosen = next((o for o in offers if o[0] == named), None)
            if named is not None and chosen is None:
                self.warnings.append(
                    f"[plugins.replace] {key} = {named!r}: plugin {named} registers no "
                    f"{kind} {key} (or is not loaded); kept {offers[0][0]}'s")
            chosen = chosen or next((o for o in offers if self._builtin(o[0])), offers[0])
            winner, obj = chosen
            registry = {"register_connectors": self.connectors, "register_tools": self.tools,
                        "register_embedders": self.embedders}[hook_name]
            registry[key] = obj
            self._record(winner, hook_name, obj)
            for plugin, _obj in offers:
                if plugin == winner:
                    continue
                if named == winner:
                    continue  # the operator chose: the replaced one is not at fault
                self._problem(plugin, f"refused: {kind} {key}: already registered by plugin "
                              f"{winner} (to use this plugin's instead, set "
                              f'[plugins.replace] {key} = "{plugin}")')
        for key, named in replace.items():
            self.warnings.append(f"[plugins.replace] {key} = {named!r}: no plugin registers "
                                 f"anything named {key}")
        for warning in self.warnings:
            log.warning("%s", warning)

    def _problem(self, plugin: str, text: str) -> None:
        log.warning("plugin %s: %s", plugin, text)
        info = self.infos.setdefault(plugin, PluginInfo(plugin, plugin, None, None))
        info.problems.append(text)

    def _record(self, plugin: str, hook_name: str, obj: Any) -> None:
        registered = self.registrations(plugin)
        if hook_name == "register_connectors":
            registered["connectors"].append(obj.type)
        elif hook_name == "register_tools":
            registered["tools"].append({"name": obj.name, "audience": str(obj.audience)})
        elif hook_name == "register_embedders":
            registered["embedders"].append(obj.name)

    def registrations(self, plugin: str) -> dict[str, Any]:
        """What `plugin` registered and the host accepted, by kind."""
        return self._registered.setdefault(plugin, {
            "connectors": [], "tools": [], "embedders": [], "settings": [],
            "ticket_steps": [], "migrations": False})

    def _add(self, plugin: str, hook_name: str, obj: Any, options: dict[str, Any]) -> None:
        if hook_name == "register_settings":
            section = options.get("section") or f"plugins.{plugin}"
            if not (isinstance(obj, type) and hasattr(obj, "model_validate")
                    and hasattr(obj, "model_fields")):
                self._problem(plugin, f"refused: settings {obj!r}: not a pydantic model "
                              "(subclass deskpilot.Options)")
                return
            self.settings_claims.append(SettingsClaim(plugin, obj, section))
            self.registrations(plugin)["settings"].append(section)
        elif hook_name == "register_ticket_steps":
            if not isinstance(obj, TicketStep):
                self._problem(plugin, f"refused: ticket step {obj!r}: not a deskpilot.TicketStep")
                return
            if (other := self._step_owner.get(obj.name)) is not None:
                self._problem(plugin, f"refused: ticket step {obj.name}: already registered by "
                              f"plugin {other}")
                return
            self._steps[obj.name] = obj
            self._step_owner[obj.name] = plugin
            self.registrations(plugin)["ticket_steps"].append(obj.name)
        elif hook_name == "register_migrations":
            self.migrations[plugin] = Path(obj)
            self.registrations(plugin)["migrations"] = True

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
        """Every plugin's routers; each plugin's paths are recorded (`registrations`)."""
        routers = []
        for plugin, staged in self._registrations("register_routes", platform=platform):
            paths = self.registrations(plugin)["route_paths"] = []
            for (router,), _ in staged:
                routers.append(router)
                paths += [f"{','.join(sorted(getattr(route, 'methods', None) or ['WS']))} "
                          f"{route.path}" for route in router.routes]
        return routers

    def dashboard_pages(self) -> list[DashboardPage]:
        """Every plugin's dashboard pages, each name once (the first plugin's); refusals are
        recorded against the plugin."""
        pages: dict[str, DashboardPage] = {}
        for plugin, staged in self._registrations("register_dashboard_pages"):
            names = self.registrations(plugin)["dashboard_pages"] = []
            for (page, *_), _ in staged:
                if not isinstance(page, DashboardPage):
                    self._problem(plugin, f"refused: dashboard page {page!r}: not a "
                                  "deskpilot.DashboardPage")
                elif not PAGE_NAME.fullmatch(page.name):
                    self._problem(plugin, f"refused: dashboard page {page.name!r}: the name "
                                  "must be lowercase letters, digits and '-'")
                elif page.name in pages:
                    self._problem(plugin, f"refused: dashboard page {page.name}: already "
                                  "registered by another plugin")
                else:
                    pages[page.name] = page
                    names.append(page.name)
        return list(pages.values())

    def commands(self) -> list[tuple[typer.Typer, str | None]]:
        """(a plugin's Typer app, the built-in group its commands join, or None for the top);
        each plugin's command names are recorded (`registrations`)."""
        found = []
        for plugin, staged in self._registrations("register_commands"):
            names = self.registrations(plugin)["commands"] = []
            for (app,), options in staged:
                group = options.get("group")
                found.append((app, group))
                names += [f"{group} {name}" if group else name for name in _command_names(app)]
        return found

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
        """Each plugin's status and what it registered: routes as paths once `routers` ran
        (the app is built), else whether the plugin has any."""
        rows = []
        for info in sorted(self.infos.values(), key=lambda i: i.name):
            row = info.as_dict()
            if info.status == "loaded":
                registered = dict(self.registrations(info.name))
                paths = registered.pop("route_paths", None)
                registered["routes"] = paths if paths is not None else (
                    "when the app is built (--routes)"
                    if "register_routes" in info.hooks else [])
                registered.setdefault("commands", [])
                row["registered"] = registered
            rows.append(row)
        return rows


def _command_names(app: typer.Typer) -> list[str]:
    """The names a Typer app's commands and groups answer to on the command line."""
    names = [command.name or (command.callback.__name__.replace("_", "-")
                              if command.callback else "?")
             for command in app.registered_commands]
    names += [group.name or (group.typer_instance.info.name or "?")
              for group in app.registered_groups if group.typer_instance is not None]
    return names


def load_plugins(settings: PluginSettings | None = None, extra: Iterable[tuple[str, object]] = ()
                 ) -> PluginHost:
    """The installed plugins; `extra` registers more plugin objects first (tests)."""
    host = PluginHost(settings)
    for name, plugin in extra:
        host.register(plugin, name)
    return host.load_entry_points()

