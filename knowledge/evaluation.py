"""Retrieval evaluation through the production path, on a throw-away embedded index.

articles JSONL `{id, title, body_html, url?, locale?}` → Article → chunk_document → embedder →
index → calibration (as a sync does) → Searcher (hybrid, one passage per document) ← queries
JSONL `{query, article_id}` or `{query, article_ids: [...]}`.

Convention (the data sets' baselines'): a query with several answering articles is a hit at k
when *any* of them is among the top k; recall@k is the share of queries hit, MRR@k uses the
first answering article's rank.

Splits: the sets ship none, so every retrieval choice (fusion, λ and its calibration, chunk
sizes) was tuned on the queries whose first article id ends in an even number ("tuning") and
reported once on the odd ones ("held-out") — a fixed rule any run reproduces, which also keeps
an article's questions on one side. stackfaq: 312 tuning / 303 held-out queries; smarttv: 286 /
343. Use split="all" for everything. Figures: README, "Measured".
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ValidationError

from deskpilot._documents import Article, id_text
from deskpilot._embedder import Embedder
from deskpilot.knowledge.index import EdgeIndex, FusionConfig
from deskpilot.knowledge.index.calibration import Calibration
from deskpilot.knowledge.interfaces import VectorIndex
from deskpilot.knowledge.jsonl import read_jsonl
from deskpilot.knowledge.search import Searcher, embed_queries
from deskpilot.knowledge.text import chunk_document

Split = Literal["all", "tuning", "held-out"]
SPLITS: tuple[Split, ...] = get_args(Split)
IndexFactory = Callable[[Path, int], VectorIndex]

SOURCE = "eval"
_EMBED_BATCH = 256
_DIGITS = re.compile(r"(\d+)$")


def read_articles(path: Path) -> list[dict[str, Any]]:
    """Articles JSONL `{id, title, body_html, url?}` (an integer id becomes its string); a
    record that is not an article, an id given twice, or no record at all, is a ValueError
    naming the file (and the article and the field)."""
    records = read_jsonl(path, what="articles")
    first_of: dict[str, int] = {}
    for number, record in enumerate(records, 1):
        try:
            record["id"] = Article.model_validate(record).id
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(part) for part in problem["loc"]) or "record"
            raise ValueError(f"{path}: article {record.get('id', f'#{number}')!r}: {field}: "
                             f"{problem['msg']}") from None
        if (first := first_of.setdefault(record["id"], number)) != number:
            # One id, two articles: which one a question names is anyone's guess.
            raise ValueError(f"{path}: article {record['id']!r} appears twice (records {first}"
                             f" and {number})")
    return records


def read_questions(path: Path) -> list[dict[str, Any]]:
    """Questions JSONL `{query, article_id}` or `{query, article_ids: [...]}`, integer ids as
    their strings; a record without them, or no record at all, is a ValueError naming the file
    (and the record)."""
    records = read_jsonl(path, what="questions")
    for record in records:
        if "article_id" in record:
            record["article_id"] = id_text(record["article_id"])
        if isinstance(record.get("article_ids"), list):
            record["article_ids"] = [id_text(i) for i in record["article_ids"]]
        query = record.get("query")
        ids = answering_ids(record)
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"{path}: a question has no query text: {record!r:.80}")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ValueError(f"{path}: a question names no article_id / article_ids: "
                             f"{record!r:.80}")
    return records


def answering_ids(query: dict[str, Any]) -> Any:
    """The ids of the articles that answer a question: a list of strings once read_questions
    has checked it."""
    return query.get("article_ids") or [query.get("article_id")]


def article_number(article_id: str) -> int | None:
    """The trailing number of an article id ("section_12" -> 12), which the split reads."""
    match = _DIGITS.search(article_id)
    return int(match.group(1)) if match else None


def in_split(query: dict[str, Any], split: Split) -> bool:
    """The fixed tuning/held-out rule: parity of the trailing number of the first article id."""
    if split == "all":
        return True
    number = article_number(answering_ids(query)[0])
    even = number is not None and number % 2 == 0
    return even == (split == "tuning")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _QueriesEmbedded(Embedder):
    """The evaluated embedder, with every question embedded up front in large batches: one
    at a time, each costs MiniLM ~10 ms, nearly all of it per call, once per compared method.
    Searches still go through Searcher, which asks this for the vectors."""

    def __init__(self, embedder: Embedder, texts: list[str]) -> None:
        super().__init__(embedder.settings)
        self.inner = embedder
        unique = list(dict.fromkeys(texts))
        vectors = [v for start in range(0, len(unique), _EMBED_BATCH)
                   for v in embed_queries(embedder, unique[start : start + _EMBED_BATCH])]
        self.vectors = dict(zip(unique, vectors, strict=True))

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text] if text in self.vectors else self.inner.embed_query(text)


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


HIT_RULE = "a query is a hit at k when any of its answering articles is in the top k"


def first_hits(
    searcher: Searcher, queries: list[dict[str, Any]], depth: int = 10, progress: bool = True
) -> list[int | None]:
    """Per query, the rank (1-based, one passage per document) of its first answering article
    within the top `depth`, or None."""
    ranks: list[int | None] = []
    for i, query in enumerate(queries, 1):
        relevant = set(answering_ids(query))
        hits = searcher.search(query["query"], k=depth, per_document=True)
        ranked = [hit.document_id for hit in hits]
        ranks.append(next((r for r, doc in enumerate(ranked, 1) if doc in relevant), None))
        if progress and i % 100 == 0:
            _log(f"searched {i}/{len(queries)} queries")
    return ranks


def figures(ranks: list[int | None], k: int = 10) -> dict[str, Any]:
    """recall@1/@5 (share of queries with an answering article in the top 1/5) and MRR@k."""
    n = len(ranks) or 1
    found = [rank for rank in ranks if rank is not None]
    return {
        "n": len(ranks),
        "recall@1": round(sum(rank == 1 for rank in found) / n, 3),
        "recall@5": round(sum(rank <= 5 for rank in found) / n, 3),
        f"mrr@{k}": round(sum(1 / rank for rank in found if rank <= k) / n, 3),
    }


def evaluate_retrieval(
    articles_path: Path,
    queries_path: Path,
    k: int = 10,
    *,
    embedder: Embedder,
    index_factory: IndexFactory | None = None,
    fusion: FusionConfig | None = None,
    compare: Sequence[FusionConfig] = (),
    split: Split = "all",
    progress: bool = True,
) -> dict[str, Any]:
    """Build a temporary index from the articles, calibrate it (as a sync does), and score the
    queries of `split` against it; with split "all", also each half (`by_split`). Each of
    `compare` (e.g. dense or BM25 alone) is scored on the same index, under "compare".

    `index_factory(data_dir, dimension)` defaults to the embedded backend.
    """
    if index_factory is None:
        def index_factory(data_dir: Path, dimension: int) -> VectorIndex:
            return EdgeIndex(data_dir / "index", dimension)

    articles = read_articles(Path(articles_path))
    queries = [q for q in read_questions(Path(queries_path)) if in_split(q, split)]
    known = {article["id"] for article in articles}  # strings, as read_articles leaves them
    # A question whose answer is not in the articles file can only miss: say so, not hide it.
    orphans = sum(not known.intersection(answering_ids(q)) for q in queries)
    if orphans and progress:
        _log(f"warning: {orphans} question(s) name no article of {articles_path}; "
             "they count as misses")
    halves = {half: [in_split(q, half) for q in queries] for half in ("tuning", "held-out")}
    started = time.perf_counter()

    def scored(config: FusionConfig, index: VectorIndex, calibration: Calibration
               ) -> dict[str, Any]:
        index.fusion = config
        ranks = first_hits(Searcher(questions, index), queries, max(k, 5), progress)
        weight = calibration.lexical_weight if config.lexical_weight is None else (
            config.lexical_weight)
        result = {"method": config.method, **figures(ranks, k)}
        if config.method == "convex":
            result["lexical_weight"] = weight
        if split == "all":
            result["by_split"] = {
                half: figures([r for r, inside in zip(ranks, chosen, strict=True) if inside], k)
                for half, chosen in halves.items()
            }
        return result

    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as data_dir:
        index = index_factory(Path(data_dir), embedder.dimension)
        try:
            build_index(articles, embedder, index, progress)
            calibration = index.calibrate()
            questions = _QueriesEmbedded(embedder, [q["query"] for q in queries])
            result = {"split": split, "hit": HIT_RULE, "homogeneity": calibration.homogeneity,
                      **({"questions_without_article": orphans} if orphans else {}),
                      **scored(fusion or FusionConfig(), index, calibration)}
            if compare:
                result["compare"] = {
                    config.method: scored(config, index, calibration) for config in compare
                }
        finally:
            index.close()
    if progress:
        _log(f"evaluated {len(queries)} queries in {time.perf_counter() - started:.1f} s")
    return result
