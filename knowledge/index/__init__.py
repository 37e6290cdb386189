"""The vector index: embedded Qdrant Edge by default, a Qdrant server through qdrant-client."""

from __future__ import annotations

from pathlib import Path

from deskpilot.knowledge.index.client import QdrantClientIndex
from deskpilot.knowledge.index.edge import EdgeIndex
from deskpilot.knowledge.index.errors import IndexLocked, IndexMismatch
from deskpilot.knowledge.index.fusion import FusionConfig
from deskpilot.knowledge.interfaces import VectorIndex
from deskpilot.knowledge.settings import IndexSettings

__all__ = [
    "EdgeIndex",
    "FusionConfig",
    "IndexLocked",
    "IndexMismatch",
    "IndexSettings",
    "QdrantClientIndex",
    "open_index",
]


def open_index(
    settings: IndexSettings, data_dir: Path, dimension: int, fusion: FusionConfig | None = None
) -> VectorIndex:
    """Open (creating if needed) the configured index. Raises IndexLocked if another process
    owns the embedded index, IndexMismatch if it holds vectors of another dimension."""
    if settings.backend == "embedded":
        return EdgeIndex(Path(data_dir) / "index", dimension, fusion)
    if not settings.url:
        raise ValueError(
            "index.url is required for backend = 'qdrant' (a server URL, a path or ':memory:')"
        )
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return QdrantClientIndex(settings.url, dimension, settings.collection, api_key, fusion)
