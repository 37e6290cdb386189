"""Admin: triage a text or a synced ticket on demand."""

from __future__ import annotations

from typing import Any, Self

from deskpilot.core.deps import AdminDep, ServicesDep
from deskpilot.core.services import Services
from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

router = APIRouter(prefix="/v1", tags=["automation"], dependencies=[AdminDep])


class TriageRequest(BaseModel):
    text: str | None = Field(None, min_length=1, description="a ticket or chat message")
    connector: str | None = Field(None, description="whose past tickets to learn from")
    ticket_id: str | None = Field(None, description="a synced ticket of `connector`")

    @model_validator(mode="after")
    def _text_or_ticket(self) -> Self:
        if self.text is None and not (self.connector and self.ticket_id):
            raise ValueError("give `text`, or `connector` and `ticket_id`")
        return self


def _triage(services: Services, request: TriageRequest) -> dict[str, Any]:
    if services.plugins.pm.get_plugin("triage") is None:
        raise HTTPException(503, "the triage plugin is not loaded")
    from deskpilot.plugins.triage import TicketNotFound, triage_service

    service = triage_service(services)
    if request.connector is not None and request.connector not in services.connectors:
        raise HTTPException(404, f"no enabled connector named {request.connector!r}")
    if request.ticket_id is None:
        assert request.text is not None  # the validator saw to it
        return service.triage_text(request.text, request.connector)
    assert request.connector is not None
    try:
        return service.triage_ticket(request.connector, request.ticket_id, request.text)
    except TicketNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/triage", responses={
    401: {"description": "missing or wrong admin token"},
    404: {"description": "no such connector, or the ticket is not synced"},
    503: {"description": "the triage plugin is not loaded"},
})
async def triage(request: TriageRequest, services: ServicesDep) -> dict[str, Any]:
    """Category (queue), priority and intent with confidences; `abstained: true` means route
    to a person. With `ticket_id`, plugins are told (`ticket_triaged`)."""
    return await run_in_threadpool(_triage, services, request)
