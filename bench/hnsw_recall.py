"""Dense recall of the embedded index's HNSW graph on real embeddings, against exact search.

bench/retrieval_latency.py measures recall on random vectors, HNSW's worst case. This one
indexes ~36k real support texts (banking77, clinc150 and the stackfaq articles from
../shared/data) embedded with the offline MiniLM model, optimizes the shard as
`deskpilot index optimize` does, and asks held-out questions (stackfaq queries and clinc150's
out-of-scope test set, neither indexed): the share of the exact dense top-10 that HNSW finds,
with the customer agent's filter (public, en; one chunk in five is internal), per `hnsw_ef`.

    python bench/hnsw_recall.py [--queries 400]

Progress goes to stderr; one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bs4 import BeautifulSoup

from deskpilot._documents import Audience, DocumentKind
from deskpilot._embedder import EmbedderSettings
from deskpilot.knowledge.index import EdgeIndex, FusionConfig, edge
from deskpilot.knowledge.interfaces import Chunk, SearchFilter
from deskpilot.plugins.embedders import LocalEmbedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = ["banking77/train.jsonl", "banking77/test.jsonl", "clinc150/train.jsonl",
          "clinc150/val.jsonl", "clinc150/test.jsonl", "clinc150/oos_train.jsonl",
          "clinc150/oos_val.jsonl"]
QUESTIONS = ["stackfaq/queries.jsonl", "clinc150/oos_test.jsonl"]
EF_VALUES = [32, 64, 128, 256]
BATCH = 512


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _rows(name: str) -> list[dict]:
    path = DATA / name
    if not path.exists():
        raise SystemExit(f"{path} not found: this benchmark reads ../shared/data")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def corpus() -> list[str]:
    texts = [row["text"] for name in CORPUS for row in _rows(name)]
    for article in _rows("stackfaq/articles.jsonl"):
        body = BeautifulSoup(article["body_html"], "html.parser").get_text(" ", strip=True)
        texts.append(f"{article['title']}\n{body}")
    return texts


def questions(count: int, seed: int) -> list[str]:
    pool = [row.get("query") or row["text"] for name in QUESTIONS for row in _rows(name)]
    return random.Random(seed).sample(pool, min(count, len(pool)))


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(source="bench", kind=DocumentKind.ARTICLE, document_id=str(i), position=0,
                 title="", text=text, url=None, locale="en",
                 audience=Audience.INTERNAL if i % 5 == 0 else Audience.PUBLIC)


def _embed(embedder: LocalEmbedder, texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        vectors += embedder.embed_documents(texts[start : start + BATCH])
        _log(f"  embedded {len(vectors)}/{len(texts)}")
    return vectors


def run(queries: int, seed: int, root: Path) -> dict[str, object]:
    embedder = LocalEmbedder(EmbedderSettings())
    texts = corpus()
    _log(f"embedding {len(texts)} texts")
    started = time.perf_counter()
    vectors = _embed(embedder, texts)
    embed_s = time.perf_counter() - started
    index = EdgeIndex(root / "edge", embedder.dimension)
    for start in range(0, len(texts), BATCH):
        chunks = [_chunk(i, t) for i, t in enumerate(texts[start : start + BATCH], start)]
        index.upsert(chunks, vectors[start : start + BATCH])
    index.flush()
    _log("optimizing (HNSW)")
    started = time.perf_counter()
    index.optimize()
    optimize_s = time.perf_counter() - started
    asked = _embed(embedder, questions(queries, seed))
    where = SearchFilter(audience=Audience.PUBLIC, locale="en")
    index.fusion = FusionConfig(method="dense")
    index.exact = True
    truth = [{p.document_id for p in index.search(v, "", 10, where)} for v in asked]
    index.exact = False
    by_ef: dict[str, dict[str, float]] = {}
    default_ef = edge.HNSW_EF
    try:
        for ef in EF_VALUES:
            edge.HNSW_EF = ef  # read by EdgeIndex.search at each call
            found, times = 0, []
            for vector, exact in zip(asked, truth, strict=True):
                started = time.perf_counter()
                hits = index.search(vector, "", 10, where)
                times.append(time.perf_counter() - started)
                found += len(exact & {p.document_id for p in hits})
            by_ef[str(ef)] = {"recall@10": round(found / (10 * len(asked)), 4),
                              "p50_ms": round(statistics.median(times) * 1000, 2)}
    finally:
        edge.HNSW_EF = default_ef
        index.close()
    return {"points": len(texts), "queries": len(asked), "embed_s": round(embed_s, 1),
            "optimize_s": round(optimize_s, 1), "default_hnsw_ef": default_ef,
            "dense_recall_vs_exact_by_hnsw_ef": by_ef}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskpilot-bench-") as tmp:
        print(json.dumps(run(args.queries, args.seed, Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
