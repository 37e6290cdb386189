"""A knowledge base's own lexical weight, computed from its corpus when it is synced.

How much BM25 should count against the dense cosine depends on the help center. Where the
documents are about different things (a FAQ of unrelated questions), MiniLM tells them apart
and users' paraphrases share few words with the answer: BM25 must only break near-ties. Where
all documents are about one product (a device manual), their vectors crowd together — the
cosine barely separates "Using Ambient Mode" from "Ambient Mode settings" — while users name
the features in the manual's own words: BM25 must lead.

The measure of that crowding is the corpus's *homogeneity*: the mean cosine between chunks of
different documents. It needs no labelled questions, costs one pass over the stored vectors and
does not grow with the corpus size (unlike, say, the nearest neighbour's cosine). The lexical
weight λ rises log-linearly with it between two anchors, and is clamped outside them.

The anchors are the λ that did best on the tuning halves (knowledge/evaluation.py) of the two
reference sets, each the best recall@1 on a plateau that keeps recall@5 at its peak:

    stackfaq (125 unrelated FAQ threads)  homogeneity 0.095   λ 0.02  (plateau 0.01–0.03)
    smarttv  (261 sections of one manual) homogeneity 0.269   λ 1.5   (plateau 1.2–1.8)

The wrong weight is costly (full sets, recall@1 / recall@5): smarttv with stackfaq's λ 0.02
0.46 / 0.77 instead of 0.70 / 0.93; stackfaq with smarttv's λ 1.5 0.76 / 0.95 instead of
0.96 / 1.00. No single λ reaches both sets' targets (README, "Measured").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DIVERSE = (0.095, 0.02)  # (homogeneity, λ) of the FAQ anchor
ALIKE = (0.269, 1.5)  # (homogeneity, λ) of the manual anchor
# λ before a knowledge base has been calibrated (an empty index): the FAQ anchor, which
# keeps the ranking closest to dense alone.
UNCALIBRATED_WEIGHT = DIVERSE[1]
# Points read to calibrate: enough for a stable mean, bounded for large indexes.
SAMPLE_POINTS = 20_000


@dataclass(frozen=True)
class Calibration:
    homogeneity: float
    lexical_weight: float
    chunks: int  # how many chunks it was computed from

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(float(data["homogeneity"]), float(data["lexical_weight"]), int(data["chunks"]))


def homogeneity(vectors: Sequence[Sequence[float]], documents: Sequence[str]) -> float:
    """Mean cosine between unit vectors of different documents (pairs within one document
    left out, so long documents do not count as crowding). Exact, in one pass: the sum over
    all pairs is |Σv|², and each document's own pairs are |Σ of its v|²."""
    if len(vectors) != len(documents):
        raise ValueError(f"{len(vectors)} vectors but {len(documents)} document keys")
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) == 0:
        return 0.0
    total = matrix.sum(axis=0)
    keys, groups = np.unique(np.asarray(documents, dtype=object).astype(str), return_inverse=True)
    per_document = np.zeros((len(keys), matrix.shape[1]))
    np.add.at(per_document, groups, matrix)
    sizes = np.bincount(groups)
    pairs = len(matrix) ** 2 - int((sizes**2).sum())
    if pairs == 0:  # one document: nothing to crowd
        return 0.0
    return float((total @ total - (per_document**2).sum()) / pairs)


def lexical_weight_for(value: float) -> float:
    """λ for a corpus of this homogeneity: log-linear between the anchors, clamped."""
    (h_low, w_low), (h_high, w_high) = DIVERSE, ALIKE
    share = min(max((value - h_low) / (h_high - h_low), 0.0), 1.0)
    return round(math.exp(math.log(w_low) + share * math.log(w_high / w_low)), 4)


def calibrate(vectors: Sequence[Sequence[float]], documents: Sequence[str]) -> Calibration:
    value = homogeneity(vectors, documents)
    return Calibration(round(value, 4), lexical_weight_for(value), len(vectors))
