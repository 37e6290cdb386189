"""The ChatKit protocol endpoint and the attachment upload/preview routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from deskpilot._errors import ClientError
from deskpilot.core.chat.endpoint import handle, require_json
from deskpilot.core.deps import ChatDep, ContextDep, IdentityDep, remember_session

router = APIRouter(tags=["chat"])
_ERRORS = {
    400: {"description": "malformed request, naming the problem"},
    401: {"description": "no valid user token, and anonymous chat is off"},
    403: {"description": "a cookie-authenticated change from an origin not allowed"},
    429: {"description": "too many new conversations or handoffs from this session or "
                          "address"},
    404: {"description": "no such thread, item or attachment for this user"},
}


@router.post(
    "/chatkit",
    responses={**_ERRORS, 415: {"description": "not application/json"},
               200: {"content": {"text/event-stream": {}, "application/json": {}}}},
    # The body is read raw and validated by the handler, so a bad one is a 400 naming the
    # problem rather than FastAPI's 422; the schema is documented here instead.
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string"}, "params": {"type": "object"},
            "metadata": {"type": "object"}}}}}}},
)
async def chatkit(
    request: Request, chat: ChatDep, identity: IdentityDep, context: ContextDep
) -> Response:
    """The ChatKit protocol: JSON for reads and updates, Server-Sent Events for new turns."""
    require_json(request)
    response = await handle(chat, await request.body(), context)
    return remember_session(response, request, identity)


async def _upload_chunks(request: Request) -> tuple[str | None, AsyncIterator[bytes]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ClientError(400, "multipart upload needs a `file` part")
        return upload.content_type, _file_chunks(upload)
    return content_type or None, request.stream()


async def _file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(64 * 1024):
        yield chunk


@router.post("/chatkit/attachments/{attachment_id}/upload", responses={
    **_ERRORS, 409: {"description": "already uploaded"}, 413: {"description": "too large"},
    415: {"description": "type not allowed"}})
async def upload_attachment(
    attachment_id: str, request: Request, chat: ChatDep, identity: IdentityDep,
    context: ContextDep,
) -> Response:
    """Phase two of an upload: the file's bytes, raw or as the `file` part of a form."""
    mime_type, chunks = await _upload_chunks(request)
    attachment = await chat.attachments.receive_upload(attachment_id, mime_type, chunks, context)
    payload = attachment.model_dump(mode="json", exclude_none=True,
                                    context={"exclude_metadata": True})
    return remember_session(JSONResponse(payload), request, identity)


@router.get("/chatkit/attachments/{attachment_id}/preview", responses=_ERRORS)
async def preview_attachment(attachment_id: str, chat: ChatDep, context: ContextDep) -> Response:
    """The uploaded file, to its owner only."""
    path, mime_type = await chat.attachments.preview(attachment_id, context)
    # An allowed type could still be active content: never let it run on this origin.
    return FileResponse(path, media_type=mime_type, headers={
        "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600"})
