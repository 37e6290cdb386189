"""Admin: triage a text or a synced ticket on demand (`POST /v1/triage`)."""

from __future__ import annotations

from typing import Any, Self

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

import deskpilot

from .service import TicketNotFound, triage_service


class TriageRequest(BaseModel):
    text: str | None = Field(None, min_length=1, description="a ticket or chat message")
    connector: str | None = Field(None, min_length=1,
                                  description="whose past tickets to learn from")
    ticket_id: str | None = Field(None, min_length=1,
                                  description="a synced ticket of `connector`")

    @model_validator(mode="after")
    def _text_or_ticket(self) -> Self:
        if self.ticket_id is not None and self.connector is None:
            raise ValueError("`ticket_id` needs the `connector` it belongs to")
        if self.text is None and self.ticket_id is None:
            raise ValueError("give `text`, or `connector` and `ticket_id`")
        return self


def _triage(platform: deskpilot.Platform, request: TriageRequest) -> dict[str, Any]:
    service = triage_service(platform)
    if request.connector is not None:
        platform.connector(request.connector)  # 404 for an unknown one
    if request.ticket_id is None or request.connector is None:
        return service.triage_text(request.text or "", request.connector)
    try:
        return service.triage_ticket(request.connector, request.ticket_id, request.text)
    except TicketNotFound as exc:
        raise deskpilot.ClientError(404, str(exc)) from None


def router(platform: deskpilot.Platform) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["automation"],
                       dependencies=[Depends(platform.require_admin)])

    @routes.post("/triage", responses={
        401: {"description": "missing or wrong admin token"},
        404: {"description": "no such connector, or the ticket is not synced"},
    })
    async def triage(request: TriageRequest) -> dict[str, Any]:
        """Category (queue), priority and intent with confidences; `abstained: true` means
        route to a person. With `ticket_id`, plugins are told (`ticket_triaged`)."""
        return await platform.run_blocking(_triage, platform, request)

    return routes
