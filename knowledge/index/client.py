"""A Qdrant server or cluster through qdrant-client; also its local mode (a path or ":memory:").

Same payload, vector names, lexical encoder and fusion as the embedded index, so switching
backends does not change the ranking.
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any

from qdrant_client import QdrantClient, models

from deskpilot._documents import DocumentKind
from deskpilot.knowledge.index.calibration import SAMPLE_POINTS, Calibration, calibrate
from deskpilot.knowledge.index.errors import IndexLocked, IndexMismatch
from deskpilot.knowledge.index.fusion import Candidate, FusionConfig, fuse_convex, plan_search
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

UPSERT_BATCH = 256
# Where the collection keeps its calibration (Qdrant's collection metadata).
CALIBRATION_KEY = "deskpilot_calibration"


def _filter(terms: list[tuple[str, str]], exclude_origins: list[str] | None = None
            ) -> models.Filter | None:
    if not terms and not exclude_origins:
        return None
    return models.Filter(
        must=[models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in terms]
        or None,
        must_not=[models.FieldCondition(key="origins", match=models.MatchAny(any=exclude_origins))]
        if exclude_origins else None,
    )


def _sparse(vector: Any) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _connect(url: str, api_key: str | None) -> QdrantClient:
    if url.startswith(("http://", "https://")):
        return QdrantClient(url=url, api_key=api_key, timeout=30)
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    try:
        return QdrantClient(path=url)
    except RuntimeError as exc:  # local mode locks its folder with portalocker
        if "already accessed" in str(exc):
            raise IndexLocked(f"the index at {url} is open in another process") from None
        raise


class QdrantClientIndex:
    def __init__(
        self,
        url: str,
        dimension: int,
        collection: str = "deskpilot",
        api_key: str | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        self.collection = collection
        self.dimension = dimension
        self.fusion = fusion or FusionConfig()
        self._client = _connect(url, api_key)
        self._local = not url.startswith(("http://", "https://"))
        if self._client.collection_exists(collection):
            self._check(url)
        else:
            self._create()
        self.calibration = self._load_calibration()
        if self.calibration is None and self.count():  # a collection built before calibration
            self.calibrate()

    def _create(self) -> None:
        self._client.create_collection(
            self.collection,
            vectors_config={
                DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # local mode warns that payload indexes do nothing
            warnings.simplefilter("ignore")
            for field in KEYWORD_FIELDS:
                self._client.create_payload_index(
                    self.collection, field, models.PayloadSchemaType.KEYWORD
                )

    def _check(self, url: str) -> None:
        vectors = self._client.get_collection(self.collection).config.params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if dense is None or dense.size != self.dimension:
            raise IndexMismatch(
                f"collection {self.collection!r} at {url} does not have {self.dimension}-d "
                "'dense' vectors (built by another embedder?)"
            )

    def upsert(self, chunks: list[Chunk], dense: list[list[float]]) -> None:
        if len(chunks) != len(dense):
            raise ValueError(f"{len(chunks)} chunks but {len(dense)} vectors")
        points = [
            models.PointStruct(
                id=str(uuid.UUID(chunk.point_id)),
                vector={DENSE: list(vector), SPARSE: _sparse(sparse_document(chunk.text))},
                payload=chunk_payload(chunk),
            )
            for chunk, vector in zip(chunks, dense, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self._client.upsert(self.collection, points[start : start + UPSERT_BATCH], wait=True)

    def delete_document(self, source: str, kind: DocumentKind, document_id: str) -> None:
        selector = models.FilterSelector(filter=_filter(document_terms(source, kind, document_id)))
        self._client.delete(self.collection, points_selector=selector, wait=True)

    def search(
        self, dense: list[float], text: str, limit: int, filter: SearchFilter | None = None
    ) -> list[Passage]:
        where = _filter(filter_terms(filter), excluded_origins(filter))
        sparse = sparse_query(text)
        plan = plan_search(self.fusion, limit, bool(sparse.indices), self.calibration)
        if plan.method == "convex":
            # Two filtered queries, fused in Python: the filter holds for both lists.
            n = plan.candidates
            dense_hits = self._candidates(list(dense), DENSE, n, where)
            sparse_hits = self._candidates(_sparse(sparse), SPARSE, n, where)
            fused = fuse_convex(dense_hits, sparse_hits, plan.lexical_weight, limit)
            return [to_passage(score, payload) for _, score, payload in fused]
        query: Any
        prefetch: list[models.Prefetch] | None = None
        using: str | None = None
        if plan.method == "dense":
            query, using = list(dense), DENSE
        elif plan.method == "sparse":
            query, using = _sparse(sparse), SPARSE
        else:
            # The filter is set on each prefetch too: audience must hold at every stage.
            fusion, n = self.fusion, plan.candidates
            prefetch = [
                models.Prefetch(query=list(dense), using=DENSE, limit=n, filter=where),
                models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=n, filter=where),
            ]
            query = (
                models.RrfQuery(rrf=models.Rrf(
                    k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight]
                ))
                if plan.method == "rrf"
                else models.FusionQuery(fusion=models.Fusion.DBSF)
            )
        hits = self._client.query_points(
            self.collection, query=query, using=using, prefetch=prefetch, query_filter=where,
            limit=limit, with_payload=True,
        ).points
        return [to_passage(hit.score, hit.payload or {}) for hit in hits]

    def calibrate(self) -> Calibration:
        """Compute this knowledge base's lexical weight from its stored vectors and keep it
        in the collection's metadata, where every process using the collection reads it."""
        def scroll(terms: list[tuple[str, str]], offset: Any, limit: int) -> tuple[list, Any]:
            records, offset = self._client.scroll(
                self.collection, scroll_filter=_filter(terms), offset=offset, limit=limit,
                with_payload=["source", "kind", "document_id"], with_vectors=[DENSE],
            )
            return [(record.vector.get(DENSE) if isinstance(record.vector, dict) else None,
                     record.payload or {}) for record in records], offset

        vectors, documents = calibration_sample(scroll, SAMPLE_POINTS)
        self.calibration = calibrate(vectors, documents)
        self._client.update_collection(
            self.collection, metadata={CALIBRATION_KEY: self.calibration.to_json()}
        )
        return self.calibration

    def _load_calibration(self) -> Calibration | None:
        metadata = self._client.get_collection(self.collection).config.metadata or {}
        try:
            return Calibration.from_json(metadata[CALIBRATION_KEY])
        except (KeyError, ValueError, TypeError):  # none yet, or unreadable
            return None

    def _candidates(
        self, query: Any, using: str, limit: int, where: models.Filter | None
    ) -> list[Candidate]:
        hits = self._client.query_points(
            self.collection, query=query, using=using, query_filter=where, limit=limit,
            with_payload=True,
        ).points
        return [(str(hit.id), hit.score, hit.payload or {}) for hit in hits]

    def count(self, filter: SearchFilter | None = None) -> int:
        return self._client.count(
            self.collection, count_filter=_filter(filter_terms(filter), excluded_origins(filter)),
            exact=True
        ).count

    def relabel_public_tickets(self) -> int:
        public = self._client.count(self.collection, count_filter=_filter(PUBLIC_TICKETS),
                                    exact=True).count
        if public:
            for terms, payload in ((INTERNAL_TICKETS, AS_NOTE), (PUBLIC_TICKETS, AS_CONVERSATION)):
                self._client.set_payload(self.collection, payload, wait=True,
                                         points=models.FilterSelector(filter=_filter(terms)))
        return public

    def ping(self) -> None:
        self._client.collection_exists(self.collection)

    def flush(self) -> None:
        """Writes are acknowledged with wait=True: nothing is pending."""

    def close(self) -> None:
        self._client.close()
