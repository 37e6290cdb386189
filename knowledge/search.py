"""Query → passages: embed the question, hybrid-search the index, optionally one per document."""

from __future__ import annotations

from deskpilot._embedder import Embedder
from deskpilot.knowledge.interfaces import Passage, SearchFilter, VectorIndex

# With per_document, fetch this many times k so that k distinct documents usually survive.
_OVERFETCH = 4


class Searcher:
    def __init__(self, embedder: Embedder, index: VectorIndex) -> None:
        self.embedder = embedder
        self.index = index

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
        dense = self.embedder.embed_query(query)
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


def _best_per_document(hits: list[Passage]) -> list[Passage]:
    seen: set[tuple[str, str, str]] = set()
    best: list[Passage] = []
    for hit in hits:  # already best first
        key = (hit.source, str(hit.kind), hit.document_id)
        if key not in seen:
            seen.add(key)
            best.append(hit)
    return best
