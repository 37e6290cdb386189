"""Triage abstention with few labelled tickets: the default rule against a fixed similarity
threshold of 0.6, on few-shot subsets of banking77 and clinc150 (../shared/data); prints JSON.

    nice python bench/triage_fewshot.py                 # the report: test splits
    nice python bench/triage_fewshot.py --split dev     # what the rule was chosen on

Training sets: `--shots` (10 and 25) tickets per label drawn from `train` with `--seeds` (0-4),
never an out-of-scope one. Scored on (`--split test`) banking77 test or clinc150 test, each
plus clinc150 oos_test; (`--split dev`) banking77 train tickets outside the subset or clinc150
val (drawn to the test splits' in/out ratio), each plus clinc150 oos_train + oos_val. A last
row trains on clinc150's full train split and scores its test + oos_test (or val + oos_train/
oos_val).

Accuracy with abstention (`deskpilot.plugins.triage.evaluation.score`, as `deskpilot eval
triage --abstain-label oos`): over in-scope and out-of-scope tickets together, an answered
ticket is right when its label is; an abstention is right on an out-of-scope ticket and wrong on
an in-scope one. Both rules share the same trained model and so the same labels:
  default          TriageModel as shipped (its confidence and calibrated threshold);
  fixed_0.6        abstain iff the cosine to the nearest past ticket is below 0.6.

Embeddings (all-MiniLM-L6-v2) are cached in /tmp/deskpilot-bench-cache/triage between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from deskpilot._embedder import EmbedderSettings
from deskpilot.plugins.embedders import LocalEmbedder
from deskpilot.plugins.triage import model as model_module
from deskpilot.plugins.triage.evaluation import read_examples, score
from deskpilot.plugins.triage.model import TriageModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CACHE = Path("/tmp/deskpilot-bench-cache/triage")
FIXED_THRESHOLD = 0.6
OOS = "oos"
# Dev in-scope tickets drawn to the test splits' in-scope : out-of-scope ratio (3080 : 1000 and
# 4500 : 1000), against the 200 dev out-of-scope ones, so dev accuracy weighs them alike.
DEV_IN_SCOPE = {"banking77": 616, "clinc150": 900}
_BATCH = 256  # small batches: the two cores are shared


def _progress(message: str) -> None:
    print(f"[triage fewshot] {message}", file=sys.stderr, flush=True)


class Embeddings:
    """Unit vectors of a JSON Lines file's texts, embedded once and kept on disk in /tmp."""

    def __init__(self) -> None:
        self.embedder = LocalEmbedder(EmbedderSettings())

    def load(self, path: Path, label_field: str) -> tuple[np.ndarray, np.ndarray]:
        texts, labels, _ = read_examples(path, label_field=label_field)
        digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
        cached = CACHE / f"minilm-{path.parent.name}-{path.stem}-{digest}.npy"
        if cached.exists():
            vectors = np.load(cached)
        else:
            parts = []
            for start in range(0, len(texts), _BATCH):
                parts.append(np.asarray(self.embedder.embed_documents(
                    texts[start : start + _BATCH]), dtype=np.float32))
                _progress(f"embedded {min(start + _BATCH, len(texts))}/{len(texts)} of {path}")
            vectors = np.concatenate(parts)
            CACHE.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors, np.asarray(labels)


