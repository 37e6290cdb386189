"""Attachments with two-phase upload to local disk.

1. `attachments.create` checks the declared size and MIME type against `ChatSettings` and
   returns an attachment whose upload descriptor points at
   `POST /chatkit/attachments/{id}/upload`; the declared size is kept in its metadata
   (ChatKit's attachment has no size field).
2. That route streams the bytes (raw body, or the `file` part of a multipart form) to
   `<data_dir>/attachments/<id>`: they must be as many as declared, and of the declared type
   (sniffed), and the descriptor is cleared.
Only the owner may upload, preview or delete an attachment.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import filetype
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)

from deskpilot._chat import RequestContext
from deskpilot._errors import ClientError
from deskpilot.core.chat.store import ChatStore, new_id
from deskpilot.core.config import ChatSettings
from deskpilot.core.private_files import private_dir

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The attachment's metadata key for the size `attachments.create` declared.
DECLARED_SIZE = "declared_size"


# Enough of a file's first bytes for `filetype` to recognise any type it knows.
_SNIFF_BYTES = 262


def sniff_matches(media_type: str, head: bytes) -> bool:
    """Whether the first bytes are of `media_type`, for the types `filetype` can recognise
    (images, PDF: what a browser would render): an HTML page posing as image/png must not be
    stored and served. A type it cannot recognise (text/plain) is taken as declared."""
    matcher = filetype.get_type(mime=media_type)
    return matcher is None or bool(matcher.match(head))


def _media_type(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


class LocalAttachmentStore(AttachmentStore[RequestContext]):
    def __init__(self, store: ChatStore, settings: ChatSettings, data_dir: Path) -> None:
        self.store = store
        self.settings = settings
        self.directory = data_dir / "attachments"

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")

    def path(self, attachment_id: str) -> Path:
        if not _SAFE_ID.match(attachment_id):  # never let an id walk out of the directory
            raise ClientError(404, "attachment not found")
        return self.directory / attachment_id

    def check_type(self, mime_type: str) -> str:
        media_type = _media_type(mime_type)
        allowed = [_media_type(t) for t in self.settings.allowed_attachment_types]
        if media_type not in allowed:
            raise ClientError(
                415,
                f"attachments of type {media_type or '(none)'} are not accepted; "
                f"allowed: {', '.join(allowed) or 'none'}",
            )
        return media_type

    def check_size(self, size: int) -> None:
        limit = self.settings.max_attachment_bytes
        if size > limit:
            raise ClientError(
                413, f"attachment is {size} bytes, more than the limit of {limit} bytes"
            )

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        media_type = self.check_type(input.mime_type)
        if input.size < 0:
            raise ClientError(400, "attachment size must not be negative")
        self.check_size(input.size)
        attachment_id = self.generate_attachment_id(media_type, context)
        base = f"{context.base_url.rstrip('/')}/chatkit/attachments/{attachment_id}"
        fields = {
            "id": attachment_id,
            "name": input.name[:255],
            "mime_type": media_type,
            "upload_descriptor": AttachmentUploadDescriptor(url=f"{base}/upload", method="POST"),
            # What the bytes must come to: checked while they stream in.
            "metadata": {DECLARED_SIZE: input.size},
        }
        if media_type.startswith("image/"):
            return ImageAttachment(**fields, preview_url=f"{base}/preview")
        return FileAttachment(**fields)

    async def _owned(self, attachment_id: str, context: RequestContext) -> Attachment:
        try:
            return await self.store.load_attachment(attachment_id, context)
        except NotFoundError:
            raise ClientError(404, "attachment not found") from None

    async def receive_upload(
        self,
        attachment_id: str,
        mime_type: str | None,
        chunks: AsyncIterator[bytes],
        context: RequestContext,
    ) -> Attachment:
        """Store the uploaded bytes of the user's own attachment, within the limits."""
        attachment = await self._owned(attachment_id, context)
        if attachment.upload_descriptor is None:
            raise ClientError(409, "this attachment has already been uploaded")
        if mime_type and self.check_type(mime_type) != attachment.mime_type:
            raise ClientError(
                415, f"uploaded {_media_type(mime_type)}, but the attachment was created as "
                f"{attachment.mime_type}",
            )
        # Attachments created before the size was kept have only the limit to meet.
        declared = (attachment.metadata or {}).get(DECLARED_SIZE)
        target = self.path(attachment.id)
        private_dir(self.directory)
        partial = target.with_suffix(".part")
        size = 0
        try:
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                           "wb") as handle:
                head = b""
                async for chunk in chunks:
                    size += len(chunk)
                    self.check_size(size)
                    if declared is not None and size > declared:
                        raise ClientError(413, f"more bytes than the {declared} bytes the "
                                               "attachment was created with")
                    if len(head) < _SNIFF_BYTES:
                        head += chunk[:_SNIFF_BYTES - len(head)]
                    handle.write(chunk)
            if declared is not None and size != declared:
                raise ClientError(400, f"uploaded {size} bytes, but the attachment was "
                                       f"created with {declared} bytes")
            if not sniff_matches(attachment.mime_type, head):
                raise ClientError(415, f"the uploaded bytes are not {attachment.mime_type}, "
                                       "the type the attachment was created as")
            os.replace(partial, target)  # a reader never sees half a file
        finally:
            partial.unlink(missing_ok=True)
        uploaded = attachment.model_copy(update={"upload_descriptor": None})
        await self.store.save_attachment(uploaded, context)
        return uploaded

    async def preview(self, attachment_id: str, context: RequestContext) -> tuple[Path, str]:
        """The stored file and its MIME type, for the owner only."""
        attachment = await self._owned(attachment_id, context)
        path = self.path(attachment.id)
        if attachment.upload_descriptor is not None or not path.is_file():
            raise ClientError(404, "attachment has not been uploaded yet")
        return path, attachment.mime_type

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # Ownership first: load_attachment raises NotFoundError for someone else's attachment.
        attachment = await self.store.load_attachment(attachment_id, context)
        self.discard_files([attachment.id])

    def discard_files(self, attachment_ids: list[str]) -> None:
        for attachment_id in attachment_ids:
            with contextlib.suppress(ClientError):
                self.path(attachment_id).unlink(missing_ok=True)
