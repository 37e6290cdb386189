"""What a point carries besides its vectors, and the lexical encoder both backends share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qdrant_edge import Bm25, SparseVector

from deskpilot._documents import Audience, DocumentKind
from deskpilot.knowledge.interfaces import Chunk, Passage, SearchFilter

DENSE = "dense"
SPARSE = "sparse"

# Payload fields with a keyword index: everything a filter or a delete selects on.
KEYWORD_FIELDS = ("audience", "source", "kind", "locale", "document_id", "origins")
# What calibration reads (knowledge/index/calibration.py), first that has points: the help
# center's articles — the corpus users' questions are asked of — else everything.
CALIBRATION_FILTERS: tuple[list[tuple[str, str]], ...] = ([("kind", str(DocumentKind.ARTICLE))], [])

# One BM25 encoder (English stopwords + stemming, hashed tokens) for both backends, so they
# rank alike; IDF is applied by the index at query time through the sparse vector's modifier.
_BM25 = Bm25()


def sparse_document(text: str) -> SparseVector:
    return _BM25.embed_document(text)


def sparse_query(text: str) -> SparseVector:
    return _BM25.embed_query(text)


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "source": chunk.source,
        "kind": str(chunk.kind),
        "document_id": chunk.document_id,
        "position": chunk.position,
        "title": chunk.title,
        "text": chunk.text,
        "url": chunk.url,
        "audience": str(chunk.audience),
        "locale": chunk.locale,
        "note": chunk.note,
        "authors": list(chunk.authors),
        "origins": list(chunk.origins),
        "headings": list(chunk.headings),
    }


def filter_terms(filter: SearchFilter | None) -> list[tuple[str, str]]:
    """(field, value) pairs that must all match."""
    if filter is None:
        return []
    terms = {
        "audience": filter.audience,
        "source": filter.source,
        "kind": filter.kind,
        "locale": filter.locale,
    }
    return [(key, str(value)) for key, value in terms.items() if value is not None]


def excluded_origins(filter: SearchFilter | None) -> list[str]:
    """Origins ("connector:ticket_id") no point may carry (`SearchFilter.exclude_origins`)."""
    return sorted(filter.exclude_origins) if filter is not None else []


def document_terms(source: str, kind: DocumentKind, document_id: str) -> list[tuple[str, str]]:
    return [("source", source), ("kind", str(kind)), ("document_id", document_id)]


def document_key(payload: dict[str, Any]) -> str:
    """Which document a point belongs to, as one string."""
    return "\x1f".join(str(payload.get(key, "")) for key in ("source", "kind", "document_id"))


# A backend's page of stored points for calibration: `scroll(terms, offset, limit)` gives
# (dense vector, payload) pairs and the next offset, None after the last page.
CalibrationScroll = Callable[
    [list[tuple[str, str]], Any, int],
    tuple[list[tuple[Sequence[float] | None, dict[str, Any]]], Any]]


def calibration_sample(scroll: CalibrationScroll, limit: int) -> tuple[list[list[float]],
                                                                      list[str]]:
    """Up to `limit` stored dense vectors with their documents' keys: the articles' if there
    are any, else every point's (CALIBRATION_FILTERS)."""
    vectors: list[list[float]] = []
    documents: list[str] = []
    for terms in CALIBRATION_FILTERS:
        offset = None
        while len(vectors) < limit:
            points, offset = scroll(terms, offset, min(1000, limit - len(vectors)))
            for vector, payload in points:
                vectors.append(list(vector or []))
                documents.append(document_key(payload))
            if offset is None:
                break
        if vectors:
            break
    return vectors, documents


def to_passage(score: float, payload: dict[str, Any]) -> Passage:
    return Passage(
        score=score,
        document_id=payload["document_id"],
        title=payload["title"],
        text=payload["text"],
        url=payload.get("url"),
        source=payload["source"],
        kind=DocumentKind(payload["kind"]),
        audience=Audience(payload["audience"]),
        locale=payload.get("locale", "en"),
        position=payload.get("position", 0),
        note=bool(payload.get("note", False)),
        authors=tuple(payload.get("authors") or ()),
        # None in points indexed before they were stored.
        headings=tuple(payload.get("headings") or ()),
    )


# The relabel of an index written when solved tickets' conversations were public (see
# VectorIndex.relabel_public_tickets): first the old internal ticket points, which were all
# notes, then the public ones, which were conversations.
PUBLIC_TICKETS = [("kind", str(DocumentKind.TICKET)), ("audience", str(Audience.PUBLIC))]
INTERNAL_TICKETS = [("kind", str(DocumentKind.TICKET)), ("audience", str(Audience.INTERNAL))]
AS_NOTE = {"note": True}
AS_CONVERSATION = {"audience": str(Audience.INTERNAL), "note": False}
