"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deskpilot._errors import ClientError
from deskpilot.core import local_server
from deskpilot.core.body_limit import BodyLimit, limits
from deskpilot.core.chat.cors import ChatCORS
from deskpilot.core.chat.runtime import build_chat, warm_up
from deskpilot.core.config import Settings, error_message
from deskpilot.core.dashboard import routes as dashboard
from deskpilot.core.dashboard.auth import LoginRequired
from deskpilot.core.metrics import RequestMetrics
from deskpilot.core.routes import chatkit, health, metrics, search, sync, webhooks, widget
from deskpilot.core.schedule import start_scheduler
from deskpilot.core.services import Services
from deskpilot.core.workers import start_workers, stop_workers

log = logging.getLogger(__name__)


async def client_error(request: Request, exc: Exception) -> JSONResponse:
    """Every ClientError, wherever raised below a route: its status and message. The message is
    under `detail` (FastAPI's own errors use that key) and `error` (the chat protocol's)."""
    assert isinstance(exc, ClientError)
    return JSONResponse({"detail": exc.message, "error": exc.message},
                        status_code=exc.status_code, headers=exc.headers)


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (its list of problems under `detail`, as the OpenAPI schema says), with
    the first problem as one line under `error` too, the key every other error carries:
    `query.k: Input should be less than or equal to 50`."""
    assert isinstance(exc, RequestValidationError)
    problems = jsonable_encoder(exc.errors())
    first = problems[0] if problems else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    if first.get("type") == "json_invalid":  # its loc ends with the character position
        where = "body"
        message = f"not valid JSON ({(first.get('ctx') or {}).get('error', 'unreadable')})"
    else:
        message = error_message(first) if first else "invalid request"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return JSONResponse({"detail": problems, "error": f"{where or 'request'}: {message}{more}"},
                        status_code=422)


def create_app(
    settings: Settings | None = None, services: Services | None = None, serving: bool = False
) -> FastAPI:
    """`serving=True` is `deskpilot serve`: it also runs the scheduled syncs and writes
    <data_dir>/server.json so that CLI commands can reach this process."""
    services = services or Services(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.settings.database.url is None:
            # The embedded default (SQLite under the data dir) upgrades itself; a shared
            # database is upgraded deliberately with `deskpilot db upgrade`.
            services.migrate()
        failed = [i.name for i in services.plugins.infos.values() if i.status == "failed"]
        if failed:
            log.warning("plugins that failed to load and were skipped: %s", ", ".join(failed))
        if serving:
            app.state.server_token = local_server.announce(services.settings)
            scheduler = start_scheduler(services)
            workers = start_workers(services)
            # Built now rather than by the first chat request, which a burst would wait on.
            app.state.chat = build_chat(services)
            await warm_up(services)
        try:
            yield
        finally:
            if serving:
                await stop_workers(workers)
                scheduler.stop()
                local_server.withdraw(services.settings, app.state.server_token)
            services.close()

    app = FastAPI(
        title="Deskpilot",
        summary="Self-hostable AI support agent for your helpdesk",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    settings = services.settings
    app.add_middleware(BodyLimit, limit_for=limits(settings.server.max_body_bytes,
                                                   settings.chat.max_attachment_bytes))
    if settings.chat.allowed_origins:  # outermost: a refused body still carries CORS headers
        app.add_middleware(ChatCORS, allowed_origins=settings.chat.allowed_origins)
    app.add_exception_handler(ClientError, client_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(LoginRequired, dashboard.login_page)
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    for router in (health.router, chatkit.router, sync.router, search.router, widget.router,
                   webhooks.router, metrics.router):
        app.include_router(router)
    app.include_router(dashboard.router(services))
    for router in services.plugins.routers(services):
        app.include_router(router)
    return app
