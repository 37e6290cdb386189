"""Index errors a user can cause and fix."""

from __future__ import annotations


class IndexLocked(RuntimeError):
    """The index is held by another process (an embedded shard has a single owner)."""


class IndexMismatch(ValueError):
    """The index on disk was built with other vectors, e.g. by a different embedder."""
