"""Labelled past tickets, embedded once: what triage and tagging learn from
(`platform.past_tickets`).

A memory per connector (or for all connectors) follows the `ticket_record` table: it reloads
when the table's fingerprint changes, and embeds only texts it has not embedded before.

Past tickets' vectors are also stored in the `ticket_vector` table, keyed by the embedder's
identity and the text's sha256, so that after a restart they are read back instead of every
ticket being embedded again on the CPU. The table is only a cache: when it cannot be read or
written, a warning is logged and the texts are embedded as if it were empty.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from deskpilot._embedder import Embedder
from deskpilot._time import utcnow
from deskpilot.knowledge.store import dialect_insert
from deskpilot.knowledge.tickets import (
    TicketRecord,
    TicketVector,
    fingerprint,
    get_record,
    load_records,
    record_texts,
)

log = logging.getLogger(__name__)

# Hashes per statement: well below SQLite's (32766) and PostgreSQL's (65535) parameter limits.
_BATCH = 10_000
_FLOAT32 = np.dtype("<f4")  # the stored byte order, whatever the machine's


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _batches(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


class CachedEmbedder(Embedder):
    """Wraps the platform embedder and remembers every text it embedded, so retraining after
    a sync embeds only the new or relabelled tickets, and a restart embeds none of them."""

    name: ClassVar[str] = "cached"

    def __init__(self, inner: Embedder, engine: Engine) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.engine = engine
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def identity(self) -> str:
        # The stored vectors are the inner embedder's: another model never reuses them.
        return self.inner.identity

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        # Triage embeds through here: its training texts are in memory already (the memory
        # loaded them), the rest are new tickets, which the database would rarely hold.
        return self.matrix(texts, persist=False).tolist()

    def matrix(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """One row per text. `persist`: look the texts up in the database and store those
        embedded here, for past tickets' texts, which the next start needs again."""
        with self._lock:
            # Local: a concurrent `retain` may drop texts from the shared dict meanwhile.
            vectors = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in vectors]
        if missing and persist:
            vectors.update(self._load(missing))
            missing = [t for t in missing if t not in vectors]
        if missing:
            embedded = dict(zip(missing, np.asarray(self.inner.embed_documents(missing),
                                                    dtype=np.float32), strict=True))
            vectors.update(embedded)
            if persist:
                self._store(embedded)
        with self._lock:
            self._vectors.update(vectors)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([vectors[t] for t in texts])

    def _load(self, texts: list[str]) -> dict[str, np.ndarray]:
        by_hash = {_sha256(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        size = self.dimension * _FLOAT32.itemsize
        try:
            with self.engine.connect() as connection:
                for batch in _batches(list(by_hash)):
                    rows = connection.execute(
                        select(TicketVector.text_sha256, TicketVector.vector).where(
                            col(TicketVector.embedder) == self.identity,
                            col(TicketVector.text_sha256).in_(batch)))
                    for digest, blob in rows:
                        if len(blob) == size:  # anything else is not one of our vectors
                            found[by_hash[digest]] = np.frombuffer(blob, _FLOAT32).astype(
                                np.float32)
        except SQLAlchemyError as exc:
            log.warning("stored ticket vectors unreadable, embedding instead: %s", exc)
            return {}
        return found

    def _store(self, vectors: dict[str, np.ndarray]) -> None:
        now = utcnow()
        rows = [{"embedder": self.identity, "text_sha256": _sha256(text),
                 "vector": vector.astype(_FLOAT32).tobytes(), "created_at": now}
                for text, vector in vectors.items()]
        insert = dialect_insert(self.engine)
        try:
            with self.engine.begin() as connection:
                # Another process may have stored the same text meanwhile: its vector is as good.
                connection.execute(insert(TicketVector).on_conflict_do_nothing(), rows)
        except SQLAlchemyError as exc:
            log.warning("could not store ticket vectors (next start embeds them again): %s", exc)

    def retain(self, texts: set[str]) -> None:
        """Forget the vectors of texts not in `texts`: in memory, and this embedder's stored
        ones, so the table does not keep texts no ticket has any more."""
        with self._lock:
            for text in set(self._vectors) - texts:
                del self._vectors[text]
        keep = {_sha256(t) for t in texts}
        try:
            with self.engine.begin() as connection:
                stored = connection.scalars(select(TicketVector.text_sha256).where(
                    col(TicketVector.embedder) == self.identity)).all()
                for batch in _batches([digest for digest in stored if digest not in keep]):
                    connection.execute(delete(TicketVector).where(
                        col(TicketVector.embedder) == self.identity,
                        col(TicketVector.text_sha256).in_(batch)))
        except SQLAlchemyError as exc:
            log.warning("could not prune stored ticket vectors: %s", exc)


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

    def __init__(self, embedder: Embedder, engine: Engine) -> None:
        self.engine = engine
        self.embedder = CachedEmbedder(embedder, engine)
        self._memories: dict[str | None, TicketMemory] = {}
        self._lock = threading.Lock()

    def record(self, connector: str, ticket_id: str) -> TicketRecord | None:
        """The ticket as last synced."""
        return get_record(self.engine, connector, ticket_id)

    def fingerprint(self, connector: str | None) -> str:
        return fingerprint(self.engine, connector)

    def get(self, connector: str | None) -> TicketMemory:
        engine = self.engine
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
                # Every connector's texts, not only those of the memories loaded here: after a
                # restart, another connector's memory (or another process's) reads them back.
                self.embedder.retain({r.text for m in self._memories.values()
                                      for r in m.records} | record_texts(engine))
            return memory
