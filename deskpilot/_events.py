"""Events: what happened, told to every plugin that implements the event's hook.

Each event names its hook (`hook`); `platform.emit(event)` calls it on every plugin, and a plugin
that raises is recorded against itself without stopping the others or the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from deskpilot._documents import Ticket


@dataclass(frozen=True)
class SyncFinished:
    """A knowledge sync run ended; `report` is the run as `deskpilot sync status --json` shows
    it (counts, duration, status, failures)."""

    hook: ClassVar[str] = "sync_finished"
    connector: str
    report: dict[str, Any]


@dataclass(frozen=True)
class TicketsSynced:
    """A sync page with tickets was applied (committed): each ticket as the connector gave it,
    conversation, notes and the people on it included. Told during the sync, in its thread."""

    hook: ClassVar[str] = "tickets_synced"
    connector: str
    tickets: list[Ticket]


@dataclass(frozen=True)
class TicketTriaged:
    """Triage produced `result` (category, priority, intent, confidence, abstained)."""

    hook: ClassVar[str] = "ticket_triaged"
    connector: str
    ticket_id: str
    result: dict[str, Any]


@dataclass(frozen=True)
class ConversationEscalated:
    """A customer conversation was handed to a person; the helpdesk has it as `ticket_ref`.
    `request` is the EscalationRequest the helpdesk received, as JSON."""

    hook: ClassVar[str] = "conversation_escalated"
    thread_id: str
    ticket_ref: str | None
    request: dict[str, Any] = field(default_factory=dict)


Event = SyncFinished | TicketsSynced | TicketTriaged | ConversationEscalated
