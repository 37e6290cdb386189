"""Request bodies are capped while they stream in (an ASGI middleware around the whole app).

A route that reads its body whole (`await request.body()`, a form spooled to disk) would hold
or write everything the client sends before it could compare the size to a limit. Here a
declared `Content-Length` over the limit is refused before a byte is read, and a body without
one, or with a false one, is cut off as soon as it passes the limit: the app gets an error
instead of the next chunk, and the client a 413 naming the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from deskpilot._errors import ClientError

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[..., Any]

# The form around an uploaded file (boundaries, part headers) on top of the file's own limit.
MULTIPART_ALLOWANCE = 64 * 1024
UPLOAD_PATH = re.compile(r"^/chatkit/attachments/[^/]+/upload$")


class BodyTooLarge(ClientError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """`limit_for(path)`: the most bytes a request to that path may send."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Callable[[], Any],
                       send: Callable[[Message], Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app made of the error (a route may wrap it as a parse error),
                # the client is told the real reason, once.
                if not started:
                    started = True
                    await _refuse(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Callable[[Message], Any], limit: int) -> None:
    message = BodyTooLarge(limit).message
    body = json.dumps({"detail": message, "error": message}).encode()
    # `Connection: close`: the rest of the body is not read, so the connection cannot be reused.
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def limits(max_body_bytes: int, max_attachment_bytes: int) -> Callable[[str], int]:
    """Every route's body limit: the attachment upload's follows the attachment limit."""

    def limit_for(path: str) -> int:
        if UPLOAD_PATH.match(path):
            return max_attachment_bytes + MULTIPART_ALLOWANCE
        return max_body_bytes

    return limit_for
