"""The engine's settings: `[index]`, which vector index and where."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from deskpilot._options import Options


class IndexSettings(Options):
    backend: Literal["embedded", "qdrant"] = "embedded"
    # Only for backend = "qdrant": a server URL, or ":memory:"/a path for qdrant-client local mode.
    url: str | None = None
    api_key: SecretStr | None = None
    collection: str = "deskpilot"
