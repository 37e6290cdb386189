"""Filtered hybrid search latency: embedded Qdrant Edge vs qdrant-client local mode, one run.

Chunks are synthetic: random unit vectors for dense (the index does not care what they mean)
and Zipf-distributed help-center wording for the sparse side, so posting lists are as skewed as
real text. Query embedding is excluded from the search timings and reported on its own
(MiniLM on this CPU), because it, not the index, dominates a real query.

    python bench/retrieval_latency.py [--n 100000] [--client-n 5000] [--queries 300]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deskpilot._documents import Audience, DocumentKind
from deskpilot._embedder import EmbedderSettings
from deskpilot.knowledge.index import EdgeIndex, FusionConfig, QdrantClientIndex
from deskpilot.knowledge.interfaces import Chunk, SearchFilter, VectorIndex

DIM = 384
BATCH = 2_000
_VOCAB_TEXT = (
    "account password reset login email invoice billing refund payment card subscription plan "
    "upgrade downgrade cancel order shipping delivery tracking return exchange warranty device "
    "app update install error crash sync backup export import report dashboard user team admin "
    "permission role invite api key token webhook integration slack calendar notification "
    "mobile android iphone browser chrome cache cookie security two factor authentication sso "
    "domain dns ssl certificate storage quota limit upload download file folder share link "
    "search filter sort tag label category priority ticket agent customer chat response time "
    "language locale timezone currency tax vat receipt discount coupon trial free pro business "
    "enterprise contract renewal data privacy gdpr delete profile settings theme dark mode "
    "keyboard shortcut print pdf csv excel spreadsheet template workflow automation rule trigger"
)
_VOCAB = _VOCAB_TEXT.split()
_FILLER_TEXT = "the a to and of in for is you your it on with can this if be or not are"
_FILLER = _FILLER_TEXT.split()


def _lexicon(size: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Domain words, filler words and a long tail of rarer terms, with Zipf-like weights."""
    words = _FILLER + _VOCAB + [f"term{i}" for i in range(size)]
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    return words, weights / weights.sum()


def _texts(count: int, lengths: tuple[int, int], rng: np.random.Generator,
           lexicon: tuple[list[str], np.ndarray]) -> list[str]:
    words, p = lexicon
    sizes = rng.integers(*lengths, size=count)
    ids = rng.choice(len(words), size=int(sizes.sum()), p=p)
    out, start = [], 0
    for size in sizes:
        out.append(" ".join(words[i] for i in ids[start : start + size]))
        start += size
    return out


