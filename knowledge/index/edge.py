"""The embedded default: a Qdrant Edge shard inside this process, persisted at a path.

A shard has one owner: a second open of the same path (any process) raises IndexLocked.
Every Edge call holds the GIL, so callers keep bulk writes off the serving event loop.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    HnswIndexConfig,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryBatchRequest,
    QueryRequest,
    SearchParams,
    UpdateOperation,
)

from deskpilot._documents import DocumentKind
from deskpilot.knowledge.index.errors import IndexLocked, IndexMismatch
from deskpilot.knowledge.index.fusion import FusionConfig, fuse_convex
from deskpilot.knowledge.index.payload import (
    AS_CONVERSATION,
    AS_NOTE,
    DENSE,
    INTERNAL_TICKETS,
    KEYWORD_FIELDS,
    PUBLIC_TICKETS,
    SPARSE,
    chunk_payload,
    document_terms,
    filter_terms,
    sparse_document,
    sparse_query,
    to_passage,
)
from deskpilot.knowledge.interfaces import Chunk, Passage, SearchFilter

# Below this many points brute force is fast (~2 ms) and exact; above it an optimized shard's
# HNSW graph is used. At 100k points ef=256 cost ~2x the latency of ef=64;
# bench/retrieval_latency.py reports the dense recall ef buys against exact search.
EXACT_BELOW = 20_000
HNSW_EF = 128
# The graph `optimize` builds: denser than Qdrant's default (m=16, ef_construct=100). On 36k
# real support texts (bench/hnsw_recall.py) filtered dense recall@10 against exact search at
# HNSW_EF rose from 0.89 to 0.95, for ~0.25 ms more per query and twice the optimize time.
# (full_scan_threshold is Qdrant's default, in KB of vectors.)
HNSW_GRAPH = HnswIndexConfig(m=32, ef_construct=200, full_scan_threshold=10_000)
# Upserts go to the shard in slices so one call never holds the GIL for long.
UPSERT_BATCH = 256


def _filter(terms: list[tuple[str, str]]) -> Filter | None:
    if not terms:
        return None
    return Filter(must=[FieldCondition(key=k, match=MatchValue(v)) for k, v in terms])


class EdgeIndex:
    def __init__(self, path: Path, dimension: int, fusion: FusionConfig | None = None) -> None:
        self.path = Path(path)
        self.dimension = dimension
        self.fusion = fusion or FusionConfig()
        # None: exact search below EXACT_BELOW points, HNSW above; True/False forces it.
        self.exact: bool | None = None
        config = EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=dimension, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            hnsw_config=HNSW_GRAPH,
        )
        exists = self.path.is_dir() and any(self.path.iterdir())
        try:
            if exists:
                self._shard = EdgeShard.load(str(self.path), config)
            else:
                self._shard = EdgeShard.create(str(self.path), config)
        except Exception as exc:  # qdrant-edge raises plain Exception with a message
            message = str(exc)
            if "WouldBlock" in message:
                raise IndexLocked(
                    f"the index at {self.path} is open in another process (an embedded index "
                    "has one owner: stop that process, or use the running server)"
                ) from None
            if exists:
                raise IndexMismatch(
                    f"the index at {self.path} does not match {dimension}-d dense + sparse "
                    f"vectors (built by another embedder?): {message}"
                ) from None
            raise
        for field in KEYWORD_FIELDS:  # idempotent; also upgrades shards made without them
            self._shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
        self._points = self.count()
        self._closed = False

    def upsert(self, chunks: list[Chunk], dense: list[list[float]]) -> None:
        if len(chunks) != len(dense):
            raise ValueError(f"{len(chunks)} chunks but {len(dense)} vectors")
        points = [
            Point(
                uuid.UUID(chunk.point_id),
                {DENSE: list(vector), SPARSE: sparse_document(chunk.text)},
                chunk_payload(chunk),
            )
            for chunk, vector in zip(chunks, dense, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._shard.update(UpdateOperation.upsert_points(points[start : start + UPSERT_BATCH]))
        self._points = self.count()

    def delete_document(self, source: str, kind: DocumentKind, document_id: str) -> None:
        selector = _filter(document_terms(source, kind, document_id))
        self._shard.update(UpdateOperation.delete_points_by_filter(selector))
        self._points = self.count()

    def search(
        self, dense: list[float], text: str, limit: int, filter: SearchFilter | None = None
    ) -> list[Passage]:
        where = _filter(filter_terms(filter))
        exact = self._points < EXACT_BELOW if self.exact is None else self.exact
        params = SearchParams(exact=True) if exact else SearchParams(hnsw_ef=HNSW_EF)
        fusion = self.fusion
        sparse = sparse_query(text)
        dense_query = Query.Nearest(list(dense), using=DENSE)
        sparse_q = Query.Nearest(sparse, using=SPARSE)
        method = fusion.method
        if method in ("rrf", "dbsf") and not sparse.indices:
            method = "dense"  # only stopwords: nothing to match lexically
        if method == "convex":
            # Two filtered queries, fused in Python: the filter holds for both lists.
            # Both lists in one planned batch, ids and scores only: payloads are read for the
            # `limit` winners alone (fetching them for every candidate doubled p95 at 100k).
            n = fusion.prefetch_limit(limit)
            requests = [QueryRequest(limit=n, query=dense_query, filter=where, params=params)]
            if sparse.indices:
                requests.append(QueryRequest(limit=n, query=sparse_q, filter=where))
            lists = [
                [(str(hit.id), hit.score, {}) for hit in hits]
                for hits in self._shard.query_batch(QueryBatchRequest(queries=requests))
            ]
            fused = fuse_convex(lists[0], lists[1] if sparse.indices else [],
                                fusion.lexical_weight, limit)
            records = self._shard.retrieve([uuid.UUID(key) for key, _, _ in fused], True, False)
            payloads = {str(record.id): record.payload or {} for record in records}
            return [to_passage(score, payloads[key]) for key, score, _ in fused]
        if method == "dense":
            request = QueryRequest(limit=limit, query=dense_query, filter=where, params=params,
                                   with_payload=True)
        elif method == "sparse":
            request = QueryRequest(limit=limit, query=sparse_q, filter=where, with_payload=True)
        else:
            # The filter is set on each prefetch too: audience must hold at every stage.
            n = fusion.prefetch_limit(limit)
            prefetches = [
                Prefetch(n, query=dense_query, params=params, filter=where),
                Prefetch(n, query=sparse_q, filter=where),
            ]
            fuse = (
                Fusion.Rrf(k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight])
                if method == "rrf" else Fusion.Dbsf()
            )
            request = QueryRequest(limit=limit, prefetches=prefetches, query=fuse, filter=where,
                                   with_payload=True)
        return [to_passage(hit.score, hit.payload or {}) for hit in self._shard.query(request)]

    def count(self, filter: SearchFilter | None = None) -> int:
        return self._shard.count(CountRequest(exact=True, filter=_filter(filter_terms(filter))))

    def relabel_public_tickets(self) -> int:
        public = self._shard.count(CountRequest(exact=True, filter=_filter(PUBLIC_TICKETS)))
        if public:
            for terms, payload in ((INTERNAL_TICKETS, AS_NOTE), (PUBLIC_TICKETS, AS_CONVERSATION)):
                self._shard.update(UpdateOperation.set_payload_by_filter(_filter(terms), payload))
        return public

    def ping(self) -> None:
        self.count()

    def flush(self) -> None:
        self._shard.flush()

    def optimize(self) -> None:
        """Build HNSW graphs and merge segments: slow and GIL-holding, run it off the loop."""
        self._shard.optimize()

    def close(self) -> None:
        if self._closed:  # idempotent: an app's shutdown and its owner may both close
            return
        self._closed = True
        self._shard.flush()
        self._shard.close()
