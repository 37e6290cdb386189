"""Built-in plugin: hand a customer's chat to a person, through the helpdesk connector.

    handoff.py        the handoff, and the bot's silence after it (hook `before_agent_turn`)
    tool_function.py  the customer agent's `escalate_to_human` tool
    outbox.py         the outbox: a row first, a helpdesk ticket second, retried until delivered
    tables.py, migrations/   the outbox table
    commands.py       `deskpilot escalations`

This module is what the entry point loads, for every command: it imports only the light parts.
"""

from __future__ import annotations

import asyncio
import logging
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
    """Deliver due escalations until cancelled; the first pass picks up what a restart left."""
    from .outbox import EscalationOutbox

    outbox = EscalationOutbox(platform)
    while True:
        try:
            await platform.run_blocking(outbox.deliver_due)
        except Exception:  # the database itself is down: keep the loop, try again next tick
            log.exception("escalation retry pass failed")
        await asyncio.sleep(tick)


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
def register_commands(register: Callable[..., None]) -> None:
    from .commands import commands

    register(commands)


@deskpilot.hookimpl
def before_agent_turn(platform: deskpilot.Platform, turn: deskpilot.ChatTurn
                      ) -> Awaitable[str | None]:
    from .handoff import take_turn

    return take_turn(platform, turn)


@deskpilot.hookimpl
def background_workers(platform: deskpilot.Platform) -> list[Callable[[], Awaitable[None]]]:
    return [partial(retry_forever, platform)]
