"""Built-in plugin: triage — category (queue), priority and intent of a ticket, or abstain.

    service.py     TriageService: models trained on labelled past tickets, predictions
    model.py       TriageModel: a linear head plus a kNN vote on embeddings, with abstention
    routes.py      POST /v1/triage
    commands.py    deskpilot eval triage
    evaluation.py  what the eval measures

It triages every ticket a helpdesk webhook reports (step `triage`, `[automation] triage`),
answers `platform.triage(...)` for other plugins (hook `triage_text`), and gives the copilot
the `triage_ticket` tool. This module is what the entry point loads, for every command: the
models (torch, numpy) are imported only when something is triaged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import deskpilot

from .settings import TriageSettings


class TriageTool(deskpilot.AgentTool):
    """For the support agents' copilot: predictions about tickets are internal."""

    name: ClassVar[str] = "triage_ticket"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def run(self, text: str, connector: str) -> str:
        from .service import triage_service

        return json.dumps(triage_service(self.platform).triage_text(text, connector or None))

    def function_tool(self) -> Any:
        from agents import function_tool

        @function_tool(name_override=self.name)
        async def triage_ticket(text: str, connector: str = "") -> str:
            """Predict a ticket's category (queue), priority and intent from similar labelled
            past tickets, with confidences; `abstained` means no confident category.

            Args:
                text: The ticket's subject and opening message.
                connector: The helpdesk connector whose past tickets to learn from (empty: all).
            """
            return await self.platform.run_blocking(self.run, text, connector)

        return triage_ticket


def triage_step(platform: deskpilot.Platform, event: deskpilot.TicketEvent,
                earlier: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Automation: triage the ticket of a webhook event, and tell plugins (`ticket_triaged`)."""
    if not platform.settings_for(TriageSettings).triage:
        return None
    from .service import triage_service

    return triage_service(platform).triage_ticket(event.connector, event.ticket_id, event.text)


@deskpilot.hookimpl
def register_settings(register: Callable[..., None]) -> None:
    register(TriageSettings, section="automation")


@deskpilot.hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(TriageTool)


@deskpilot.hookimpl
def register_ticket_steps(register: Callable[..., None]) -> None:
    register(deskpilot.TicketStep(name="triage", run=triage_step))


@deskpilot.hookimpl
def register_routes(register: Callable[..., None], platform: deskpilot.Platform) -> None:
    from .routes import router

    register(router(platform))


@deskpilot.hookimpl
def register_commands(register: Callable[..., None]) -> None:
    from .commands import commands

    register(commands, group="eval")


@deskpilot.hookimpl
def triage_text(platform: deskpilot.Platform, text: str, connector: str | None
                ) -> dict[str, Any]:
    from .service import triage_service

    return triage_service(platform).triage_text(text, connector)


@deskpilot.hookimpl
def sync_finished(platform: deskpilot.Platform) -> None:
    """Tickets may have changed: models check their fingerprint before the next prediction."""
    from .service import TriageService

    platform.shared(TriageService).sync_generation += 1
