from fastapi import APIRouter
from fastapi.responses import JSONResponse

from deskpilot.core.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is not ready"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Database and index reachable, and every enabled connector synced at least once; 503
    names what is not."""
    report = await services.run_blocking(services.readiness)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)
