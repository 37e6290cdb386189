"""`GET /metrics`: Prometheus text format, for the admin token (a scraper's bearer token)."""

from fastapi import APIRouter
from fastapi.responses import Response

from deskpilot.core.deps import AdminDep, ServicesDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", dependencies=[AdminDep], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
async def metrics(services: ServicesDep) -> Response:
    """Requests and latency per route, syncs, triage and escalations of this process."""
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
