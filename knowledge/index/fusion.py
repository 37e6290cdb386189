"""The search plan both backends follow: which lists to fetch, how many, how to merge them.

Each backend only executes the plan (knowledge/index/edge.py, knowledge/index/client.py); what
is decided here — the method, the candidates per list, the lexical weight — is the same for
both, so switching backends does not change the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT, Calibration

# One prefetched candidate: (point id as a string, the list's score, payload).
Candidate = tuple[str, float, dict[str, Any]]
Method = Literal["convex", "rrf", "dbsf", "dense", "sparse"]
METHODS: tuple[Method, ...] = get_args(Method)


@dataclass(frozen=True)
class FusionConfig:
    """`convex` (the default): dense cosine + λ · BM25 score min-max normalized over the lexical
    candidates, on the union of both lists; a candidate missing from a list gets 0 from it.
    λ is the knowledge base's own (knowledge/index/calibration.py: from 0.02 for a FAQ of
    unrelated questions to 1.5 for a one-product manual) unless `lexical_weight` fixes it. The
    fused score is the cosine plus at most λ. Computed in Python (`fuse_convex`) so both
    backends rank identically.
    `rrf`: weighted reciprocal-rank fusion, score 1/((rank+1)/w + k - 1) per list. `dbsf`:
    distribution-based score fusion. `dense` / `sparse`: one list alone, for comparisons in
    evaluation.

    Why convex with a calibrated λ (tuning halves, knowledge/evaluation.py): RRF cannot promise
    "never worse than dense" — a BM25 rank-1 hit displaces an adjacent dense hit whatever the
    weights — and on the manual it stays below BM25 alone (data README: RRF k=60 recall@1 0.552,
    BM25 0.580).
    """

    method: Method = "convex"
    # For `rrf`.
    k: int = 1
    dense_weight: float = 4.0
    sparse_weight: float = 1.0
    # For `convex`: λ, the weight of the normalized BM25 score; None: the calibrated one.
    lexical_weight: float | None = None
    # Candidates fetched from each list before fusion (at least the requested limit).
    prefetch: int = 50


@dataclass(frozen=True)
class SearchPlan:
    method: Method
    candidates: int  # fetched from each list (for one-list methods: the limit)
    limit: int
    lexical_weight: float  # for `convex`


def plan_search(
    fusion: FusionConfig, limit: int, has_terms: bool, calibration: Calibration | None
) -> SearchPlan:
    """The plan for one query. `has_terms`: the lexical encoding kept any term (a query of
    stopwords alone has nothing to match lexically, and is searched densely)."""
    method = fusion.method
    if method in ("convex", "rrf", "dbsf") and not has_terms:
        method = "dense"
    if fusion.lexical_weight is not None:
        weight = fusion.lexical_weight
    else:
        weight = calibration.lexical_weight if calibration else UNCALIBRATED_WEIGHT
    fused = method in ("convex", "rrf", "dbsf")
    candidates = max(limit, fusion.prefetch) if fused else limit
    return SearchPlan(method, candidates, limit, weight)


def fuse_convex(
    dense: list[Candidate], sparse: list[Candidate], lexical_weight: float, limit: int
) -> list[Candidate]:
    """Best `limit` of the union as (point id, fused score, payload); ties broken by point id so
    that both backends agree. Payloads may be empty when a backend fetches them afterwards."""
    scores = {key: score for key, score, _ in dense}
    payloads = {key: payload for key, _, payload in dense}
    if sparse:
        # Min-max over the lexical candidates: the weakest gets 0, like a point not fetched.
        high = max(score for _, score, _ in sparse)
        low = min(score for _, score, _ in sparse)
        for key, score, payload in sparse:
            share = (score - low) / (high - low) if high > low else 1.0
            scores[key] = scores.get(key, 0.0) + lexical_weight * share
            payloads.setdefault(key, payload)
    ranked = sorted(scores, key=lambda key: (-scores[key], key))[:limit]
    return [(key, scores[key], payloads[key]) for key in ranked]
