"""Admin: run a connector's sync now, and read the recent runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from deskpilot.core.deps import AdminDep, ServicesDep
from deskpilot.knowledge.runs import report

router = APIRouter(prefix="/v1", tags=["sync"], dependencies=[AdminDep])


@router.post(
    "/sync/{connector}",
    responses={404: {"description": "no such enabled connector"},
               409: {"description": "a sync of this connector is already running"},
               503: {"description": "the index cannot be opened"}},
)
async def sync_now(connector: str, services: ServicesDep, full: bool = False) -> dict[str, Any]:
    """Run one sync and answer with its report when it ends (status "failed" is a 200 too:
    the run happened and is recorded)."""
    # A worker thread: embedding holds the GIL, the event loop must keep answering. Unknown
    # connector (404), a sync already running (409), a locked index (503) are ClientErrors.
    run = await services.run_blocking(services.sync, connector, full)
    return report(run)


@router.get("/sync", responses={404: {"description": "no connector of this name"}})
async def sync_runs(
    services: ServicesDep, connector: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100, description="runs per connector")] = 5,
) -> dict[str, list[dict[str, Any]]]:
    """The latest runs of each connector, newest first."""
    return await services.run_blocking(services.sync_history, connector, limit)
