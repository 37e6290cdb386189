"""FastAPI dependencies: the services object and admin authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from deskpilot.core.services import Services
from fastapi import Depends, Header, HTTPException, Request, status


async def get_services(request: Request) -> Services:
    # async: a plain `def` dependency is run in the thread pool, a hop per request for nothing.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_admin(
    request: Request, services: ServicesDep, authorization: str | None = Header(None)
) -> None:
    """Admin endpoints take `Authorization: Bearer <server.admin_token>`, or the per-start token
    `serve` writes to <data_dir>/server.json for CLI commands run by the same user."""
    token = services.settings.server.admin_token
    tokens = [token.get_secret_value()] if token is not None else []
    tokens += [t for t in [getattr(request.app.state, "server_token", None)] if t]
    if not tokens:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: set server.admin_token in the config",
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not any(
        hmac.compare_digest(given.encode(), t.encode()) for t in tokens
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong admin token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)