def _unit(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _chunks(start: int, texts: list[str]) -> list[Chunk]:
    chunks = []
    for offset, text in enumerate(texts):
        i = start + offset
        chunks.append(Chunk(
            source=("zendesk", "intercom", "local")[i % 3],
            kind=DocumentKind.TICKET if i % 5 == 0 else DocumentKind.ARTICLE,
            document_id=str(i // 4), position=i % 4, title=f"Document {i // 4}", text=text,
            # One chunk in five is an internal ticket note; one in ten is German.
            audience=Audience.INTERNAL if i % 5 == 0 else Audience.PUBLIC,
            locale="de" if i % 10 == 3 else "en", url=None,
        ))
    return chunks


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered) * 1000, 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
    }


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fill(index: VectorIndex, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    lexicon = _lexicon(20_000, rng)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        chunks = _chunks(start, _texts(size, (60, 220), rng, lexicon))
        index.upsert(chunks, _unit(size, rng).tolist())
        if start and start % 20_000 == 0:
            _log(f"  upserted {start}/{n}")
    index.flush()
    return time.perf_counter() - started


def _latencies(index: VectorIndex, queries: int, seed: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed + 1)
    texts = _texts(queries, (3, 9), rng, _lexicon(20_000, rng))
    vectors = _unit(queries, rng).tolist()
    filters = {
        "filtered_public_en": SearchFilter(audience=Audience.PUBLIC, locale="en"),
        "filtered_internal_tickets": SearchFilter(audience=Audience.INTERNAL,
                                                  kind=DocumentKind.TICKET),
        "unfiltered": None,
    }
    results = {}
    for name, where in filters.items():
        for vector, text in list(zip(vectors, texts, strict=True))[:5]:  # warm-up
            index.search(vector, text, 10, where)
        samples = [
            _timed(lambda v=vector, t=text, w=where: index.search(v, t, 10, w))
            for vector, text in zip(vectors, texts, strict=True)
        ]
        results[name] = _ms(samples)
    return results


def _rewrites(index: VectorIndex, n: int, seed: int, count: int = 100) -> dict[str, float]:
    """A changed document written as the sync writes it: its old points deleted, then its new
    ones upserted; `count` documents of the full index, one at a time."""
    rng = np.random.default_rng(seed + 3)
    lexicon = _lexicon(20_000, rng)
    samples = []
    for document in rng.choice(n // 4, size=min(count, n // 4), replace=False):
        chunks = _chunks(int(document) * 4, _texts(4, (60, 220), rng, lexicon))
        vectors = _unit(4, rng).tolist()
        first = chunks[0]

        def rewrite(chunks: list[Chunk] = chunks, vectors: list = vectors,
                    first: Chunk = first) -> None:
            index.delete_document(first.source, first.kind, first.document_id)
            index.upsert(chunks, vectors)

        samples.append(_timed(rewrite))
    return _ms(samples)


def bench_embedded(n: int, queries: int, seed: int, root: Path) -> dict[str, object]:
    _log(f"embedded: upserting {n} chunks")
    index = EdgeIndex(root / "edge", DIM)
    upsert_s = _fill(index, n, seed)
    rewrite_ms = _rewrites(index, n, seed)
    plain = _latencies(index, queries, seed)  # appendable segments: brute force
    _log("embedded: optimize (HNSW)")
    optimize_s = _timed(index.optimize)
    index.close()
    started = time.perf_counter()
    index = EdgeIndex(root / "edge", DIM)
    reopen_s = time.perf_counter() - started
    optimized = _latencies(index, queries, seed)
    recall = _dense_recall(index, seed)
    index.close()
    return {
        "points": n, "upsert_s": round(upsert_s, 1), "optimize_s": round(optimize_s, 1),
        "reopen_s": round(reopen_s, 2), "rewrite_document_ms": rewrite_ms,
        "search_ms_after_optimize": optimized,
        "search_ms_before_optimize": plain, "hnsw_dense_recall@10_vs_exact": recall,
    }


def _dense_recall(index: EdgeIndex, seed: int, queries: int = 100) -> float:
    """Share of exact dense top-10 that HNSW finds, filtered as the customer agent filters.
    Random vectors are HNSW's worst case; real embeddings cluster and fare better."""
    rng = np.random.default_rng(seed + 2)
    where = SearchFilter(audience=Audience.PUBLIC, locale="en")
    index.fusion = FusionConfig(method="dense")
    found = 0
    for vector in _unit(queries, rng).tolist():
        index.exact = True
        truth = {(p.document_id, p.position) for p in index.search(vector, "", 10, where)}
        index.exact = False
        found += len(truth & {(p.document_id, p.position)
                              for p in index.search(vector, "", 10, where)})
    index.exact, index.fusion = None, FusionConfig()
    return round(found / (10 * queries), 3)


def bench_client_local(n: int, queries: int, seed: int, root: Path) -> dict[str, object]:
    _log(f"qdrant-client local mode: upserting {n} chunks")
    index = QdrantClientIndex(str(root / "client"), DIM)
    upsert_s = _fill(index, n, seed)
    latencies = _latencies(index, queries, seed)
    index.close()
    return {"points": n, "upsert_s": round(upsert_s, 1), "search_ms": latencies}


def bench_query_embedding(count: int) -> dict[str, float]:
    from deskpilot.plugins.embedders import LocalEmbedder

    embedder = LocalEmbedder(EmbedderSettings())
    questions = [f"How do I change the {w} on my account?" for w in _VOCAB[:count]]
    embedder.embed_query("warm-up")
    return _ms([_timed(lambda q=q: embedder.embed_query(q)) for q in questions])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the embedded index")
    parser.add_argument("--client-n", type=int, default=None,
                        help="chunks for qdrant-client local mode (default: min(n, 2000))")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    client_n = args.client_n if args.client_n is not None else min(args.n, 2_000)
    with tempfile.TemporaryDirectory(prefix="deskpilot-bench-") as tmp:
        root = Path(tmp)
        report = {
            "cpus": os.cpu_count(),
            "limit": 10,
            "note": "search timings exclude query embedding; qdrant-client local mode is pure "
                    "Python and runs on fewer points (see its 'points')",
            "embedded": bench_embedded(args.n, args.queries, args.seed, root),
            "qdrant_client_local": bench_client_local(client_n, min(args.queries, 50),
                                                      args.seed, root),
            "minilm_query_embedding_ms": bench_query_embedding(100),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
