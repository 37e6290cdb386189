"""HTTP for the copilot plugin (hook `register_routes`): drafts, and the staff ChatKit endpoint.

    POST /v1/copilot/draft    {connector?, ticket_id?, subject, description, post_note?} → Draft
    POST /copilot/chatkit     the ChatKit protocol, for human agents asking about tickets

Both take the admin token: human agents are staff. The ChatKit endpoint reuses core.chat's
server, store and request handling, with the copilot agent (AGENT tools) instead of the
customer agent; its threads belong to the user `staff:admin`, apart from every customer's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from agents import Agent, FunctionTool, RunConfig
from deskpilot.core.agent import run_config
from deskpilot.core.agent.providers import make_model
from deskpilot.core.chat.context import RequestContext
from deskpilot.core.chat.endpoint import handle
from deskpilot.core.chat.runtime import ChatRuntime, build_chat
from deskpilot.core.deps import AdminDep, ServicesDep
from deskpilot.core.services import Services
from deskpilot.plugins.copilot import Draft, draft_for_ticket, post_draft_note
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

import deskpilot

router = APIRouter(tags=["copilot"], dependencies=[AdminDep])
STAFF_USER = "staff:admin"
# The customer-facing handover makes no sense for staff.
_NOT_FOR_STAFF = {"escalate_to_human"}
COPILOT_INSTRUCTIONS = (
    "You are the copilot of a support agent at {company}. Help them understand and answer "
    "tickets: search public and internal knowledge and similar tickets, triage, and draft "
    "replies. Cite your sources, and say which ones are internal (never for the customer)."
)


def copilot_tools(services: Services) -> list[FunctionTool]:
    """Every AGENT tool, plus the CUSTOMER tools a staff member can use too."""
    return [
        cls(services).function_tool()
        for name, cls in services.plugins.tools.items()
        if issubclass(cls, deskpilot.AgentTool) and name not in _NOT_FOR_STAFF
    ]


def build_copilot_agent(services: Services, context: Any = None) -> Agent[Any]:
    settings = services.settings.agent
    return Agent(
        name=f"{settings.name} copilot",
        instructions=COPILOT_INSTRUCTIONS.replace("{company}", settings.company),
        model=make_model(settings),
        tools=copilot_tools(services),
    )


def copilot_run_config(services: Services) -> RunConfig:
    return dataclasses.replace(run_config(services), workflow_name="Deskpilot copilot")


def _require_copilot(services: ServicesDep) -> None:
    info = services.plugins.infos.get("copilot")
    if info is None or info.status != "loaded":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the copilot plugin is not enabled")


CopilotEnabled = Depends(_require_copilot)


class DraftRequest(BaseModel):
    connector: str | None = None
    ticket_id: str | None = None
    subject: str = Field(min_length=1)
    description: str = ""
    # Also post the draft on the ticket as an internal note (needs connector and ticket_id).
    post_note: bool = False


class DraftResponse(Draft):
    note_posted: bool = False


@router.post("/v1/copilot/draft", dependencies=[CopilotEnabled], responses={
    400: {"description": "post_note without connector and ticket_id, or notes unsupported"},
    401: {"description": "missing or wrong admin token"},
    404: {"description": "unknown connector"},
    502: {"description": "the helpdesk refused or did not answer; the draft is not posted"},
})
async def copilot_draft(body: DraftRequest, services: ServicesDep) -> DraftResponse:
    """A cited reply draft for a ticket, marked as a draft; optionally posted as a note."""
    if body.connector is not None and body.connector not in services.connectors:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown connector {body.connector!r}")
    if body.post_note and (body.connector is None or body.ticket_id is None):
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            "post_note needs connector and ticket_id")
    ticket = deskpilot.Ticket(id=body.ticket_id or "", subject=body.subject,
                              description=body.description, status="open")
    draft = await asyncio.to_thread(draft_for_ticket, services, body.connector, ticket)
    if not body.post_note:
        return DraftResponse(**draft.model_dump())
    assert body.connector is not None and body.ticket_id is not None
    try:
        await asyncio.to_thread(post_draft_note, services, body.connector, body.ticket_id, draft)
    except deskpilot.NotSupported as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except Exception as exc:  # the helpdesk's fault, not the caller's
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            f"could not post the note: {type(exc).__name__}: {exc}") from None
    return DraftResponse(**draft.model_dump(), note_posted=True)


def get_copilot_chat(request: Request, services: ServicesDep) -> ChatRuntime:
    """The chat runtime with the copilot agent, built on first use and kept on the app."""
    chat = getattr(request.app.state, "copilot_chat", None)
    if chat is None:
        chat = build_chat(services, build_copilot_agent, copilot_run_config)
        chat.server.escalate_on_request = False
        request.app.state.copilot_chat = chat
    return chat


@router.post("/copilot/chatkit", dependencies=[CopilotEnabled], responses={
    200: {"content": {"text/event-stream": {}, "application/json": {}}},
    400: {"description": "malformed request, naming the problem"},
    401: {"description": "missing or wrong admin token"},
    404: {"description": "no such thread or item"},
})
async def copilot_chatkit(
    request: Request, chat: Annotated[ChatRuntime, Depends(get_copilot_chat)]
) -> Response:
    """The ChatKit protocol for staff: ask about a ticket with the agent-only tools."""
    context = RequestContext(user_id=STAFF_USER, base_url=str(request.base_url))
    return await handle(chat, await request.body(), context)
