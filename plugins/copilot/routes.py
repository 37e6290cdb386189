"""HTTP for the copilot (hook `register_routes`): drafts, and the staff ChatKit endpoint.

    POST /v1/copilot/draft    {connector?, ticket_id?, subject, description, requester?,
                               post_note?} → Draft
    POST /copilot/chatkit     the ChatKit protocol, for human agents asking about tickets

Both take the admin token: human agents are staff. The ChatKit endpoint is the host's chat
(`platform.chat_endpoint`) with the copilot agent and the staff tools instead of the customer
agent; its threads belong to the user `staff:admin`, apart from every customer's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

import deskpilot

from .drafts import Draft, draft_for_ticket, post_draft_note

STAFF_USER = "staff:admin"
COPILOT_INSTRUCTIONS = (
    "You are the copilot of a support agent at {company}. Help them understand and answer "
    "tickets: search public and internal knowledge and similar tickets, triage, and draft "
    "replies. Cite your sources, and say which ones are internal (never for the customer)."
)


def build_copilot_agent(platform: deskpilot.Platform, context: deskpilot.RequestContext) -> Any:
    from agents import Agent

    settings = platform.settings.agent
    return Agent(
        name=f"{settings.name} copilot",
        instructions=COPILOT_INSTRUCTIONS.replace("{company}", settings.company),
        model=platform.model(),
        tools=platform.function_tools(deskpilot.ToolAudience.AGENT))


class DraftRequest(BaseModel):
    connector: str | None = None
    ticket_id: str | None = None
    subject: str = Field(min_length=1)
    description: str = ""
    # Who asked: the draft greets them by name (else by a name the message is signed with).
    requester: deskpilot.Person | None = None
    # Also post the draft on the ticket as an internal note (needs connector and ticket_id).
    post_note: bool = False


class DraftResponse(Draft):
    note_posted: bool = False


def router(platform: deskpilot.Platform) -> APIRouter:
    routes = APIRouter(tags=["copilot"], dependencies=[Depends(platform.require_admin)])
    chat = platform.chat_endpoint(build_copilot_agent, audience=deskpilot.ToolAudience.AGENT,
                                  workflow="Deskpilot copilot")

    @routes.post("/v1/copilot/draft", responses={
        400: {"description": "post_note without connector and ticket_id, or notes unsupported"},
        401: {"description": "missing or wrong admin token"},
        404: {"description": "unknown connector"},
        502: {"description": "the helpdesk refused or did not answer; the draft is not posted"},
    })
    async def copilot_draft(body: DraftRequest) -> DraftResponse:
        """A cited reply draft for a ticket, marked as a draft; optionally posted as a note."""
        if body.connector is not None:
            platform.connector(body.connector)  # 404 for an unknown one
        if body.post_note and (body.connector is None or body.ticket_id is None):
            raise deskpilot.ClientError(status.HTTP_400_BAD_REQUEST,
                                        "post_note needs connector and ticket_id")
        ticket = deskpilot.Ticket(id=body.ticket_id or "", subject=body.subject,
                                  description=body.description, requester=body.requester,
                                  status="open")
        draft = await platform.run_blocking(draft_for_ticket, platform, body.connector, ticket)
        if not body.post_note:
            return DraftResponse(**draft.model_dump())
        assert body.connector is not None and body.ticket_id is not None
        try:
            await platform.run_blocking(post_draft_note, platform, body.connector,
                                        body.ticket_id, draft)
        except deskpilot.NotSupported as exc:
            raise deskpilot.ClientError(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        except Exception as exc:  # the helpdesk's fault, not the caller's
            raise deskpilot.ClientError(
                status.HTTP_502_BAD_GATEWAY,
                f"could not post the note: {type(exc).__name__}: {exc}") from None
        return DraftResponse(**draft.model_dump(), note_posted=True)

    @routes.post("/copilot/chatkit", responses={
        200: {"content": {"text/event-stream": {}, "application/json": {}}},
        400: {"description": "malformed request, naming the problem"},
        401: {"description": "missing or wrong admin token"},
        404: {"description": "no such thread or item"},
    })
    async def copilot_chatkit(request: Request) -> Response:
        """The ChatKit protocol for staff: ask about a ticket with the agent-only tools."""
        context = deskpilot.RequestContext(user_id=STAFF_USER, base_url=str(request.base_url),
                                           verified=True)  # behind the admin token
        return await chat(request, context)

    return routes
