"""The per-knowledge-base lexical weight: its measure, its curve, where it is kept, who sets it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from deskpilot._documents import DocumentKind
from deskpilot.core.services import Services
from deskpilot.knowledge.index import EdgeIndex, FusionConfig, QdrantClientIndex
from deskpilot.knowledge.index.calibration import (
    ALIKE,
    DIVERSE,
    UNCALIBRATED_WEIGHT,
    calibrate,
    homogeneity,
    lexical_weight_for,
)
from deskpilot.knowledge.index.fusion import plan_search
from deskpilot.knowledge.interfaces import VectorIndex
from tests.knowledge.index.test_backends import DIM, chunk, unit


def _brute_force(vectors: list[list[float]], documents: list[str]) -> float:
    pairs = [
        sum(x * y for x, y in zip(vectors[i], vectors[j], strict=True))
        for i, j in itertools.permutations(range(len(vectors)), 2)
        if documents[i] != documents[j]
    ]
    return sum(pairs) / len(pairs)


def test_homogeneity_is_the_mean_cosine_between_chunks_of_different_documents() -> None:
    vectors = [unit(seed) for seed in range(9)]
    documents = ["a", "a", "a", "b", "b", "c", "d", "d", "d"]
    assert homogeneity(vectors, documents) == pytest.approx(_brute_force(vectors, documents))


def test_pairs_within_one_document_do_not_count() -> None:
    x, y = [1.0, 0.0], [0.0, 1.0]
    # Each document's chunks are identical, the two documents orthogonal: no crowding at all.
    assert homogeneity([x, x, x, y, y], ["a", "a", "a", "b", "b"]) == pytest.approx(0.0)
    assert homogeneity([x, x], ["a", "a"]) == 0.0  # one document
    assert homogeneity([], []) == 0.0
    with pytest.raises(ValueError, match="2 vectors but 1 document"):
        homogeneity([x, y], ["a"])


def test_weight_rises_with_homogeneity_from_anchor_to_anchor_and_is_clamped() -> None:
    assert lexical_weight_for(DIVERSE[0]) == pytest.approx(DIVERSE[1])
    assert lexical_weight_for(ALIKE[0]) == pytest.approx(ALIKE[1])
    assert lexical_weight_for(-0.2) == lexical_weight_for(DIVERSE[0])
    assert lexical_weight_for(0.9) == lexical_weight_for(ALIKE[0])
    middle = [lexical_weight_for(h / 100) for h in range(10, 27)]
    assert middle == sorted(middle) and DIVERSE[1] < middle[5] < ALIKE[1]


def test_the_plan_uses_the_calibrated_weight_unless_one_is_fixed() -> None:
    crowded = calibrate([[1.0, 0.0], [1.0, 0.0]], ["a", "b"])  # identical documents
    assert crowded.homogeneity == pytest.approx(1.0) and crowded.lexical_weight == ALIKE[1]
    assert plan_search(FusionConfig(), 5, True, crowded).lexical_weight == ALIKE[1]
    assert plan_search(FusionConfig(), 5, True, None).lexical_weight == UNCALIBRATED_WEIGHT
    fixed = plan_search(FusionConfig(lexical_weight=0.3), 5, True, crowded)
    assert (fixed.method, fixed.lexical_weight, fixed.candidates) == ("convex", 0.3, 50)
    # Stopwords only: nothing to fuse with, both backends search densely.
    assert plan_search(FusionConfig(), 5, False, crowded).method == "dense"
    assert plan_search(FusionConfig(method="sparse"), 5, True, None).candidates == 5


def _open(kind: str, tmp_path: Path) -> VectorIndex:
    if kind == "embedded":
        return EdgeIndex(tmp_path / "index", DIM)
    return QdrantClientIndex(str(tmp_path / "qdrant"), DIM)


@pytest.mark.parametrize("kind", ["embedded", "qdrant-local"])
def test_both_backends_calibrate_on_their_articles_and_keep_it(kind: str, tmp_path: Path) -> None:
    index = _open(kind, tmp_path)
    articles = [chunk(doc, position) for doc in "abc" for position in range(2)]
    tickets = [chunk(f"t{n}", kind=DocumentKind.TICKET) for n in range(3)]
    vectors = [unit(n) for n in range(len(articles))]
    index.upsert(articles + tickets, vectors + [unit(100 + n) for n in range(len(tickets))])
    result = index.calibrate()
    expected = calibrate(vectors, [f"hc\x1farticle\x1f{c.document_id}" for c in articles])
    assert result == expected and result.chunks == len(articles)  # tickets left out
    index.close()
    reopened = _open(kind, tmp_path)
    try:
        assert reopened.calibration == expected  # type: ignore[attr-defined]
    finally:
        reopened.close()


def test_an_index_from_before_calibration_is_calibrated_when_opened(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "index", DIM)
    assert index.calibration is None  # empty: nothing to calibrate on
    index.upsert([chunk("a"), chunk("b")], [unit(1), unit(2)])
    index.close()  # never calibrated, like an index built by an older version
    assert not (tmp_path / "index.calibration.json").exists()
    reopened = EdgeIndex(tmp_path / "index", DIM)
    try:
        assert reopened.calibration is not None and reopened.calibration.chunks == 2
    finally:
        reopened.close()


def test_a_sync_that_changes_the_corpus_recalibrates(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in [("refunds", "Refunds within 14 days."), ("dns", "Point a CNAME.")]:
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n")
    services = make_services({"kb": {"type": "local", "path": str(folder)}})
    index = services.index
    assert index.calibration is None  # type: ignore[attr-defined]
    services.sync("kb")
    first = index.calibration  # type: ignore[attr-defined]
    assert first is not None and first.chunks == index.count()
    services.sync("kb")  # nothing changed: the calibration stands
    assert index.calibration is first  # type: ignore[attr-defined]
    (folder / "sso.md").write_text("# SAML SSO\n\nConfigure your identity provider.\n")
    services.sync("kb")
    assert index.calibration.chunks == index.count() > first.chunks  # type: ignore[attr-defined]
