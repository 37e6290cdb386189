"""The vector index: embedded Qdrant Edge by default, a Qdrant server through qdrant-client."""

from __future__ import annotations

import logging
from pathlib import Path

from deskpilot.knowledge.index.client import QdrantClientIndex
from deskpilot.knowledge.index.edge import EdgeIndex
from deskpilot.knowledge.index.errors import IndexLocked, IndexMismatch
from deskpilot.knowledge.index.fusion import METHODS, FusionConfig
from deskpilot.knowledge.interfaces import VectorIndex
from deskpilot.knowledge.settings import IndexSettings

__all__ = [
    "EdgeIndex",
    "FusionConfig",
    "IndexLocked",
    "IndexMismatch",
    "IndexSettings",
    "METHODS",
    "QdrantClientIndex",
    "open_index",
]

log = logging.getLogger(__name__)


def open_index(
    settings: IndexSettings, data_dir: Path, dimension: int, fusion: FusionConfig | None = None
) -> VectorIndex:
    """Open (creating if needed) the configured index, upgraded to the current labels. Raises
    IndexLocked if another process owns the embedded index, IndexMismatch if it holds vectors
    of another dimension."""
    index: VectorIndex
    if settings.backend == "embedded":
        index = EdgeIndex(Path(data_dir) / "index", dimension, fusion)
    else:
        if not settings.url:
            raise ValueError(
                "index.url is required for backend = 'qdrant' (a server URL, a path or ':memory:')"
            )
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        index = QdrantClientIndex(settings.url, dimension, settings.collection, api_key, fusion)
    # Tickets are staff knowledge: an index from before that rule is relabelled on first open
    # (cheap afterwards: one count), rather than waiting for every ticket to sync again.
    relabelled = index.relabel_public_tickets()
    if relabelled:
        log.warning("index upgrade: %d passages of solved tickets were public; they are "
                    "internal now (customers see tickets only as approved answer snippets)",
                    relabelled)
    return index
