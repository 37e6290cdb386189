"""One ChatKit request in, one HTTP response out: validation, ownership, error mapping.

`ChatKitServer.process()` lets NotFoundError and pydantic ValidationError escape as 500s, and in
a streaming request a missing thread only surfaces after the 200 has been sent. So everything a
request names is checked here first, the first event of a stream is produced before the
headers go out, and a failure later in a stream ends it with an error event, not a cut.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ClientToolCallItem,
    ErrorEvent,
    InputTranscribeReq,
    ItemsFeedbackReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from deskpilot._chat import RequestContext
from deskpilot._errors import ClientError
from deskpilot._platform import AgentFactory, ChatEndpoint
from deskpilot._tools import ToolAudience
from deskpilot.core.chat.runtime import ChatRuntime, FirstEventsFirst, build_chat
from deskpilot.core.chat.server import (
    PLUGINS_DECIDED_CHUNK,
    PLUGINS_DECIDING,
    REQUEST,
    PluginsDeciding,
)

if TYPE_CHECKING:
    from deskpilot.core.services import Services

log = logging.getLogger(__name__)

_STREAM_FAILED = (
    b"data: " + ErrorEvent(code="stream.error", allow_retry=True).model_dump_json().encode()
    + b"\n\n"
)


def describe(exc: ValidationError) -> str:
    """The first problem in a request, in words: where it is and what is wrong."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
    where = ".".join(str(part) for part in error["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"invalid request: {where}: {error['msg']}{more}"


# What one visitor may send at most, per request (the body as a whole is capped by
# [server] max_body_bytes): a long message is a paste, not a 900 kB thread title.
MAX_MESSAGE_CHARS = 8000
MAX_TITLE_CHARS = 200
MAX_FEEDBACK_ITEMS = 100
MAX_ATTACHMENTS = 10


def _check_lengths(request: Any) -> None:
    def longer(what: str, text: str | None, limit: int) -> None:
        if text is not None and len(text) > limit:
            raise ClientError(400, f"{what} is {len(text)} characters, more than the limit of "
                                   f"{limit} characters")

    match request:
        case ThreadsCreateReq() | ThreadsAddUserMessageReq():
            message = request.params.input
            longer("the message", "".join(getattr(part, "text", "") or ""
                                          for part in message.content), MAX_MESSAGE_CHARS)
            longer("the quoted text", message.quoted_text, MAX_MESSAGE_CHARS)
            if len(message.attachments) > MAX_ATTACHMENTS:
                raise ClientError(400, f"a message may carry at most {MAX_ATTACHMENTS} "
                                       "attachments")
        case ThreadsUpdateReq():
            longer("the thread title", request.params.title, MAX_TITLE_CHARS)
        case ItemsFeedbackReq() if len(request.params.item_ids) > MAX_FEEDBACK_ITEMS:
            raise ClientError(400, f"feedback may name at most {MAX_FEEDBACK_ITEMS} items at "
                                   "once")


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
            raise ClientError(400, f"{request.type} is not supported by this server")

    # get_by_id, update, delete, items.list and items.feedback need only this thread check.
    thread_id = getattr(request.params, "thread_id", None)
    if thread_id is not None:
        try:
            await store.load_thread(thread_id, ctx)
        except NotFoundError:
            raise ClientError(404, "thread not found") from None

    _check_lengths(request)
    match request:
        case ThreadsCreateReq() | ThreadsAddUserMessageReq():
            for attachment_id in request.params.input.attachments:
                attachment = await store.load_attachment(attachment_id, ctx)
                if attachment.upload_descriptor is not None:
                    raise ClientError(400, f"attachment {attachment_id} has not been uploaded "
                                           "yet: upload it before sending it")
                # An attachment belongs to one conversation: deleting a second one would take
                # the file the first still shows.
                if attachment.thread_id is not None and attachment.thread_id != thread_id:
                    raise ClientError(400, f"attachment {attachment_id} was sent in another "
                                           "conversation: upload it again to send it here")
        case ThreadsAddClientToolOutputReq():
            last = await store.load_thread_items(thread_id, None, 1, "desc", ctx)
            if not (last.data and isinstance(last.data[0], ClientToolCallItem)
                    and last.data[0].status == "pending"):
                raise ClientError(400, "the thread has no pending client tool call")
        case ThreadsAddStructuredInputReq():
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not (isinstance(item, StructuredInputItem) and item.status == "pending"):
                raise ClientError(400, "the item is not a pending structured input")
        case ThreadsRetryAfterItemReq():
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not isinstance(item, UserMessageItem):
                raise ClientError(400, "retry_after_item must name a user message")
        case ThreadsCustomActionReq() | ThreadsSyncCustomActionReq() if request.params.item_id:
            item = await store.load_item(thread_id, request.params.item_id, ctx)
            if not isinstance(item, WidgetItem):
                raise ClientError(400, "a custom action's item must be a widget")


def _client_error(exc: Exception) -> ClientError | None:
    """The error a client caused, as a ClientError; None for a real server fault. The SDK and
    pydantic raise their own types for what a request got wrong."""
    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, NotFoundError):
        return ClientError(404, str(exc) or "not found")
    if isinstance(exc, ValidationError):
        return ClientError(400, describe(exc))
    if isinstance(exc, ValueError | NotImplementedError):
        return ClientError(400, str(exc) or type(exc).__name__)
    return None


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


_END = object()
_READING: set[asyncio.Task[None]] = set()  # the streams' tasks, referenced while they run


class SdkStream:
    """The SDK's stream of a request, read from start to end by a task of its own.

    The SDK sets context variables in one step of its stream and resets them in a later one,
    which fails ("was created in a different Context") unless every step runs in one context;
    but the response's first events are read in the request's task, and the rest in the
    server's. A reader that leaves (a disconnect) cancels the task."""

    def __init__(self, events: AsyncIterator[bytes], gate: FirstEventsFirst) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.create_task(self._read(events, gate), name="chat stream")
        _READING.add(self._task)
        self._task.add_done_callback(_READING.discard)

    async def _read(self, events: AsyncIterator[bytes], gate: FirstEventsFirst) -> None:
        try:
            async for chunk in events:
                self._queue.put_nowait(chunk)
                if chunk == PLUGINS_DECIDED_CHUNK:
                    # The response can start: the agent's answer waits for other requests'
                    # first events (FirstEventsFirst).
                    await gate.wait_turn()
        except Exception as exc:  # the reader's to raise
            self._queue.put_nowait(_Failed(exc))
        finally:
            self._queue.put_nowait(_END)

    def __aiter__(self) -> SdkStream:
        return self

    async def __anext__(self) -> bytes:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # and at every later call
            raise StopAsyncIteration
        if isinstance(item, _Failed):
            raise item.error
        return item

    def cancel(self) -> None:
        self._task.cancel()

    def when_done(self, callback: Callable[[], None]) -> None:
        """`callback()` once the SDK's stream has ended (its last write included)."""
        self._task.add_done_callback(lambda _task: callback())


async def _stream(ahead: list[bytes], rest: SdkStream) -> AsyncIterator[bytes]:
    try:
        for chunk in ahead:
            yield chunk
        try:
            async for chunk in rest:
                yield chunk
        except Exception:
            # Headers are out: end the stream with an error event the client can show and retry.
            log.exception("chat stream failed")
            yield _STREAM_FAILED
    finally:
        rest.cancel()  # the reader left: stop the turn (nothing, if it has ended)


def _nothing() -> None:
    pass


def require_json(request: Request) -> None:
    """The protocol is JSON. Anything else is refused before it is read: a form or text/plain
    body is what a foreign page can make a browser send with the visitor's cookie, without
    asking first (no CORS preflight)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ClientError(415, "send the request as application/json, not "
                               f"{media_type or 'no content type'}")


async def _until_plugins_decided(chat: ChatRuntime, request: Any, ctx: RequestContext,
                                 events: SdkStream, deciding: PluginsDeciding) -> list[bytes]:
    """The stream's events up to the plugins' decision on the turn (or its end); raises what
    they refused, after taking back the refused message (and the conversation it opened).
    The first event runs the request's own checks inside the SDK."""
    ahead: list[bytes] = []
    async for chunk in events:
        if chunk == PLUGINS_DECIDED_CHUNK:
            break
        ahead.append(chunk)
    if deciding.refusal is None:
        return ahead
    # A refused turn's stream has ended, its last write (the thread) made: take it back now.
    if deciding.refused_message is not None:
        thread_id, item_id = deciding.refused_message
        if isinstance(request, ThreadsCreateReq):
            await chat.store.delete_thread(thread_id, ctx)
        else:
            await chat.store.delete_thread_item(thread_id, item_id, ctx)
    raise deciding.refusal


async def handle(chat: ChatRuntime, body: bytes, ctx: RequestContext) -> Response:
    """Answer one ChatKit request with JSON or an SSE stream; raises ClientError (a 4xx naming
    the problem) for what the request got wrong, or a plugin refused (a handoff over its
    limit: 429) before the agent's answer began."""
    release: Callable[[], None] = _nothing
    events: SdkStream | None = None
    deciding = PluginsDeciding()
    deciding_now = PLUGINS_DECIDING.set(deciding)
    try:
        request = REQUEST.validate_json(body)
        deciding.new_thread = isinstance(request, ThreadsCreateReq)
        thread_id = getattr(request.params, "thread_id", None)
        if is_streaming_req(request) and isinstance(thread_id, str):
            release = await chat.turns.acquire(thread_id)  # one turn at a time per thread
        with chat.first_events.awaiting_first_event():
            await _preflight(chat, request, ctx)
            if isinstance(request, ThreadsCreateReq):
                chat.new_threads.admit(session=ctx.user_id, address=ctx.client_address)
            result = await chat.server.process_request(request, ctx)
            if not isinstance(result, StreamingResult):
                release()
                return Response(result.json, media_type="application/json")
            events = SdkStream(aiter(result), chat.first_events)
            events.when_done(release)  # the turn ends with the SDK's stream
            # Until here, a failure still allows a proper status code.
            ahead = await _until_plugins_decided(chat, request, ctx, events, deciding)
    except Exception as exc:
        if events is not None:
            events.cancel()
        release()
        error = _client_error(exc)
        if error is None or error is exc:
            raise
        raise error from None
    finally:
        PLUGINS_DECIDING.reset(deciding_now)
    return StreamingResponse(
        _stream(ahead, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def chat_endpoint(services: Services, build_agent: AgentFactory, audience: ToolAudience,
                  workflow: str) -> ChatEndpoint:
    """`platform.chat_endpoint`: a ChatKit route handler with its own agent, its runtime built
    on the first request."""
    runtime: list[ChatRuntime] = []

    async def endpoint(request: Request, context: RequestContext) -> Response:
        if not runtime:
            runtime.append(build_chat(services, build_agent, audience, workflow))
        require_json(request)
        if context.client_address is None and request.client:  # a plugin's own context
            context = replace(context, client_address=request.client.host)
        return await handle(runtime[0], await request.body(), context)

    return endpoint
