"""Retrieval evaluation through the production path, on a throw-away embedded index.

articles JSONL `{id, title, body_html, url?, locale?}` → Article → chunk_document → embedder →
index → Searcher (hybrid, one passage per document) ← queries JSONL `{query, article_id}` or
`{query, article_ids: [...]}`.

Splits: stackfaq ships none, so fusion weights and chunk sizes were tuned on the queries whose
(first) article id ends in an even number ("tuning") and are reported on the odd ones
("held-out") — a fixed rule any run reproduces. Use split="all" for everything.

stackfaq with MiniLM, lead chunk + convex fusion λ=0.0026 (recall@1 / recall@5 / MRR@10):
tuning 0.958 / 1.000 / 0.976, held-out 0.960 / 0.993 / 0.977, all 615 0.959 / 0.997 / 0.977.
On all 615, dense alone 0.958 / 0.997 / 0.976, BM25 alone 0.659 / 0.904 / 0.763, the former
default RRF k=1 [4, 1] 0.958 / 0.995 / 0.975 (knowledge/index/fusion.py has every split).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from deskpilot._documents import Article
from deskpilot._embedder import Embedder
from deskpilot.knowledge.index import EdgeIndex, FusionConfig
from deskpilot.knowledge.interfaces import VectorIndex
from deskpilot.knowledge.search import Searcher
from deskpilot.knowledge.text import chunk_document

Split = Literal["all", "tuning", "held-out"]
IndexFactory = Callable[[Path, int], VectorIndex]

SOURCE = "eval"
_EMBED_BATCH = 256
_DIGITS = re.compile(r"(\d+)$")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _relevant(query: dict[str, Any]) -> list[str]:
    return list(query.get("article_ids") or [query["article_id"]])


def in_split(query: dict[str, Any], split: Split) -> bool:
    """The fixed tuning/held-out rule: parity of the trailing number of the first article id."""
    if split == "all":
        return True
    match = _DIGITS.search(_relevant(query)[0])
    even = match is not None and int(match.group(1)) % 2 == 0
    return even == (split == "tuning")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_index(
    articles: list[dict[str, Any]], embedder: Embedder, index: VectorIndex, progress: bool = True
) -> int:
    """Chunk, embed and upsert the articles; returns the number of chunks."""
    chunks = [
        chunk
        for record in articles
        for chunk in chunk_document(SOURCE, Article.model_validate(record))
    ]
    for start in range(0, len(chunks), _EMBED_BATCH):
        batch = chunks[start : start + _EMBED_BATCH]
        index.upsert(batch, embedder.embed_documents([c.text for c in batch]))
        if progress:
            _log(f"embedded {start + len(batch)}/{len(chunks)} chunks")
    index.flush()
    return len(chunks)


def score_queries(
    searcher: Searcher, queries: list[dict[str, Any]], k: int = 10, progress: bool = True
) -> dict[str, float]:
    """recall@1/@5 (share of relevant articles found) and MRR@k (first relevant hit)."""
    recall1 = recall5 = mrr = 0.0
    for i, query in enumerate(queries, 1):
        relevant = set(_relevant(query))
        hits = searcher.search(query["query"], k=max(k, 5), per_document=True)
        ranked = [hit.document_id for hit in hits]
        recall1 += len(relevant & set(ranked[:1])) / len(relevant)
        recall5 += len(relevant & set(ranked[:5])) / len(relevant)
        rank = next((r for r, doc in enumerate(ranked[:k], 1) if doc in relevant), None)
        mrr += 1 / rank if rank else 0.0
        if progress and i % 100 == 0:
            _log(f"searched {i}/{len(queries)} queries")
    n = len(queries) or 1
    return {
        "n": len(queries),
        "recall@1": round(recall1 / n, 3),
        "recall@5": round(recall5 / n, 3),
        f"mrr@{k}": round(mrr / n, 3),
    }


def evaluate_retrieval(
    articles_path: Path,
    queries_path: Path,
    k: int = 10,
    *,
    embedder: Embedder,
    index_factory: IndexFactory | None = None,
    fusion: FusionConfig | None = None,
    split: Split = "all",
    progress: bool = True,
) -> dict[str, float]:
    """Build a temporary index from the articles and score the queries of `split` against it.

    `index_factory(data_dir, dimension)` defaults to the embedded backend with `fusion`.
    """
    if index_factory is None:
        def index_factory(data_dir: Path, dimension: int) -> VectorIndex:
            return EdgeIndex(data_dir / "index", dimension, fusion)

    articles = _read_jsonl(Path(articles_path))
    queries = [q for q in _read_jsonl(Path(queries_path)) if in_split(q, split)]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as data_dir:
        index = index_factory(Path(data_dir), embedder.dimension)
        try:
            build_index(articles, embedder, index, progress)
            result = score_queries(Searcher(embedder, index), queries, k, progress)
        finally:
            index.close()
    if progress:
        _log(f"evaluated {len(queries)} queries in {time.perf_counter() - started:.1f} s")
    return result

