"""Built-in plugin: the support agents' copilot — cited reply drafts and agent-only tools.

    drafts.py    a cited reply draft for a ticket (offline extractive, or written by the LLM)
    routes.py    POST /v1/copilot/draft, and the staff ChatKit endpoint POST /copilot/chatkit

Its drafts are measured by `deskpilot eval drafts` (hook `draft_reply`). It posts a draft note
on each ticket a helpdesk webhook reports (step `draft`, after `triage`
and `tags`; `[automation] draft_note`), and gives the copilot agent-only tools:
`search_internal`, `similar_tickets`, `draft_reply`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import deskpilot

#: Audit records of posted drafts: at most one draft note per ticket.
DRAFT_AUDIT_KIND = "automation.draft"


class CopilotSettings(deskpilot.Options):
    """The copilot's key of `[automation]`."""

    # Post a cited reply draft as an internal note on each ticket a webhook reports.
    draft_note: bool = True


class SearchInternal(deskpilot.AgentTool):
    name: ClassVar[str] = "search_internal"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def function_tool(self) -> Any:
        from agents import function_tool

        @function_tool(name_override=self.name)
        async def search_internal(query: str) -> str:
            """Search all knowledge, internal notes included: for support agents only.

            Args:
                query: What to look for.
            """
            passages = await self.platform.run_blocking(
                self.platform.search, query, 6, None, True)
            return deskpilot.passages_json(passages)

        return search_internal


class SimilarTickets(deskpilot.AgentTool):
    name: ClassVar[str] = "similar_tickets"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def function_tool(self) -> Any:
        from agents import function_tool

        tickets_only = deskpilot.SearchFilter(kind=deskpilot.DocumentKind.TICKET)

        @function_tool(name_override=self.name)
        async def similar_tickets(text: str) -> str:
            """Past tickets like this one, with their conversations and internal notes.

            Args:
                text: The ticket's subject and description.
            """
            passages = await self.platform.run_blocking(
                self.platform.search, text, 5, tickets_only, True)
            return deskpilot.passages_json(passages)

        return similar_tickets


class DraftReply(deskpilot.AgentTool):
    name: ClassVar[str] = "draft_reply"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def function_tool(self) -> Any:
        from agents import function_tool

        from .drafts import draft_for_ticket

        @function_tool(name_override=self.name)
        async def draft_reply(subject: str, description: str) -> str:
            """Draft a cited reply to a ticket for the support agent to review.

            Args:
                subject: The ticket's subject.
                description: The customer's message.
            """
            ticket = deskpilot.Ticket(id="", subject=subject, description=description)
            draft = await self.platform.run_blocking(
                draft_for_ticket, self.platform, None, ticket)
            return draft.model_dump_json()

        return draft_reply


def draft_step(platform: deskpilot.Platform, event: deskpilot.TicketEvent,
               earlier: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Automation: a draft note on the ticket of a webhook event — at most one per ticket, since
    our own write-backs make the helpdesk send ticket-updated events too."""
    connector = platform.connector(event.connector)
    if (not platform.settings_for(CopilotSettings).draft_note
            or deskpilot.Capability.NOTES not in connector.capabilities):
        return None
    from .drafts import draft_for_ticket, post_draft_note

    subject = f"{event.connector}/{event.ticket_id}"
    # Claimed before the helpdesk is called: two deliveries racing for one ticket post one
    # note. (The audit check covers drafts posted before claims existed.)
    if (platform.audit_log(DRAFT_AUDIT_KIND, subject)
            or not platform.claim_write(DRAFT_AUDIT_KIND, subject)):
        return {"skipped": "a draft was already posted on this ticket"}
    try:
        # As a Ticket, not bare text: the draft must not cite this ticket as its own source.
        ticket = deskpilot.Ticket(id=event.ticket_id, subject="", description=event.text,
                                  status="open")
        draft = draft_for_ticket(platform, event.connector, ticket)
        post_draft_note(platform, event.connector, event.ticket_id, draft)
    except BaseException:
        platform.release_write(DRAFT_AUDIT_KIND, subject)  # not posted: a retry may
        raise
    platform.audit(DRAFT_AUDIT_KIND, subject, connector=event.connector,
                   ticket_id=event.ticket_id, sources=len(draft.sources))
    return {"posted": True, "sources": len(draft.sources), "generated_by": draft.generated_by}


@deskpilot.hookimpl
def register_settings(register: Callable[..., None]) -> None:
    register(CopilotSettings, section="automation")


@deskpilot.hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(SearchInternal)
    register(SimilarTickets)
    register(DraftReply)


@deskpilot.hookimpl
def register_ticket_steps(register: Callable[..., None]) -> None:
    register(deskpilot.TicketStep(name="draft", run=draft_step, after=("triage", "tags")))


@deskpilot.hookimpl
def draft_reply(platform: deskpilot.Platform, ticket: deskpilot.Ticket, connector: str | None
                ) -> dict[str, Any]:
    """What `deskpilot eval drafts` compares with the replies agents really sent."""
    from .drafts import draft_for_ticket

    return draft_for_ticket(platform, connector, ticket).model_dump()


@deskpilot.hookimpl
def register_routes(register: Callable[..., None], platform: deskpilot.Platform) -> None:
    from .routes import router

    register(router(platform))
