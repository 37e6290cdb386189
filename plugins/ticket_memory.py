"""Labelled past tickets, embedded once per process and shared by triage and tagging.

A memory per connector (or for all connectors) follows the `ticket_record` table: it reloads
when the table's fingerprint changes, and embeds only texts it has not embedded before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

import deskpilot
from knowledge.tickets import TicketRecord, fingerprint, load_records

if TYPE_CHECKING:
    from core.services import Services


class CachedEmbedder(deskpilot.Embedder):
    """Wraps the platform embedder and remembers every text it embedded, so retraining after
    a sync embeds only the new or relabelled tickets."""

    name: ClassVar[str] = "cached"

    def __init__(self, inner: deskpilot.Embedder) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.matrix(texts).tolist()

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            vectors = np.asarray(self.inner.embed_documents(missing), dtype=np.float32)
            with self._lock:
                self._vectors.update(zip(missing, vectors, strict=True))
        with self._lock:
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return np.stack([self._vectors[t] for t in texts])

    def retain(self, texts: set[str]) -> None:
        """Forget vectors of texts no memory holds any more."""
        with self._lock:
            for text in set(self._vectors) - texts:
                del self._vectors[text]


@dataclass(frozen=True)
class Neighbour:
    record: TicketRecord
    similarity: float


@dataclass(frozen=True)
class TicketMemory:
    fingerprint: str
    records: list[TicketRecord]
    vectors: np.ndarray  # one unit-length row per record

    def neighbours(self, vector: np.ndarray, k: int, exclude: str | None = None
                   ) -> list[Neighbour]:
        """The `k` most similar past tickets (cosine), optionally not the ticket `exclude`."""
        if not self.records:
            return []
        similarities = self.vectors @ vector
        order = np.argsort(-similarities)
        found: list[Neighbour] = []
        for i in order:
            record = self.records[int(i)]
            if record.external_id == exclude:
                continue
            found.append(Neighbour(record, float(similarities[i])))
            if len(found) == k:
                break
        return found


class TicketMemories:
    """The memories of one running platform, keyed by connector name (None: all connectors)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.embedder = CachedEmbedder(services.embedder)
        self._memories: dict[str | None, TicketMemory] = {}
        self._lock = threading.Lock()

    def get(self, connector: str | None) -> TicketMemory:
        engine = self.services.engine
        current = fingerprint(engine, connector)
        memory = self._memories.get(connector)
        if memory is not None and memory.fingerprint == current:
            return memory
        with self._lock:  # one load at a time: embedding is the expensive part
            memory = self._memories.get(connector)
            if memory is None or memory.fingerprint != current:
                records = load_records(engine, connector)
                vectors = self.embedder.matrix([r.text for r in records])
                memory = TicketMemory(current, records, vectors)
                self._memories[connector] = memory
                self.embedder.retain({r.text for m in self._memories.values()
                                      for r in m.records})
            return memory


def ticket_memories(services: Services) -> TicketMemories:
    """One set of memories per running platform (Services), shared by every tool."""
    return services.shared(TicketMemories)
