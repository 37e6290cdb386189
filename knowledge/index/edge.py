"""The embedded default: a Qdrant Edge shard inside this process, persisted at a path.

A shard has one owner: a second open of the same path (any process) raises IndexLocked.
Every Edge call holds the GIL, so callers keep bulk writes off the serving event loop.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

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
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryBatchRequest,
    QueryRequest,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)

from deskpilot._documents import DocumentKind
from deskpilot.knowledge.index.calibration import SAMPLE_POINTS, Calibration, calibrate
from deskpilot.knowledge.index.errors import IndexLocked, IndexMismatch
from deskpilot.knowledge.index.fusion import FusionConfig, fuse_convex, plan_search
from deskpilot.knowledge.index.payload import (
    AS_CONVERSATION,
    AS_NOTE,
    DENSE,
    INTERNAL_TICKETS,
    KEYWORD_FIELDS,
    PUBLIC_TICKETS,
    SPARSE,
    calibration_sample,
    chunk_payload,
    document_terms,
    excluded_origins,
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


def _filter(terms: list[tuple[str, str]], exclude_origins: list[str] | None = None
            ) -> Filter | None:
    if not terms and not exclude_origins:
        return None
    return Filter(
        must=[FieldCondition(key=k, match=MatchValue(v)) for k, v in terms] or None,
        must_not=[FieldCondition(key="origins", match=MatchAny(exclude_origins))]
        if exclude_origins else None)


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
        self._points = self._point_tally()
        self._closed = False
        # Beside the shard's folder, not in it: the shard owns its files.
        self._calibration_path = self.path.with_name(f"{self.path.name}.calibration.json")
        self.calibration = self._load_calibration()
        if self.calibration is None and self._points:  # an index built before calibration
            self.calibrate()

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
        self._points = self._point_tally()

    def delete_document(self, source: str, kind: DocumentKind, document_id: str) -> None:
        selector = _filter(document_terms(source, kind, document_id))
        self._shard.update(UpdateOperation.delete_points_by_filter(selector))
        self._points = self._point_tally()

    def search(
        self, dense: list[float], text: str, limit: int, filter: SearchFilter | None = None
    ) -> list[Passage]:
        where = _filter(filter_terms(filter), excluded_origins(filter))
        exact = self._points < EXACT_BELOW if self.exact is None else self.exact
        params = SearchParams(exact=True) if exact else SearchParams(hnsw_ef=HNSW_EF)
        sparse = sparse_query(text)
        plan = plan_search(self.fusion, limit, bool(sparse.indices), self.calibration)
        dense_query = Query.Nearest(list(dense), using=DENSE)
        sparse_q = Query.Nearest(sparse, using=SPARSE)
        if plan.method == "convex":
            # Two filtered queries, fused in Python: the filter holds for both lists.
            # Both lists in one planned batch, ids and scores only: payloads are read for the
            # `limit` winners alone (fetching them for every candidate doubled p95 at 100k).
            n = plan.candidates
            lists = [
                [(str(hit.id), hit.score, {}) for hit in hits]
                for hits in self._shard.query_batch(QueryBatchRequest(queries=[
                    QueryRequest(limit=n, query=dense_query, filter=where, params=params),
                    QueryRequest(limit=n, query=sparse_q, filter=where),
                ]))
            ]
            fused = fuse_convex(lists[0], lists[1], plan.lexical_weight, limit)
            records = self._shard.retrieve([uuid.UUID(key) for key, _, _ in fused], True, False)
            payloads = {str(record.id): record.payload or {} for record in records}
            return [to_passage(score, payloads[key]) for key, score, _ in fused]
        if plan.method == "dense":
            request = QueryRequest(limit=limit, query=dense_query, filter=where, params=params,
                                   with_payload=True)
        elif plan.method == "sparse":
            request = QueryRequest(limit=limit, query=sparse_q, filter=where, with_payload=True)
        else:
            # The filter is set on each prefetch too: audience must hold at every stage.
            fusion, n = self.fusion, plan.candidates
            prefetches = [
                Prefetch(n, query=dense_query, params=params, filter=where),
                Prefetch(n, query=sparse_q, filter=where),
            ]
            fuse = (
                Fusion.Rrf(k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight])
                if plan.method == "rrf" else Fusion.Dbsf()
            )
            request = QueryRequest(limit=limit, prefetches=prefetches, query=fuse, filter=where,
                                   with_payload=True)
        return [to_passage(hit.score, hit.payload or {}) for hit in self._shard.query(request)]

    def calibrate(self) -> Calibration:
        """Compute this knowledge base's lexical weight from its stored vectors and keep it."""
        def scroll(terms: list[tuple[str, str]], offset: Any, limit: int) -> tuple[list, Any]:
            records, offset = self._shard.scroll(ScrollRequest(
                offset=offset, limit=limit, filter=_filter(terms), with_payload=True,
                with_vector=[DENSE]))
            return [(record.vector[DENSE], record.payload or {}) for record in records], offset

        vectors, documents = calibration_sample(scroll, SAMPLE_POINTS)
        self.calibration = calibrate(vectors, documents)
        self._calibration_path.write_text(json.dumps(self.calibration.to_json()),
                                          encoding="utf-8")
        return self.calibration

    def _load_calibration(self) -> Calibration | None:
        try:
            return Calibration.from_json(json.loads(self._calibration_path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable
            return None

    def _point_tally(self) -> int:
        """How many points the shard holds, from its segments' bookkeeping: microseconds, where
        an exact count visits every point (34 ms at 100k, holding the GIL) on every write."""
        return self._shard.info().points_count

    def count(self, filter: SearchFilter | None = None) -> int:
        return self._shard.count(CountRequest(exact=True, filter=_filter(filter_terms(filter),
                                                                      excluded_origins(filter))))

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
