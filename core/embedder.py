"""The embedder contract: text in, unit-length dense vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from deskpilot.core.config import EmbedderSettings


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
