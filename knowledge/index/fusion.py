"""How hybrid search merges its dense and sparse candidate lists; shared by both backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class FusionConfig:
    """`rrf`: weighted reciprocal-rank fusion, score 1/((rank+1)/w + k - 1) per list — the weights
    act like score weights only at small k. `dbsf`: distribution-based score fusion.
    `dense` / `sparse`: one list alone, for comparisons in evaluation.

    The default was chosen on the tuning half of stackfaq (see knowledge/evaluation.py): at k=1
    the dense list leads and BM25 reorders only the tail; equal weights, k≥2 and DBSF were all
    worse than dense alone there (recall@1 0.80–0.93 vs 0.955). Fused scores are rank-based:
    the best possible is dense_weight/k + sparse_weight/k.
    """

    method: Literal["rrf", "dbsf", "dense", "sparse"] = "rrf"
    k: int = 1
    dense_weight: float = 4.0
    sparse_weight: float = 1.0
    # Candidates fetched from each list before fusion (at least the requested limit).
    prefetch: int = 50

    def prefetch_limit(self, limit: int) -> int:
        return max(limit, self.prefetch)
