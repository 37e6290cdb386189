"""Helpdesk webhooks: ticket created/updated events set off triage → tags → draft."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from deskpilot.core.automation import receive
from deskpilot.core.deps import ServicesDep

router = APIRouter(prefix="/v1", tags=["automation"])


@router.post("/webhooks/{connector}", status_code=202, responses={
    200: {"description": "a duplicate delivery, or not a ticket event: nothing done"},
    202: {"description": "accepted: the automation runs after this answer"},
    400: {"description": "the body is not a JSON object"},
    401: {"description": "missing, invalid or expired signature: nothing stored"},
    404: {"description": "no such connector, or it does not receive webhooks"},
    413: {"description": "body over [server] max_body_bytes"},
})
async def webhook(connector: str, request: Request, services: ServicesDep,
                  background: BackgroundTasks) -> JSONResponse:
    """Signed by the helpdesk (checked by its connector); each delivery acts once."""
    body = await request.body()  # at most [server] max_body_bytes (core/body_limit.py)
    receipt = await services.run_blocking(receive, services, connector, request.headers, body)
    if receipt.work is not None:
        # Runs in the thread pool after the 202 is sent: the helpdesk does not wait for it.
        background.add_task(receipt.work)
    return JSONResponse(receipt.body, status_code=receipt.status_code)