def few_shot(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Indices of `shots` examples per label (all of a label with fewer), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == label), size=min(shots, (labels == label).sum()),
                         replace=False) for label in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def compare(model: TriageModel, queries: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    predictions = model.predict_vectors(queries)
    labels = [p.label for p in predictions]
    nearest = np.concatenate([(queries[start : start + 1024] @ model.vectors.T).max(axis=1)
                              for start in range(0, len(queries), 1024)])
    keep = ("accuracy", "in_scope_accuracy", "out_of_scope_recall", "abstain_rate")
    rules = {"default": [p.abstained for p in predictions],
             f"fixed_{FIXED_THRESHOLD}": list(nearest < FIXED_THRESHOLD)}
    return {name: {k: v for k, v in score(labels, routed, gold, OOS).items() if k in keep}
            for name, routed in rules.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 25])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-full", action="store_true", help="no full-train clinc150 row")
    parser.add_argument("--train-threads", type=int, default=model_module.TRAIN_THREADS,
                        help="torch threads while a model trains (default: the model's own; "
                             "fit_seconds in the output)")
    args = parser.parse_args()
    model_module.TRAIN_THREADS = args.train_threads
    embeddings = Embeddings()
    clinc, banking = DATA / "clinc150", DATA / "banking77"
    out_names = ("oos_test",) if args.split == "test" else ("oos_train", "oos_val")
    oos = np.concatenate([embeddings.load(clinc / f"{n}.jsonl", "intent")[0] for n in out_names])
    result: dict[str, Any] = {"split": args.split, "shots": args.shots, "seeds": args.seeds,
                              "runs": {}, "means": {}}
    for name, folder, field in (("banking77", banking, "category"), ("clinc150", clinc, "intent")):
        train, train_labels = embeddings.load(folder / "train.jsonl", field)
        for shots in args.shots:
            runs = []
            for seed in range(args.seeds):
                chosen = few_shot(train_labels, shots, seed)
                if args.split == "test":
                    inside, inside_gold = embeddings.load(folder / "test.jsonl", field)
                else:
                    if name == "banking77":  # no val split: train tickets outside the subset
                        pool = np.setdiff1d(np.arange(len(train)), chosen)
                        vectors, gold = train[pool], train_labels[pool]
                    else:
                        vectors, gold = embeddings.load(folder / "val.jsonl", field)
                    drawn = np.random.default_rng(seed).choice(len(gold), DEV_IN_SCOPE[name],
                                                               replace=False)
                    inside, inside_gold = vectors[drawn], gold[drawn]
                started = time.monotonic()
                model = TriageModel.fit_vectors(train[chosen], list(train_labels[chosen]),
                                                embeddings.embedder)
                fitted = time.monotonic()
                figures = compare(model, np.concatenate([inside, oos]),
                                  np.concatenate([inside_gold, np.full(len(oos), OOS)]))
                figures.update(seed=seed, threshold=round(model.threshold, 4),
                               fit_seconds=round(fitted - started, 2))
                runs.append(figures)
                _progress(f"{name} {shots}/label seed {seed}: default "
                          f"{figures['default']['accuracy']:.4f}, fixed "
                          f"{figures[f'fixed_{FIXED_THRESHOLD}']['accuracy']:.4f} "
                          f"({time.monotonic() - started:.0f}s)")
            key = f"{name}_{shots}_per_label"
            result["runs"][key] = runs
            result["means"][key] = {
                rule: {metric: round(float(np.mean([r[rule][metric] for r in runs])), 4)
                       for metric in runs[0][rule]}
                for rule in ("default", f"fixed_{FIXED_THRESHOLD}")}
            result["means"][key]["default_wins"] = sum(
                r["default"]["accuracy"] > r[f"fixed_{FIXED_THRESHOLD}"]["accuracy"]
                for r in runs)
    if not args.skip_full:
        train, train_labels = embeddings.load(clinc / "train.jsonl", "intent")
        inside, inside_gold = embeddings.load(
            clinc / ("test.jsonl" if args.split == "test" else "val.jsonl"), "intent")
        _progress(f"clinc150 full train ({len(train)} tickets)")
        started = time.monotonic()
        model = TriageModel.fit_vectors(train, list(train_labels), embeddings.embedder)
        fit_seconds = round(time.monotonic() - started, 2)
        result["clinc150_full_train"] = compare(
            model, np.concatenate([inside, oos]),
            np.concatenate([inside_gold, np.full(len(oos), OOS)]))
        result["clinc150_full_train"].update(threshold=round(model.threshold, 4),
                                             fit_seconds=fit_seconds)
    result["train_threads"] = args.train_threads
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
