"""`GET /metrics`: Prometheus text format, for the admin token (a scraper's bearer token)."""

from fastapi import APIRouter
from fastapi.responses import Response

from deskpilot.core.deps import AdminDep, ServicesDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", dependencies=[AdminDep], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
async def metrics(services: ServicesDep) -> Response:
    """Requests and latency per route, chat turns, syncs, tool calls, escalations, model tokens
    and cost of this process, the month's model spend, and plugins' metrics (README, Metrics).
    Rendered off the event loop: some gauges read the database."""
    body = await services.run_blocking(services.metrics.render)
    return Response(body, media_type=services.metrics.content_type)
