"""FastAPI dependencies: the platform, admin authentication, and for the chat endpoints the
chat runtime and the visitor's identity.

They are `async def` although they never await: FastAPI runs a plain `def` dependency in its
thread pool, a thread hop per dependency per request for nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Header, Request, Response

from deskpilot._chat import RequestContext
from deskpilot._errors import ClientError
from deskpilot.core.admin import require_admin
from deskpilot.core.chat.identity import SESSION_COOKIE, SESSION_MAX_AGE, Identity, IdentityError
from deskpilot.core.chat.runtime import ChatRuntime, build_chat
from deskpilot.core.services import Services


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
AdminDep = Depends(require_admin)


async def get_chat(request: Request, services: ServicesDep) -> ChatRuntime:
    """Built on first use and kept on the app: one server, store and key per app."""
    chat = getattr(request.app.state, "chat", None)
    if chat is None:
        chat = request.app.state.chat = build_chat(services)
    return chat


ChatDep = Annotated[ChatRuntime, Depends(get_chat)]


async def get_identity(
    request: Request,
    chat: ChatDep,
    authorization: Annotated[str | None, Header()] = None,
    x_deskpilot_user_token: Annotated[str | None, Header()] = None,
) -> Identity:
    """A signed user token (Authorization: Bearer, or X-Deskpilot-User-Token), else the
    anonymous session cookie; 401 when neither may be used."""
    scheme, _, bearer = (authorization or "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else None
    try:
        identity = chat.identities.resolve(token or x_deskpilot_user_token,
                                           request.cookies.get(SESSION_COOKIE))
    except IdentityError as exc:
        # RFC 6750's error code tells a client (the widget) that a fresh token will do.
        challenge = ('Bearer error="invalid_token", error_description="user token expired"'
                     if exc.expired else "Bearer")
        raise ClientError(401, str(exc), {"WWW-Authenticate": challenge}) from None
    if identity.anonymous and request.method not in ("GET", "HEAD"):
        check_origin(request, chat.identities.settings.allowed_origins)
    return identity


def check_origin(request: Request, allowed_origins: list[str]) -> None:
    """CSRF: the browser sends the session cookie with a request any site makes, and names that
    site in `Origin`. A state change from a site other than this server and the allow-list is
    refused. Clients that send no Origin are not browsers, and so carry no visitor's cookie."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    origin = origin.rstrip("/").lower()
    own = request.headers.get("host", "").lower()
    if origin in allowed_origins or urlsplit(origin).netloc == own:
        return
    raise ClientError(403, f"requests from origin {origin} are not allowed: add it to "
                           "[chat] allowed_origins, or send a signed user token")


IdentityDep = Annotated[Identity, Depends(get_identity)]


async def request_context(request: Request, identity: IdentityDep) -> RequestContext:
    return RequestContext(user_id=identity.user_id, base_url=str(request.base_url),
                          claims=identity.claims, verified=not identity.anonymous,
                          client_address=request.client.host if request.client else None)


ContextDep = Annotated[RequestContext, Depends(request_context)]


def remember_session(response: Response, request: Request, identity: Identity) -> Response:
    """Set the anonymous session cookie on a visitor's first response."""
    if identity.new_session is not None:
        response.set_cookie(
            SESSION_COOKIE,
            identity.new_session,
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
