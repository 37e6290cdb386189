"""Admin: triage a text or a synced ticket on demand (`POST /v1/triage`)."""

from __future__ import annotations

from typing import Any, Self

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

import deskpilot

from .service import TicketNotFound, triage_service


class TriageRequest(BaseModel):
    text: str | None = Field(None, min_length=1, description="a ticket or chat message")
    connector: str | None = Field(None, description="whose past tickets to learn from")
    ticket_id: str | None = Field(None, description="a synced ticket of `connector`")

    @model_validator(mode="after")
    def _text_or_ticket(self) -> Self:
        if self.text is None and not (self.connector and self.ticket_id):
            raise ValueError("give `text`, or `connector` and `ticket_id`")
        return self


def _triage(platform: deskpilot.Platform, request: TriageRequest) -> dict[str, Any]:
    service = triage_service(platform)
    if request.connector is not None:
        platform.connector(request.connector)  # 404 for an unknown one
    if request.ticket_id is None:
        assert request.text is not None  # the validator saw to it
        return service.triage_text(request.text, request.connector)
    assert request.connector is not None
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
