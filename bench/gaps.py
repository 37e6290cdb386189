"""The knowledge-gap report and the dashboard's rates: how well the topics match real ones, and
how long the pages take over many conversations.

    python bench/gaps.py [--conversations 1000] [--data ../shared/data]

1. Topics, on two domains: stackfaq's paraphrased questions (each names the article that
   answers it) and banking77's customer messages (`--per-intent` of each of its 77 intents),
   embedded with the configured embedder (MiniLM by default) and clustered as `deskpilot gaps`
   does, at several similarity bars; agreement with the articles or intents as adjusted Rand
   index, homogeneity (a topic holds one article's questions) and completeness (an article's
   questions stay in one topic).
2. Time: `--conversations` conversations written into the chat tables over the last 30 days
   (a stackfaq question each; every other answer without a source, one in ten handed over,
   one in five with a vote), then the dashboard's rates, a conversation search, and the whole
   gap report: the first (every question embedded) and again (the platform keeps the vectors
   of questions it has seen). Milliseconds; the median of `--repeat` runs where repeated.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from deskpilot.core.chat.tables import ChatFeedback, ChatItem, ChatThread
from deskpilot.core.config import Settings
from deskpilot.core.conversations import load_conversations
from deskpilot.core.dashboard.figures import rates
from deskpilot.core.gaps import cluster, gap_report
from deskpilot.core.services import Services

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BARS = (0.4, 0.5, 0.6, 0.7)


def timed(fn, repeat: int) -> float:  # noqa: ANN001 - any callable
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def topic_quality(services: Services, texts: list[str], truth: list[str]) -> dict:
    from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure

    vectors = np.asarray(services.embedder.embed_documents(texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = {}
    for bar in BARS:
        labels = cluster(vectors, bar)
        homogeneity, completeness, _ = homogeneity_completeness_v_measure(truth, labels)
        found[str(bar)] = {"topics": len(set(labels)),
                           "adjusted_rand": round(adjusted_rand_score(truth, labels), 3),
                           "homogeneity": round(homogeneity, 3),
                           "completeness": round(completeness, 3)}
    return {"questions": len(texts), "labels": len(set(truth)), "by_min_similarity": found}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _assistant(thread_id: str, item_id: str, at: datetime, text: str, sourced: bool,
               handoff: bool) -> dict:
    annotations = []
    if sourced:
        annotations.append({"type": "annotation", "source": {
            "type": "url", "url": "https://help.example/a", "title": "An article"}})
    if handoff:
        annotations.append({"type": "annotation", "source": {
            "type": "entity", "id": "deskpilot:handoff", "title": "Support team",
            "data": {"deskpilot": {"event": "handoff"}}}})
    return {"id": item_id, "thread_id": thread_id, "created_at": at.isoformat(),
            "type": "assistant_message",
            "content": [{"type": "output_text", "text": text, "annotations": annotations}]}


def fill(services: Services, queries: list[dict], n: int) -> None:
    now = datetime.now()
    threads, items, votes = [], [], []
    for i in range(n):
        at = now - timedelta(minutes=(30 * 24 * 60) * i / n)
        thread_id = f"thr_{uuid.uuid4().hex}"
        question = queries[i % len(queries)]["query"]
        threads.append({"id": thread_id, "user_id": f"anon:{i}", "created_at": at,
                        "title": question[:60], "status": "active", "metadata": {},
                        "data": {"id": thread_id, "created_at": at.isoformat()}})
        user_id = f"msg_{uuid.uuid4().hex}"
        items.append({"id": user_id, "thread_id": thread_id, "user_id": f"anon:{i}",
                      "created_at": at, "type": "user_message", "data": {
                          "id": user_id, "type": "user_message",
                          "content": [{"type": "input_text", "text": question}]}})
        answer_id = f"msg_{uuid.uuid4().hex}"
        items.append({"id": answer_id, "thread_id": thread_id, "user_id": f"anon:{i}",
                      "created_at": at, "type": "assistant_message",
                      "data": _assistant(thread_id, answer_id, at, "An answer.", i % 2 == 0,
                                         False)})
        if i % 10 == 0:
            handoff_id = f"msg_{uuid.uuid4().hex}"
            items.append({"id": handoff_id, "thread_id": thread_id, "user_id": f"anon:{i}",
                          "created_at": at, "type": "assistant_message",
                          "data": _assistant(thread_id, handoff_id, at, "A person will reply.",
                                             False, True)})
        if i % 5 == 0:
            votes.append({"thread_id": thread_id, "item_id": answer_id, "user_id": f"anon:{i}",
                          "kind": "negative" if i % 10 == 0 else "positive", "created_at": at})
    with services.engine.begin() as conn:
        conn.execute(insert(ChatThread.__table__), threads)  # type: ignore[attr-defined]
        conn.execute(insert(ChatItem.__table__), items)  # type: ignore[attr-defined]
        conn.execute(insert(ChatFeedback.__table__), votes)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-intent", type=int, default=10)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    queries = _jsonl(args.data / "stackfaq" / "queries.jsonl")
    banking: list[dict] = []
    taken: dict[str, int] = {}
    for row in _jsonl(args.data / "banking77" / "test.jsonl"):
        if taken.get(row["category"], 0) < args.per_intent:
            taken[row["category"]] = taken.get(row["category"], 0) + 1
            banking.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Settings(data_dir=Path(tmp), connectors={}))
        services.migrate()
        quality = {
            "stackfaq": topic_quality(services, [q["query"] for q in queries],
                                      [q["article_id"] for q in queries]),
            "banking77": topic_quality(services, [b["text"] for b in banking],
                                       [b["category"] for b in banking]),
        }
        fill(services, queries, args.conversations)
        engine = services.engine
        first = timed(lambda: gap_report(services, days=30), 1)
        result = {
            "embedder": services.embedder.identity,
            "topics": quality,
            "conversations": args.conversations,
            "ms": {
                "rates_30_days": timed(lambda: rates(engine, 30), args.repeat),
                "search": timed(lambda: load_conversations(
                    engine, search="github", limit=200), args.repeat),
                "gap_report_first": first,
                "gap_report_again": timed(lambda: gap_report(services, days=30), args.repeat),
            },
            "gap_questions": gap_report(services, days=30)["questions"],
        }
        services.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
