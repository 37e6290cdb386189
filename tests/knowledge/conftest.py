"""Sync fixtures: a real embedded index, and a small deterministic embedder that counts calls."""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import deskpilot
from deskpilot.core.config import ConnectorSettings, EmbedderSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services


class CountingEmbedder(deskpilot.Embedder):
    """Hashed bag of words: deterministic, unit length, fast. Counts every text it embeds, and
    refuses texts containing EXPLODE (to make one document fail)."""

    name: ClassVar[str] = "counting"
    embedded: ClassVar[list[str]] = []

    @property
    def dimension(self) -> int:
        return 32

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if any("EXPLODE" in t for t in texts):
            raise RuntimeError("embedder refused the text")
        type(self).embedded.extend(texts)
        vectors = []
        for text in texts:
            vector = [0.0] * 32
            for word in text.lower().split():
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 32] += 1.0
            norm = math.sqrt(sum(x * x for x in vector)) or 1.0
            vectors.append([x / norm for x in vector])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class _TestPlugin:
    @deskpilot.hookimpl
    def register_embedders(self, register: Callable[[type[Any]], None]) -> None:
        register(CountingEmbedder)


@pytest.fixture
def make_services(tmp_path: Path) -> Iterator[Callable[..., Services]]:
    """Services over a temp data dir, the counting embedder and `connectors` (name → options)."""
    made: list[Services] = []
    CountingEmbedder.embedded = []

    def make(connectors: dict[str, dict[str, Any]], database_url: str | None = None,
             extra_plugins: tuple[tuple[str, object], ...] = ()) -> Services:
        settings = Settings(
            data_dir=tmp_path / "data",
            embedder=EmbedderSettings(name="counting"),
            connectors={n: ConnectorSettings(**o) for n, o in connectors.items()},
            database={"url": database_url},
            # The sync engine on its own: the snippets plugin embeds solved tickets' questions
            # too, which would blur what these tests count (tests/plugins/snippets has it).
            plugins={"deny": ["snippets"]},
        )
        plugins = load_plugins(settings.plugins, extra=[("test-embedder", _TestPlugin()),
                                                        *extra_plugins])
        services = Services(settings, plugins=plugins)
        services.migrate()
        made.append(services)
        return services

    yield make
    for services in made:
        # An app's lifespan may have closed them already, and EdgeIndex.close is not idempotent.
        with contextlib.suppress(Exception):
            services.close()
