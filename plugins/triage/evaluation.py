"""Offline evaluation of triage: train `TriageModel` on one labelled JSON Lines file (or several),
predict another, score. Backs `deskpilot eval triage`."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deskpilot import Embedder
from deskpilot.cli import read_jsonl

from .model import TriageModel

Paths = str | Path | Sequence[str | Path]


def read_examples(paths: Paths, text_field: str = "text", label_field: str | None = None
                  ) -> tuple[list[str], list[str], str]:
    """Texts and labels from JSON Lines; `label_field` defaults to the one field besides text."""
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    records = [record for file in files for record in read_jsonl(Path(file))]
    if not records:
        raise ValueError(f"no records in {', '.join(map(str, files))}")
    if label_field is None:
        others = sorted(set(records[0]) - {text_field})
        if len(others) != 1:
            raise ValueError(f"cannot tell the label field among {others}; pass label_field")
        label_field = others[0]
    missing = next((r for r in records if text_field not in r or label_field not in r), None)
    if missing is not None:
        raise ValueError(f"a record lacks {text_field!r} or {label_field!r}: {missing}")
    return [str(r[text_field]) for r in records], [str(r[label_field]) for r in records], \
        label_field


def _macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    scores = []
    for label in np.unique(gold):
        hits = float(((predicted == label) & (gold == label)).sum())
        guessed, actual = float((predicted == label).sum()), float((gold == label).sum())
        scores.append(2 * hits / (guessed + actual) if guessed + actual else 0.0)
    return float(np.mean(scores))


def _progress(message: str) -> None:
    print(f"[triage eval] {message}", file=sys.stderr, flush=True)


def evaluate_triage(train_path: Paths, test_path: Paths, text_field: str = "text",
                    label_field: str | None = None, abstain_label: str | None = None, *,
                    embedder: Embedder, max_missed: float = 0.02) -> dict[str, Any]:
    """Train on `train_path`, predict `test_path`. An abstention counts as `abstain_label` when
    given (so it is right on out-of-scope examples), else as wrong. With `abstain_label` the
    result also has in-scope accuracy and out-of-scope recall."""
    train_texts, train_labels, label_field = read_examples(train_path, text_field, label_field)
    test_texts, test_labels, _ = read_examples(test_path, text_field, label_field)
    started = time.monotonic()
    _progress(f"training on {len(train_texts)} examples ({label_field!r})")
    model = TriageModel.fit(train_texts, train_labels, embedder, abstain_label=abstain_label,
                            max_missed=max_missed)
    _progress(f"trained in {time.monotonic() - started:.0f}s; predicting {len(test_texts)}")
    predictions = model.predict(test_texts)
    _progress(f"done in {time.monotonic() - started:.0f}s")
    result = score([p.label for p in predictions], [p.abstained for p in predictions],
                   test_labels, abstain_label)
    result.update(label_field=label_field, threshold=round(model.threshold, 4),
                  head_weight=model.mix)
    return result


def score(labels: Sequence[str], abstained: Sequence[bool], gold: Sequence[str],
          abstain_label: str | None = None) -> dict[str, Any]:
    """Accuracy with abstention: an abstention counts as `abstain_label` when given (so it is
    right on an out-of-scope ticket and wrong on any other), else as wrong. `labels` are the
    best labels, also where abstained. With `abstain_label` the result also has in-scope
    accuracy (abstentions wrong) and out-of-scope recall (share abstained)."""
    routed = np.asarray(abstained, dtype=bool)
    fallback = abstain_label if abstain_label is not None else "\x00abstained"  # never gold
    best = np.asarray(labels)
    predicted = np.where(routed, fallback, best)
    truth = np.asarray(gold)
    top = best == truth
    result: dict[str, Any] = {
        "n": len(truth),
        "accuracy": round(float((predicted == truth).mean()), 4),
        "macro_f1": round(_macro_f1(truth, predicted), 4),
        "abstain_rate": round(float(routed.mean()), 4),
        # The best label's accuracy ignoring abstention, and accuracy on the tickets answered.
        "label_accuracy": round(float(top.mean()), 4),
        "answered_accuracy": round(float(top[~routed].mean()), 4) if (~routed).any()
        else None,
    }
    if abstain_label is not None:
        inside = truth != abstain_label
        result["in_scope_accuracy"] = round(float((predicted == truth)[inside].mean()), 4)
        result["out_of_scope_recall"] = round(float(routed[~inside].mean()), 4) \
            if (~inside).any() else None
    return result
