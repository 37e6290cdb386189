"""Triage model: predicts one label (queue, priority, intent) of a ticket from labelled past
tickets, with a confidence, and abstains — routes to a person — when unsure.

Method, chosen on a held-out slice of banking77 *train* and clinc150 train/val:
- a linear softmax head on the embeddings (L-BFGS, small L2), and a similarity-weighted kNN
  vote (k=10, softmax over cosine at temperature 0.05); their probabilities are mixed with a
  weight picked by cross-validation on the training tickets (the head wins on clinc150, the mix
  on banking77);
- confidence = (mixed probability)^¼ × cosine to the nearest past ticket, so a ticket unlike
  any past one is unsure even if one label wins the vote. With tens of tickets per label the
  probabilities are flat even on right answers; the fourth root makes the closeness to a past
  ticket, which tells out-of-scope text apart, weigh more than the vote;
- the abstention threshold comes from out-of-fold predictions on the training tickets only:
  at most `max_missed` of the training tickets are answered right out-of-fold yet routed to a
  person, raised by `OUT_OF_FOLD_RAISE`, but never above `MAX_THRESHOLD`, where a few tight
  clusters of tickets would push it and route paraphrases to a person. Tickets labelled
  `abstain_label` (known out-of-scope, "routed to a person") are no class: the model learns
  only from the others.

The exponent, the cap and the raise were chosen on few-shot subsets (10 and 25 tickets per
label) of banking77 and clinc150 train, scored on held-out train/val plus clinc150
oos_train/oos_val, and on clinc150's full train split; `bench/triage_fewshot.py` reports the
test splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deskpilot import Embedder

K_NEIGHBOURS = 10
KNN_TEMPERATURE = 0.05
HEAD_SCALE = 5.0  # inputs are unit vectors: scaling them lets a lightly regularised head be sharp
HEAD_L2 = 1e-4
FOLDS = 5
MIXES = (0.5, 0.75, 0.25, 1.0, 0.0)  # head weight candidates; ties go to the earlier one
N_ALTERNATIVES = 3
PROBABILITY_EXPONENT = 0.25  # confidence = probability ** this × nearest cosine
MAX_THRESHOLD = 0.475
# Added to the out-of-fold threshold: a model trained on every ticket is closer to new in-scope
# tickets than the out-of-fold models were, so the same confidence means less. Chosen on dev
# data (bench/triage_fewshot.py --split dev): it lifts clinc150 full-train out-of-scope recall
# 0.875 → 0.895 for in-scope accuracy 0.930 → 0.926, and changes the few-shot sets by ≤ 0.002.
OUT_OF_FOLD_RAISE = 0.0125
_CHUNK = 1024
# torch threads while the head trains: its L-BFGS steps are small matrix products, and on a
# busy machine torch's default pool (one thread per core) spins waiting for busy cores
# (bench/triage_fewshot.py --threads measures it).
TRAIN_THREADS = 1
_FORMAT = 2  # 2: confidence with PROBABILITY_EXPONENT; format-1 thresholds no longer fit


@dataclass(frozen=True)
class Prediction:
    label: str  # the best label, also when abstained (a suggestion for the person routing)
    confidence: float
    abstained: bool
    alternatives: list[tuple[str, float]]  # next best labels with their confidences


@dataclass(frozen=True)
class _Head:
    weight: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return _softmax(HEAD_SCALE * vectors @ self.weight.T + self.bias)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _train_head(vectors: np.ndarray, targets: np.ndarray, classes: int) -> _Head:
    """Multinomial logistic regression; convex, so zero init and L-BFGS make it deterministic."""
    x = torch.from_numpy(HEAD_SCALE * vectors)
    y = torch.from_numpy(targets)
    weight = torch.zeros(classes, vectors.shape[1], dtype=torch.float32, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=200, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y)
        loss = loss + HEAD_L2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return _Head(weight.detach().numpy().copy(), bias.detach().numpy().copy())


def _knn(queries: np.ndarray, vectors: np.ndarray, targets: np.ndarray, classes: int
         ) -> tuple[np.ndarray, np.ndarray]:
    """kNN vote probabilities and each query's cosine to its nearest neighbour."""
    k = min(K_NEIGHBOURS, len(vectors))
    probabilities = np.zeros((len(queries), classes), dtype=np.float32)
    nearest = np.zeros(len(queries), dtype=np.float32)
    for start in range(0, len(queries), _CHUNK):  # bounded memory on large ticket sets
        sims = queries[start : start + _CHUNK] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        best = top_sims.max(axis=1, keepdims=True)
        weights = np.exp((top_sims - best) / KNN_TEMPERATURE)
        rows = np.arange(len(top))[:, None] + start
        np.add.at(probabilities, (rows, targets[top]), weights)
        nearest[start : start + len(top)] = best[:, 0]
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities, nearest


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op pool at `count` threads, then as it was. The setting is process-wide
    (torch has no per-call one): callers hold it only while they train."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(embedder.embed_documents(list(texts)), dtype=np.float32)
    # Any plugin embedder may be behind this: make cosine a dot product regardless.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _confidence(probabilities: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    return probabilities**PROBABILITY_EXPONENT * np.clip(nearest, 0.0, 1.0)[:, None]


