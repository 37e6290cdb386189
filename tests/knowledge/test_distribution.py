"""The one summary of a set of scores that the draft evaluation and simulation reports show."""

from __future__ import annotations

from deskpilot.knowledge.distribution import distribution


def test_percentiles_interpolate_and_the_histogram_counts_every_score() -> None:
    summary = distribution([0.0, 1.0, 0.25, 0.55])
    assert summary["n"] == 4 and summary["mean"] == 0.45
    assert (summary["p10"], summary["median"], summary["p90"]) == (0.075, 0.4, 0.865)
    assert summary["histogram"] == [1, 0, 1, 0, 0, 1, 0, 0, 0, 1]  # 1.0 in the last bin


def test_no_scores_and_one_score() -> None:
    empty = distribution([])
    assert empty["n"] == 0 and empty["median"] is None and sum(empty["histogram"]) == 0
    one = distribution([0.7])
    assert one["p10"] == one["median"] == one["p90"] == 0.7 and one["histogram"][7] == 1
