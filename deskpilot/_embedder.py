"""The embedder contract: text in, unit-length dense vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field, SecretStr

from deskpilot._options import Options


class EmbedderSettings(Options):
    """`[embedder]`: which registered embedder, and its model and connection."""

    name: str = "local"
    model: str | None = None
    batch_size: int = Field(64, ge=1)
    api_key: SecretStr | None = None
    base_url: str | None = None


class Embedder(ABC):
    #: The `[embedder] name` users write.
    name: ClassVar[str]

    def __init__(self, settings: EmbedderSettings) -> None:
        self.settings = settings

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    def identity(self) -> str:
        """Which embedder made a vector ("name:model:dimension"): what stored vectors, indexed
        documents and trained models record, so another model's are never reused."""
        return f"{self.settings.name}:{self.settings.model or ''}:{self.dimension}"

    @abstractmethod
    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages, batched by the implementation."""

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