def _threshold(confidence: np.ndarray, correct: np.ndarray, max_missed: float) -> float:
    """Highest threshold that routes at most `max_missed` of the answerable tickets to a person
    out of fold, raised by `OUT_OF_FOLD_RAISE`, capped at `MAX_THRESHOLD`."""
    right = np.sort(confidence[correct])
    if len(right) == 0:
        return 0.0  # nothing to calibrate on: never abstain on confidence alone
    budget = int(np.floor(max_missed * len(confidence)))
    return min(MAX_THRESHOLD, float(right[min(budget, len(right) - 1)]) + OUT_OF_FOLD_RAISE)


def _check(count: int, labels: Sequence[str], abstain_label: str | None, max_missed: float
           ) -> None:
    if count != len(labels):
        raise ValueError(f"{count} texts but {len(labels)} labels")
    if len({label for label in labels if label != abstain_label}) < 2:
        raise ValueError("triage needs labelled examples of at least two labels")
    if not 0 <= max_missed < 1:
        raise ValueError("max_missed must be in [0, 1)")


class TriageModel:
    """Use `TriageModel.fit(...)` or `TriageModel.load(...)`; the constructor is internal."""

    def __init__(self, labels: list[str], vectors: np.ndarray, targets: np.ndarray, head: _Head,
                 mix: float, threshold: float, embedder: Embedder) -> None:
        self.labels = labels
        self.vectors = vectors
        self.targets = targets
        self.head = head
        self.mix = mix
        self.threshold = threshold
        self.embedder = embedder

    # -- training -----------------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], embedder: Embedder, *,
            abstain_label: str | None = None, max_missed: float = 0.02) -> TriageModel:
        """Learn from labelled past tickets; those labelled `abstain_label` are left out."""
        _check(len(texts), labels, abstain_label, max_missed)  # before the costly embedding
        return cls.fit_vectors(_embed(embedder, texts), labels, embedder,
                               abstain_label=abstain_label, max_missed=max_missed)

    @classmethod
    def fit_vectors(cls, vectors: np.ndarray, labels: Sequence[str], embedder: Embedder, *,
                    abstain_label: str | None = None, max_missed: float = 0.02) -> TriageModel:
        """`fit` on already embedded, unit-length texts (what `fit` itself runs)."""
        _check(len(vectors), labels, abstain_label, max_missed)
        keep = np.asarray(labels) != abstain_label
        names, targets = np.unique(np.asarray(labels)[keep], return_inverse=True)
        known = np.asarray(vectors, dtype=np.float32)[keep]
        with torch_threads(TRAIN_THREADS):
            mix, threshold = _calibrate(known, targets, len(names), max_missed)
            head = _train_head(known, targets, len(names))
        return cls([str(n) for n in names], known, targets, head, mix, threshold, embedder)

    # -- prediction ---------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        return self.predict_vectors(_embed(self.embedder, texts))

    def predict_vectors(self, vectors: np.ndarray) -> list[Prediction]:
        confidence = self._confidences(vectors)
        order = np.argsort(-confidence, axis=1)[:, : N_ALTERNATIVES + 1]
        predictions = []
        for row, ranked in zip(confidence, order, strict=True):
            best = float(row[ranked[0]])
            predictions.append(Prediction(
                label=self.labels[ranked[0]], confidence=best,
                abstained=best < self.threshold,
                alternatives=[(self.labels[i], float(row[i])) for i in ranked[1:]]))
        return predictions

    def _confidences(self, vectors: np.ndarray) -> np.ndarray:
        knn, nearest = _knn(vectors, self.vectors, self.targets, len(self.labels))
        mixed = self.mix * self.head.probabilities(vectors) + (1 - self.mix) * knn
        return _confidence(mixed, nearest)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write `path/model.npz` (arrays) and `path/meta.json`; no pickled code."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "model.npz", vectors=self.vectors, targets=self.targets,
                 weight=self.head.weight, bias=self.head.bias)
        meta = {"format": _FORMAT, "labels": self.labels, "mix": self.mix,
                "threshold": self.threshold, "embedder": self.embedder.name,
                "dimension": int(self.vectors.shape[1])}
        (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder) -> TriageModel:
        directory = Path(path)
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{directory}: unsupported triage model format {meta.get('format')}")
        with np.load(directory / "model.npz", allow_pickle=False) as arrays:
            head = _Head(arrays["weight"], arrays["bias"])
            vectors, targets = arrays["vectors"], arrays["targets"]
        return cls(meta["labels"], vectors, targets, head, float(meta["mix"]),
                   float(meta["threshold"]), embedder)


def _calibrate(vectors: np.ndarray, targets: np.ndarray, classes: int, max_missed: float
               ) -> tuple[float, float]:
    """Head/kNN mix and abstention threshold from out-of-fold predictions on training data."""
    folds = np.random.default_rng(0).permutation(len(vectors)) % min(FOLDS, len(vectors))
    head_p = np.zeros((len(vectors), classes), dtype=np.float32)
    knn_p = np.zeros_like(head_p)
    nearest = np.zeros(len(vectors), dtype=np.float32)
    for fold in range(folds.max() + 1):
        held, kept = folds == fold, folds != fold
        head_p[held] = _train_head(vectors[kept], targets[kept], classes).probabilities(
            vectors[held])
        knn_p[held], nearest[held] = _knn(vectors[held], vectors[kept], targets[kept], classes)
    accuracy = [((m * head_p + (1 - m) * knn_p).argmax(axis=1) == targets).mean()
                for m in MIXES]
    mix = MIXES[int(np.argmax(accuracy))]
    mixed = _confidence(mix * head_p + (1 - mix) * knn_p, nearest)
    return mix, _threshold(mixed.max(axis=1), mixed.argmax(axis=1) == targets, max_missed)
