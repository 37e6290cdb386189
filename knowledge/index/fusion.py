"""How hybrid search merges its dense and sparse candidate lists; shared by both backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# One prefetched candidate: (point id as a string, the list's score, payload).
Candidate = tuple[str, float, dict[str, Any]]


@dataclass(frozen=True)
class FusionConfig:
    """`convex`: dense cosine + lexical_weight · BM25 score min-max normalized over the lexical
    candidates, on the union of both prefetches; a candidate missing from a list gets 0 from
    it. The fused score stays on the cosine scale: the top cosine plus at most
    lexical_weight. Computed in Python (`fuse_convex`) so both backends rank identically.
    `rrf`: weighted reciprocal-rank fusion, score 1/((rank+1)/w + k - 1) per list — the weights
    act like score weights only at small k. `dbsf`: distribution-based score fusion.
    `dense` / `sparse`: one list alone, for comparisons in evaluation.

    The default λ is the largest that kept every metric ≥ dense alone on the tuning half of
    stackfaq (knowledge/evaluation.py) while improving one: there, one query's answer sits 0.003
    cosine above the 6th article, so any larger weight costs recall@5, and BM25 acts as a
    tie-breaker among near-equal cosines. recall@1 / recall@5 / MRR@10:
      tuning    convex 0.958 / 1.000 / 0.976, dense 0.955 / 1.000 / 0.975
      held-out  convex 0.960 / 0.993 / 0.977, dense 0.960 / 0.993 / 0.977, BM25 0.640 / 0.871 /
                0.743, RRF k=1 [4, 1] 0.960 / 0.993 / 0.975
      all 615   convex 0.959 / 0.997 / 0.977, dense 0.958 / 0.997 / 0.976, BM25 0.659 / 0.904 /
                0.763, RRF k=1 [4, 1] 0.958 / 0.995 / 0.975
    RRF cannot promise "never worse than dense": a BM25 rank-1 hit displaces an adjacent dense
    hit whatever the weights. On manual-style text, where words matter more, re-tune λ.
    """

    method: Literal["convex", "rrf", "dbsf", "dense", "sparse"] = "convex"
    # For `rrf`.
    k: int = 1
    dense_weight: float = 4.0
    sparse_weight: float = 1.0
    # For `convex`: the weight of the normalized BM25 score (λ).
    lexical_weight: float = 0.0026
    # Candidates fetched from each list before fusion (at least the requested limit).
    prefetch: int = 50

    def prefetch_limit(self, limit: int) -> int:
        return max(limit, self.prefetch)


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
