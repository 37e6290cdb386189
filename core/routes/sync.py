"""Admin: run a connector's sync now, and read the recent runs."""

from __future__ import annotations

from typing import Annotated, Any

from deskpilot.core.deps import AdminDep, ServicesDep
from deskpilot.knowledge.locks import SyncLocked
from deskpilot.knowledge.sync import UnknownConnector, recent_runs, report, run_sync
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool

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
    from deskpilot.knowledge.index import IndexLocked

    try:
        # A worker thread: embedding holds the GIL, the event loop must keep answering.
        run = await run_in_threadpool(run_sync, services, connector, full)
    except UnknownConnector as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except SyncLocked as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except IndexLocked as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return report(run)


@router.get("/sync")
async def sync_runs(
    services: ServicesDep, connector: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100, description="runs per connector")] = 5,
) -> dict[str, list[dict[str, Any]]]:
    """The latest runs of each connector, newest first."""
    return await run_in_threadpool(recent_runs, services.engine, connector, limit)
