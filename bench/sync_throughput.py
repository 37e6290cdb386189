"""Sync throughput: a full sync through the local connector against the bare embedder on the
same chunks, in one run; then a no-change `--full` resync.

    python bench/sync_throughput.py [--articles 2000] [--sections 4]

Writes `--articles` generated Markdown articles (each `--sections` sections of about one chunk)
to a temporary folder, and with the default local embedder (all-MiniLM-L6-v2, offline):
1. embeds every chunk of them in `batch_size` batches, nothing else: the bare embedder;
2. syncs the folder into a fresh index (fetch, parse, chunk, embed, index writes, registry);
3. syncs it again with `--full`: every file read and hashed, nothing embedded.
Prints one JSON object: chunks, chunks/s of each, the ratio (target ≥ 0.85), the resync's
seconds, embedding calls (target 0) and share of the full sync (target ≤ 5 %), and the
machine's cores and load average (a shared machine's figures move with its load).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_RATIO = 0.85
TARGET_RESYNC_SHARE = 0.05
WORDS = [
    "account", "billing", "invoice", "refund", "password", "reset", "domain", "certificate",
    "backup", "restore", "deploy", "region", "latency", "export", "import", "webhook", "token",
    "session", "browser", "mobile", "plan", "seat", "limit", "quota", "storage", "database",
    "replica", "cache", "error", "retry", "timeout", "network", "firewall", "policy", "audit",
    "email", "notification", "schedule", "report", "dashboard", "team", "role", "permission",
]


def write_articles(root: Path, articles: int, sections: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    for n in range(articles):
        parts = [f"# Article {n}: {rng.choice(WORDS)} {rng.choice(WORDS)}\n"]
        for s in range(sections):
            words = " ".join(rng.choice(WORDS) for _ in range(230))
            parts.append(f"## Section {s}\n\n{words}.\n")
        (root / f"article-{n:05}.md").write_text("\n".join(parts), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--sections", type=int, default=4)
    args = parser.parse_args()

    from deskpilot.connectors.local import LocalConnector
    from deskpilot.core.config import ConnectorSettings, Settings
    from deskpilot.core.services import Services
    from deskpilot.knowledge.text import chunk_document

    with tempfile.TemporaryDirectory(prefix="deskpilot-sync-bench-") as folder:
        root = Path(folder) / "kb"
        root.mkdir()
        write_articles(root, args.articles, args.sections)
        settings = Settings(data_dir=Path(folder) / "data",
                            connectors={"kb": ConnectorSettings(type="local", path=str(root))})
        services = Services(settings)
        services.migrate()
        embedder = services.embedder
        batch = settings.embedder.batch_size
        embedder.embed_documents(["warm up the model"] * batch)

        # The same chunks the sync will embed, from the connector's own documents.
        reader = LocalConnector("kb", LocalConnector.Options(path=str(root)))
        texts = [c.text for page in reader.fetch(None) for doc in page.documents
                 for c in chunk_document("kb", doc)]
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            embedder.embed_documents(texts[start : start + batch])
        bare = time.perf_counter() - started

        calls: list[int] = []
        original = type(embedder).embed_documents

        def counted(self: Any, batch_texts: Any) -> Any:
            calls.append(len(batch_texts))
            return original(self, batch_texts)

        type(embedder).embed_documents = counted  # type: ignore[method-assign]
        started = time.perf_counter()
        run = services.sync("kb", full=True)
        full = time.perf_counter() - started
        embedded = sum(calls)
        calls.clear()
        started = time.perf_counter()
        again = services.sync("kb", full=True)
        resync = time.perf_counter() - started
        type(embedder).embed_documents = original  # type: ignore[method-assign]
        services.close()

    result = {
        "articles": args.articles,
        "chunks": len(texts),
        "batch_size": batch,
        "bare_embedder": {"seconds": round(bare, 2), "chunks_per_s": round(len(texts) / bare, 1)},
        "full_sync": {"seconds": round(full, 2), "chunks_per_s": round(embedded / full, 1),
                      "chunks_embedded": embedded, "status": run.status, "added": run.added},
        "ratio": round((embedded / full) / (len(texts) / bare), 3),
        "target_ratio": TARGET_RATIO,
        "no_change_full_resync": {"seconds": round(resync, 2), "embedding_calls": len(calls),
                                  "share_of_full_sync": round(resync / full, 4),
                                  "unchanged": again.skipped, "status": again.status},
        "target_resync_share": TARGET_RESYNC_SHARE,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
