"""One ChatKit request in, one HTTP response out: validation, ownership, error mapping.

`ChatKitServer.process()` lets NotFoundError and pydantic ValidationError escape as 500s, and in
a streaming request a missing thread only surfaces after the 200 has been sent. So everything a
request names is checked here first, the first event of a stream is produced before the
headers go out, and a failure later in a stream ends it with an error event, not a cut.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ClientToolCallItem,
    ErrorEvent,
    InputTranscribeReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    UserMessageItem,
    WidgetItem,
)
from deskpilot.core.chat.attachments import AttachmentError
from deskpilot.core.chat.context import RequestContext
from deskpilot.core.chat.runtime import ChatRuntime, FirstEventsFirst
from deskpilot.core.chat.server import REQUEST
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
_STREAM_FAILED = (
    b"data: " + ErrorEvent(code="stream.error", allow_retry=True).model_dump_json().encode()
    + b"\n\n"
)


class RequestError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def describe(exc: ValidationError) -> str:
    """The first problem in a request, in words: where it is and what is wrong."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
    where = ".".join(str(part) for part in error["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"invalid request: {where}: {error['msg']}{more}"


def _overridden(server: ChatKitServer[Any], name: str) -> bool:
    return getattr(type(server), name) is not getattr(ChatKitServer, name)


async def _preflight(chat: ChatRuntime, request: Any, ctx: RequestContext) -> None:
    """Check, before anything runs, that every thread, item and attachment named is the user's
    and fits the request: a problem found later would be a broken stream or a 500."""
    store, server = chat.store, chat.server
    unsupported = {
        InputTranscribeReq: "transcribe",
        ThreadsCustomActionReq: "action",
        ThreadsSyncCustomActionReq: "sync_action",
    }
    for kind, method in unsupported.items():
        if isinstance(request, kind) and not _overridden(server, method):
            raise RequestError(400, f"{request.type} is not supported by this server")

    # get_by_id, update, delete, items.list and items.feedback need only this thread check.
    thread_id = getattr(request.params, "thread_id", None)
    if thread_id is not None:
        try:
            await store.load_thread(thread_id, ctx)
        except NotFoundError:
            raise RequestError(404, "thread not found") from None

    match request:
        case ThreadsCreateReq() | ThreadsAddUserMessageReq():
            for attachment_id in request.params.input.attachments:
                await store.load_attachment(attachment_id, ctx)
        case ThreadsAddClientToolOutputReq():
            last = await store.load_thread_items(thread_id, None, 1, "desc", ctx)
            if not (last.data and isinstance(last.data[0], ClientToolCallItem)
                    and last.data[0].status == "pending"):
                raise RequestError(400, "the thread has no pending client tool call")
        case ThreadsAddStructuredInputReq():
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not (isinstance(item, StructuredInputItem) and item.status == "pending"):
                raise RequestError(400, "the item is not a pending structured input")
        case ThreadsRetryAfterItemReq():
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not isinstance(item, UserMessageItem):
                raise RequestError(400, "retry_after_item must name a user message")
        case ThreadsCustomActionReq() | ThreadsSyncCustomActionReq() if request.params.item_id:
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not isinstance(item, WidgetItem):
                raise RequestError(400, "a custom action's item must be a widget")


def _mapped(exc: Exception) -> Response | None:
    """The response for an error a client can cause, or None for a real server fault."""
    if isinstance(exc, RequestError | AttachmentError):
        return error_response(exc.status_code, exc.message)
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc) or "not found")
    if isinstance(exc, ValidationError):
        return error_response(400, describe(exc))
    if isinstance(exc, ValueError | NotImplementedError):
        return error_response(400, str(exc) or type(exc).__name__)
    return None


async def _stream(first: bytes | None, rest: AsyncIterator[bytes],
                  gate: FirstEventsFirst) -> AsyncIterator[bytes]:
    if first is not None:
        yield first
    await gate.wait_turn()
    try:
        async for chunk in rest:
            yield chunk
    except Exception:
        # Headers are out: end the stream with an error event the client can show and retry.
        log.exception("chat stream failed")
        yield _STREAM_FAILED


async def handle(chat: ChatRuntime, body: bytes, ctx: RequestContext) -> Response:
    """Answer one ChatKit request with JSON, an SSE stream, or a 4xx naming the problem."""
    if len(body) > MAX_BODY_BYTES:
        return error_response(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        with chat.first_events.awaiting_first_event():
            request = REQUEST.validate_json(body)
            await _preflight(chat, request, ctx)
            result = await chat.server.process_request(request, ctx)
            if not isinstance(result, StreamingResult):
                return Response(result.json, media_type="application/json")
            events = aiter(result)
            # The first event runs the request's own checks inside the SDK; failing here still
            # allows a proper status code.
            first = await anext(events, None)
    except Exception as exc:
        response = _mapped(exc)
        if response is None:
            raise
        return response
    return StreamingResponse(
        _stream(first, events, chat.first_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
