"""A set of scores in [0, 1] summed up for a report: how many, their mean, percentiles and a
10-bin histogram. The one summary the draft evaluation (`deskpilot eval drafts`) and the
simulation report (`report.json`, the dashboard's charts) both show."""

from __future__ import annotations

import statistics
from typing import Any

HISTOGRAM_BINS = 10  # over [0, 1); a score of exactly 1 counts in the last bin


def distribution(values: list[float], digits: int = 3) -> dict[str, Any]:
    """{"n", "mean", "p10", "p25", "median", "p75", "p90", "histogram"}; with no values, n is
    0, the figures None and the histogram all zeros. Percentiles are interpolated between the
    values (numpy's default), so two values give a p10 between them."""
    histogram = [0] * HISTOGRAM_BINS
    for value in values:
        histogram[min(HISTOGRAM_BINS - 1, max(0, int(value * HISTOGRAM_BINS)))] += 1
    if not values:
        return {"n": 0, "mean": None, "p10": None, "p25": None, "median": None, "p75": None,
                "p90": None, "histogram": histogram}
    # quantiles() needs two values; one value is every percentile of itself.
    cuts = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 \
        else [values[0]] * 19
    p10, p25, p50, p75, p90 = (cuts[1], cuts[4], cuts[9], cuts[14], cuts[17])
    return {"n": len(values), "mean": round(statistics.fmean(values), digits),
            **{name: round(value, digits) for name, value in
               (("p10", p10), ("p25", p25), ("median", p50), ("p75", p75), ("p90", p90))},
            "histogram": histogram}
