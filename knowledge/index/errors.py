"""Index errors a user can cause and fix."""

from __future__ import annotations

from deskpilot._errors import ClientError


class IndexLocked(ClientError):
    """The index is held by another process (an embedded shard has a single owner): 503."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


class IndexMismatch(ValueError):
    """The index on disk was built with other vectors, e.g. by a different embedder."""
