"""Built-in plugin: hand a customer's chat to a person, through the helpdesk connector.

    handoff.py        the handoff, and who speaks after it (hooks `before_agent_turn`,
                      `after_agent_turn`)
    rules.py          `[[escalation.rules]]`: handing over without being asked
    relay.py          the person's replies into the chat, the customer's onto the ticket
                      (ticket step `relay`, and the worker's periodic read)
    tool_function.py  the customer agent's `escalate_to_human` tool
    outbox.py         the outbox: a row first, a helpdesk ticket second, retried until delivered
    tables.py, migrations/   the outbox and relay tables
    commands.py       `deskpilot escalations`
    dashboard.py      the dashboard's Escalations page

This module is what the entry point loads, for every command: it imports only the light parts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import deskpilot

log = logging.getLogger(__name__)

# How often the retry worker looks for due escalations (each row has its own backoff).
RETRY_TICK_SECONDS = 15.0


class EscalateTool(deskpilot.AgentTool):
    name: ClassVar[str] = "escalate_to_human"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.CUSTOMER
    for_staff: ClassVar[bool] = False  # a support agent asking for a person is no handover

    def function_tool(self) -> Any:
        from .tool_function import escalate_function

        return escalate_function(self.name, self.platform)


async def retry_forever(platform: deskpilot.Platform, tick: float = RETRY_TICK_SECONDS) -> None:
    """Until cancelled: deliver due escalations and relayed messages, and every
    `relay_poll_seconds` read the escalated tickets for replies no webhook brought. The first
    pass picks up what a restart left."""
    from .outbox import EscalationOutbox
    from .relay import Relay
    from .settings import EscalationSettings

    outbox, relay = EscalationOutbox(platform), Relay(platform)
    poll_every = platform.settings_for(EscalationSettings).relay_poll_seconds
    last_poll = -math.inf
    while True:
        try:
            await platform.run_blocking(outbox.deliver_due)
            await platform.run_blocking(relay.deliver_due)
            if poll_every and time.monotonic() - last_poll >= poll_every:
                last_poll = time.monotonic()
                await platform.run_blocking(relay.poll)
        except Exception:  # the database itself is down: keep the loop, try again next tick
            log.exception("escalation retry pass failed")
        await asyncio.sleep(min(tick, poll_every) if poll_every else tick)


def relay_step(platform: deskpilot.Platform, event: deskpilot.TicketEvent,
               outcomes: Any) -> dict[str, Any] | None:
    """A ticket step: the helpdesk says an escalation's ticket changed; relay what is new."""
    from .relay import Relay

    relay = Relay(platform)
    row = relay.for_ticket(event.connector, event.ticket_id)
    if row is None:
        return None  # not a handed-over conversation's ticket
    outcome = relay.sync_ticket(row, dict(event.payload))
    relay.deliver_to_ticket(row.id)
    return outcome


@deskpilot.hookimpl
def register_settings(register: Callable[..., None]) -> None:
    from .settings import EscalationSettings

    register(EscalationSettings, section="escalation")


@deskpilot.hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(EscalateTool)


@deskpilot.hookimpl
def register_migrations(register: Callable[..., None]) -> None:
    register(Path(__file__).parent / "migrations")


@deskpilot.hookimpl
def register_dashboard_pages(register: Callable[..., None]) -> None:
    from .dashboard import PAGE

    register(PAGE)


@deskpilot.hookimpl
def register_commands(register: Callable[..., None]) -> None:
    from .commands import commands

    register(commands)


@deskpilot.hookimpl
def before_agent_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn
                      ) -> Awaitable[str | deskpilot.Reply | None]:
    from .handoff import take_turn

    return take_turn(platform, turn)


@deskpilot.hookimpl
def after_agent_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn,
                     answer: deskpilot.AgentAnswer) -> Awaitable[str | deskpilot.Reply | None]:
    from .handoff import after_turn

    return after_turn(platform, turn, answer)


@deskpilot.hookimpl
def register_ticket_steps(register: Callable[..., None]) -> None:
    register(deskpilot.TicketStep(name="relay", run=relay_step, needs_text=False))


@deskpilot.hookimpl
def background_workers(platform: deskpilot.Platform) -> list[Callable[[], Awaitable[None]]]:
    return [partial(retry_forever, platform)]
