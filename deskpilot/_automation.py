"""Ticket automation: what a helpdesk's ticket event sets off, as steps plugins register.

A signed webhook delivery (ticket created or updated) becomes a `TicketEvent`; the host runs
every registered `TicketStep` on it in dependency order (`after`), in a worker thread, after
the helpdesk has had its answer. Each step's outcome is recorded with the delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskpilot._platform import Platform


@dataclass(frozen=True)
class TicketEvent:
    """A ticket created/updated event of one connector. `text` is what the customer wrote when
    opening the ticket: from the event, or else as last synced."""

    connector: str
    ticket_id: str
    subject: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    text: str = ""
    #: The verified delivery's JSON body, for a step that needs more than the ticket (the relay
    #: hands it to the connector's `conversation`).
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


#: A step: (platform, event, outcomes of the steps it runs after) -> what it did, as JSON.
#: Raising records the step as failed; None says it does not apply (it is switched off).
StepRun = Callable[
    ["Platform", TicketEvent, Mapping[str, dict[str, Any]]], dict[str, Any] | None]


@dataclass(frozen=True)
class TicketStep:
    name: str
    run: StepRun
    #: Names of steps whose outcomes this one reads; when registered, they run first.
    after: tuple[str, ...] = field(default=())
    #: False for a step that does not read the ticket's text (the relay): it runs also on an
    #: event whose ticket has no text in it and was never synced.
    needs_text: bool = True
