"""Admin authentication: the configured admin token, or the per-start token `serve` writes to
<data_dir>/server.json for CLI commands run by the same user (`platform.require_admin`)."""

from __future__ import annotations

import hmac

from fastapi import Header, Request

from deskpilot._errors import ClientError


async def require_admin(request: Request, authorization: str | None = Header(None)) -> None:
    """Admin endpoints take `Authorization: Bearer <server.admin_token>`, or the per-start
    token. 403 when no token is configured, 401 for a missing or wrong one."""
    token = request.app.state.services.settings.server.admin_token
    tokens = [token.get_secret_value()] if token is not None else []
    tokens += [t for t in [getattr(request.app.state, "server_token", None)] if t]
    if not tokens:
        raise ClientError(403, "admin endpoints are disabled: set server.admin_token in the config")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not any(
        hmac.compare_digest(given.encode(), t.encode()) for t in tokens
    ):
        raise ClientError(401, "missing or wrong admin token", {"WWW-Authenticate": "Bearer"})
