"""Triage accuracy and abstention on banking77 and clinc150 (../shared/data); prints JSON.

    python bench/triage_eval.py

banking77 (Casanueva et al., 2020, CC BY 4.0): train → test, label `category`.
clinc150 (Larson et al., 2019, CC BY 3.0): train+val+oos_train+oos_val → test+oos_test, label
`intent`, out-of-scope is "oos" (abstaining on it is right). Both use the default abstention
budget (max_missed=0.02) unless named otherwise. Nothing is tuned on a test split. Embeddings
are cached in /tmp between runs (as bench/triage_fewshot.py does). The plain-kNN line is the
reference baseline: k=10 similarity-weighted vote, never abstaining.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from triage_fewshot import Embeddings  # this folder: the /tmp embedding cache

from deskpilot._embedder import Embedder, EmbedderSettings
from deskpilot.plugins.embedders import LocalEmbedder
from deskpilot.plugins.triage.evaluation import evaluate_triage, read_examples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class CachedEmbedder(Embedder):
    """Embeds each distinct text once per run (the kNN baseline reuses the eval's vectors)."""

    name = "cached"

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.cache: dict[str, list[float]] = {}

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for start in range(0, len(new), 2048):
            batch = new[start : start + 2048]
            self.cache.update(zip(batch, self.inner.embed_documents(batch), strict=True))
            print(f"[bench] embedded {min(start + 2048, len(new))}/{len(new)}", file=sys.stderr,
                  flush=True)
        return [self.cache[t] for t in texts]

    def prefill(self, files: Sequence[tuple[Path, str]]) -> None:
        """Vectors of these JSON Lines files from the /tmp cache, embedding any not there yet."""
        cached = Embeddings()
        for path, label_field in files:
            texts, _, _ = read_examples(path, label_field=label_field)
            vectors, _ = cached.load(path, label_field)
            self.cache.update(zip(texts, vectors.tolist(), strict=True))


def plain_knn_accuracy(embedder: Embedder, train: list[Path], test: list[Path], k: int = 10
                       ) -> float:
    texts, labels, _ = read_examples(train, label_field="intent")
    queries, gold, _ = read_examples(test, label_field="intent")
    x = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    q = np.asarray(embedder.embed_documents(queries), dtype=np.float32)
    names, targets = np.unique(labels, return_inverse=True)
    sims = q @ x.T
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    votes = np.zeros((len(q), len(names)))
    np.add.at(votes, (np.arange(len(q))[:, None], targets[top]),
              np.take_along_axis(sims, top, axis=1))
    return round(float((names[votes.argmax(axis=1)] == np.array(gold)).mean()), 4)


def main() -> None:
    torch.set_num_threads(1)  # on shared cores torch's thread pool spins
    embedder = CachedEmbedder(LocalEmbedder(EmbedderSettings()))
    banking, clinc = DATA / "banking77", DATA / "clinc150"
    embedder.prefill([(banking / f"{n}.jsonl", "category") for n in ("train", "test")]
                     + [(clinc / f"{n}.jsonl", "intent") for n in (
                         "train", "val", "test", "oos_train", "oos_val", "oos_test")])
    result = {"banking77": evaluate_triage(banking / "train.jsonl", banking / "test.jsonl",
                                           label_field="category", embedder=embedder)}
    # A second operating point fixed in advance: route no ticket the model would get right.
    result["banking77_max_missed_0"] = evaluate_triage(
        banking / "train.jsonl", banking / "test.jsonl", label_field="category",
        embedder=embedder, max_missed=0.0)
    in_scope_train = [clinc / "train.jsonl", clinc / "val.jsonl"]
    result["clinc150"] = evaluate_triage(
        [*in_scope_train, clinc / "oos_train.jsonl", clinc / "oos_val.jsonl"],
        [clinc / "test.jsonl", clinc / "oos_test.jsonl"], label_field="intent",
        abstain_label="oos", embedder=embedder)
    result["clinc150"]["plain_knn_in_scope_accuracy"] = plain_knn_accuracy(
        embedder, in_scope_train, [clinc / "test.jsonl"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
