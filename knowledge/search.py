"""Query → passages: embed the question, hybrid-search the index, optionally one per document."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from deskpilot._embedder import Embedder
from deskpilot.knowledge.index.fusion import plan_search
from deskpilot.knowledge.interfaces import Passage, SearchFilter, VectorIndex

# With per_document, fetch this many times k so that k distinct documents usually survive.
_OVERFETCH = 4


def embed_queries(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """Query vectors for many texts in one call, unless the embedder treats queries
    differently from documents (a prefix, another model): then one at a time."""
    if type(embedder).embed_query is Embedder.embed_query:
        return embedder.embed_documents(texts)
    return [embedder.embed_query(text) for text in texts]


@dataclass(eq=False)
class _Pending:
    text: str
    ready: threading.Event = field(default_factory=threading.Event)
    vector: list[float] | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Embeds the queries of concurrent searches together, one batch at a time.

    Encoding one short query costs MiniLM ~10 ms on two cores, nearly all of it per call: 100
    queries one by one are a second, in one batch ~0.3 s. So while a batch is being encoded,
    the threads that ask meanwhile wait, and the next batch takes all of them; a lone query
    goes straight through. No timer: batching costs an idle server nothing."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._busy = False  # a batch is being encoded

    def embed(self, text: str) -> list[float]:
        mine = _Pending(text)
        with self._lock:
            self._waiting.append(mine)
            leads = not self._busy
            self._busy = True
        if not leads:
            mine.ready.wait()
        if mine.vector is None and mine.error is None:  # woken to lead the next batch
            self._encode_batch()
        if mine.error is not None:
            raise mine.error
        assert mine.vector is not None
        return mine.vector

    def _encode_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            vectors = embed_queries(self.embedder, [p.text for p in batch])
            if len(vectors) != len(batch):
                raise ValueError(f"embedder returned {len(vectors)} vectors for {len(batch)}")
            for pending, vector in zip(batch, vectors, strict=True):
                pending.vector = vector
        except BaseException as exc:
            for pending in batch:
                pending.error = exc
        with self._lock:
            if self._waiting:  # arrived meanwhile: the first of them leads the next batch
                self._waiting[0].ready.set()
            else:
                self._busy = False
        for pending in batch:
            pending.ready.set()


class Searcher:
    """Thread-safe: concurrent searches share query embedding batches (QueryBatcher)."""

    def __init__(self, embedder: Embedder, index: VectorIndex) -> None:
        self.embedder = embedder
        self.index = index
        self.queries = QueryBatcher(embedder)

    def search(
        self,
        query: str,
        k: int = 5,
        filter: SearchFilter | None = None,
        per_document: bool = False,
    ) -> list[Passage]:
        """Best `k` passages; with `per_document`, only each document's best passage."""
        if not query.strip() or k <= 0:
            return []
        dense = self.queries.embed(query)
        if not per_document:
            return self.index.search(dense, query, k, filter)
        limit = k * _OVERFETCH
        while True:
            hits = self.index.search(dense, query, limit, filter)
            best = _best_per_document(hits)
            # Fewer hits than asked means the index has no more: stop widening.
            if len(best) >= k or len(hits) < limit:
                return best[:k]
            limit *= _OVERFETCH


    def lexical_weight(self) -> float:
        """λ in the fused scores this searcher returns (score = cosine + λ · BM25 share, the
        share at most 1): the knowledge base's calibrated weight unless the fusion fixes one."""
        return plan_search(self.index.fusion, 1, True, self.index.calibration).lexical_weight


def _best_per_document(hits: list[Passage]) -> list[Passage]:
    """Each document's best passage, best first. When that is the document's opening (the
    lead: its title and first words, which a question matches by the title), its next best
    passage follows it: the lead only begins the article ("… in the following cases:")."""
    best: dict[tuple[str, str, str], Passage] = {}
    nearest: dict[tuple[str, str, str], Passage] = {}
    for hit in hits:  # already best first
        key = (hit.source, str(hit.kind), hit.document_id)
        if key not in best:
            best[key] = hit
        elif key not in nearest:
            nearest[key] = hit
    found = []
    for key, hit in best.items():
        other = nearest.get(key)
        if hit.position == 0 and other is not None:
            hit = replace(hit, text=_continued(hit.text, other.text))
        found.append(hit)
    return found


def _continued(lead: str, other: str) -> str:
    """The lead's lines, then the other passage's that the lead does not hold already (its
    title line, the opening words it repeats); a last lead line cut short gives way to the
    whole line."""
    lines = lead.splitlines()
    rest = other.splitlines()[1:]  # the title, which the lead starts with too
    if lines and any(line != lines[-1] and line.startswith(lines[-1]) for line in rest):
        lines.pop()
    held = set(lines)
    return "\n".join([*lines, *(line for line in rest if line not in held)])
