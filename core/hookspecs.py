"""Deskpilot's plugin hooks.

Registration hooks hand the host classes: `register` is a callable taking one class. Event
hooks tell plugins what happened; an exception raised in one is recorded against that plugin
and does not stop the others or the caller.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("deskpilot")
hookimpl = pluggy.HookimplMarker("deskpilot")


@hookspec
def register_connectors(register: Any) -> None:
    """Register helpdesk connector classes (subclasses of `Connector`)."""


@hookspec
def register_tools(register: Any) -> None:
    """Register agent tool classes (subclasses of `AgentTool`)."""


@hookspec
def register_embedders(register: Any) -> None:
    """Register embedder classes (subclasses of `Embedder`)."""


@hookspec
def register_routes(register: Any) -> None:
    """Register `fastapi.APIRouter`s for the app to mount (a plugin's own HTTP API)."""


@hookspec
def sync_finished(connector: str, report: dict[str, Any]) -> None:
    """A knowledge sync run ended; `report` holds its counts, duration and status."""


@hookspec
def ticket_triaged(connector: str, ticket_id: str, result: dict[str, Any]) -> None:
    """Triage produced `result` (category, priority, intent, confidence, abstained)."""


@hookspec
def conversation_escalated(thread_id: str, ticket_ref: str | None, request: dict[str, Any]) -> None:
    """A customer conversation was handed to a person."""


@hookspec
def background_workers(services: Any) -> list[Any]:
    """Async callables (no arguments) the server runs while it is up, e.g. an outbox retry loop;
    cancelled at shutdown. Each must be safe to run in several server processes at once."""
