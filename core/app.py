"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core.config import Settings
from core.routes import chatkit, health
from core.services import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
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
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Deskpilot",
        summary="Self-hostable AI support agent for your helpdesk",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(health.router)
    app.include_router(chatkit.router)
    return app
