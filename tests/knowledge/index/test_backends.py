"""One VectorIndex contract, run against both backends: embedded Qdrant Edge and qdrant-client
(local mode, the same code path as a server apart from transport)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deskpilot._documents import Audience, DocumentKind
from deskpilot.core.config import IndexSettings
from deskpilot.knowledge.index import (
    EdgeIndex,
    FusionConfig,
    IndexLocked,
    IndexMismatch,
    QdrantClientIndex,
    open_index,
)
from deskpilot.knowledge.index.fusion import fuse_convex
from deskpilot.knowledge.interfaces import Chunk, SearchFilter, VectorIndex
from deskpilot.knowledge.search import Searcher

DIM = 16
Opener = Callable[[], VectorIndex]


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    vector = [rng.gauss(0, 1) for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def chunk(doc: str, position: int = 0, *, text: str | None = None, source: str = "hc",
          kind: DocumentKind = DocumentKind.ARTICLE, audience: Audience = Audience.PUBLIC,
          locale: str = "en") -> Chunk:
    return Chunk(source=source, kind=kind, document_id=doc, position=position,
                 title=f"Title {doc}", text=text or f"Title {doc} passage {position}",
                 audience=audience, url=f"https://help/{doc}", locale=locale)


@pytest.fixture(params=["embedded", "qdrant-local"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens (or reopens) the same index; every index opened is closed at the end."""
    opened: list[VectorIndex] = []

    def open_() -> VectorIndex:
        if request.param == "embedded":
            index: VectorIndex = EdgeIndex(tmp_path / "index", DIM)
        else:
            index = QdrantClientIndex(str(tmp_path / "qdrant"), DIM)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def index(opener: Opener) -> VectorIndex:
    return opener()


def ids(passages: list) -> list[tuple[str, int]]:
    return [(p.document_id, p.position) for p in passages]


def test_upsert_then_search_returns_passages_with_payload(index: VectorIndex) -> None:
    chunks = [chunk("a", text="How to reset your password"), chunk("b", text="Shipping rates")]
    index.upsert(chunks, [unit(1), unit(2)])
    assert index.count() == 2
    [best] = index.search(unit(1), "reset password", 1)
    assert (best.document_id, best.title, best.text, best.url, best.source, best.kind,
            best.audience, best.locale, best.position) == (
        "a", "Title a", "How to reset your password", "https://help/a", "hc",
        DocumentKind.ARTICLE, Audience.PUBLIC, "en", 0)
    assert best.score > 0 and best.authors == ()


def test_a_ticket_passage_keeps_who_wrote_each_line(index: VectorIndex) -> None:
    ticket = Chunk(source="zd", kind=DocumentKind.TICKET, document_id="9", position=0,
                   title="Reset", text="Reset\nI got no email.\nCheck your spam folder.",
                   audience=Audience.INTERNAL, authors=("", "customer", "agent"))
    index.upsert([ticket], [unit(3)])
    [hit] = index.search(unit(3), "reset email", 1)
    assert hit.authors == ("", "customer", "agent")


def test_a_passage_keeps_which_lines_are_headings(index: VectorIndex) -> None:
    section = Chunk(source="hc", kind=DocumentKind.ARTICLE, document_id="p", position=1,
                    title="Plans", text="Plans\nPro — 29 USD\nUnlimited apps.",
                    audience=Audience.PUBLIC, headings=("Pro — 29 USD",))
    index.upsert([section, chunk("a", text="Shipping rates")], [unit(4), unit(5)])
    [hit] = index.search(unit(4), "pro plan", 1)
    assert hit.headings == ("Pro — 29 USD",) and hit.as_dict()["headings"] == ["Pro — 29 USD"]
    [other] = index.search(unit(5), "shipping", 1)
    assert other.headings == ()


def test_dense_and_lexical_both_find_their_match(index: VectorIndex) -> None:
    texts = ["invoice download pdf", "password reset email", "cancel subscription plan"]
    index.upsert([chunk(str(i), text=t) for i, t in enumerate(texts)], [unit(i) for i in range(3)])
    assert index.search(unit(2), "zzz unrelated words", 1)[0].document_id == "2"
    # A query vector matching nothing in particular, the words weighted heavily: they decide.
    for fusion in (FusionConfig(method="rrf", dense_weight=1.0),
                   FusionConfig(method="convex", lexical_weight=2.0)):
        index.fusion = fusion  # type: ignore[attr-defined]
        assert index.search(unit(99), "password resetting", 1)[0].document_id == "1"


def test_overwrite_does_not_duplicate(index: VectorIndex) -> None:
    index.upsert([chunk("a", 0), chunk("a", 1)], [unit(1), unit(2)])
    index.upsert([chunk("a", 0, text="new text"), chunk("a", 1)], [unit(3), unit(2)])
    assert index.count() == 2
    assert index.search(unit(3), "new text", 1)[0].text == "new text"


def test_upsert_rejects_mismatched_vectors(index: VectorIndex) -> None:
    with pytest.raises(ValueError):
        index.upsert([chunk("a")], [])


def test_delete_document_removes_only_that_document(index: VectorIndex) -> None:
    index.upsert(
        [chunk("a", 0), chunk("a", 1), chunk("b"), chunk("a", source="other"),
         chunk("a", kind=DocumentKind.TICKET)],
        [unit(i) for i in range(5)],
    )
    index.delete_document("hc", DocumentKind.ARTICLE, "a")
    assert index.count() == 3
    left = {(p.source, p.kind, p.document_id) for p in index.search(unit(0), "title", 10)}
    assert left == {("hc", DocumentKind.ARTICLE, "b"), ("other", DocumentKind.ARTICLE, "a"),
                    ("hc", DocumentKind.TICKET, "a")}


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (SearchFilter(audience=Audience.PUBLIC), {"pub", "de", "zd"}),
        (SearchFilter(audience=Audience.INTERNAL), {"note"}),
        (SearchFilter(source="zendesk"), {"zd"}),
        (SearchFilter(kind=DocumentKind.TICKET), {"note", "zd"}),
        (SearchFilter(locale="de"), {"de"}),
        (SearchFilter(audience=Audience.PUBLIC, kind=DocumentKind.TICKET), {"zd"}),
        (None, {"pub", "de", "zd", "note"}),
    ],
)
def test_each_filter(index: VectorIndex, filter: SearchFilter | None, expected: set[str]) -> None:
    index.upsert(
        [
            chunk("pub"),
            chunk("de", locale="de"),
            chunk("zd", source="zendesk", kind=DocumentKind.TICKET),
            chunk("note", kind=DocumentKind.TICKET, audience=Audience.INTERNAL),
        ],
        [unit(i) for i in range(4)],
    )
    assert {p.document_id for p in index.search(unit(0), "title passage", 10, filter)} == expected
    assert index.count(filter) == len(expected)


@pytest.mark.parametrize("method", ["convex", "rrf", "dbsf", "dense"])
def test_public_filter_never_returns_internal(index: VectorIndex, method: str) -> None:
    index.fusion = FusionConfig(method=method)  # type: ignore[attr-defined]
    secret = "internal escalation note: customer VIP refund override code"
    chunks = [chunk(f"n{i}", text=secret, audience=Audience.INTERNAL) for i in range(20)]
    chunks.append(chunk("public-doc", text="opening hours"))
    vectors = [unit(7)] * 20 + [unit(8)]
    index.upsert(chunks, vectors)
    # The query matches the internal notes best, both by vector and by words.
    hits = index.search(unit(7), secret, 50, SearchFilter(audience=Audience.PUBLIC))
    assert [p.document_id for p in hits] == ["public-doc"]
    assert all(p.audience == Audience.PUBLIC for p in hits)


@pytest.mark.parametrize("method", ["convex", "rrf"])
def test_stopword_only_query_still_answers(index: VectorIndex, method: str) -> None:
    index.fusion = FusionConfig(method=method)  # type: ignore[attr-defined]
    index.upsert([chunk("a")], [unit(1)])
    assert ids(index.search(unit(1), "the and of", 3)) == [("a", 0)]


def test_convex_score_is_cosine_plus_weighted_lexical(index: VectorIndex) -> None:
    index.fusion = FusionConfig(method="convex", lexical_weight=0.25)  # type: ignore[attr-defined]
    index.upsert([chunk("a", text="refund policy"), chunk("b", text="dark mode")],
                 [unit(1), unit(2)])
    [best] = index.search(unit(1), "refund policy", 1)
    # Cosine 1 and the best lexical match (normalized to 1): 1 + λ; "b" matches no word.
    assert (best.document_id, round(best.score, 4)) == ("a", 1.25)
    # Only in the dense list: its cosine, nothing from the lexical list.
    [other] = [p for p in index.search(unit(1), "refund policy", 2) if p.document_id == "b"]
    assert other.score == pytest.approx(sum(x * y for x, y in zip(unit(1), unit(2), strict=True)),
                                        abs=1e-4)


@pytest.mark.parametrize("method", ["convex", "rrf", "dbsf", "dense", "sparse"])
def test_every_fusion_method_runs(index: VectorIndex, method: str) -> None:
    index.fusion = FusionConfig(method=method)  # type: ignore[attr-defined]
    index.upsert([chunk("a", text="refund policy"), chunk("b", text="dark mode")],
                 [unit(1), unit(2)])
    assert index.search(unit(1), "refund policy", 1)[0].document_id == "a"


def test_persists_across_reopen(opener: Opener) -> None:
    first = opener()
    first.upsert([chunk("a"), chunk("b")], [unit(1), unit(2)])
    first.flush()
    first.close()
    again = opener()
    assert again.count() == 2
    assert again.search(unit(2), "title", 1)[0].document_id == "b"


def test_second_open_of_the_same_path_is_locked(opener: Opener, tmp_path: Path) -> None:
    opener()
    with pytest.raises(IndexLocked, match=str(tmp_path)):
        opener()


def test_ping(index: VectorIndex) -> None:
    index.ping()


def test_searcher_keeps_the_best_passage_per_document(index: VectorIndex) -> None:
    class FixedEmbedder:
        dimension = DIM

        def embed_query(self, text: str) -> list[float]:
            return unit(1)

    chunks = [chunk("a", i) for i in range(6)] + [chunk("b"), chunk("c")]
    index.upsert(chunks, [unit(1)] * 6 + [unit(2), unit(3)])
    searcher = Searcher(FixedEmbedder(), index)  # type: ignore[arg-type]
    assert len(searcher.search("title passage", k=3)) == 3
    best = searcher.search("title passage", k=3, per_document=True)
    assert [p.document_id for p in best][0] == "a"
    assert sorted(p.document_id for p in best) == ["a", "b", "c"]
    assert searcher.search("   ", k=3) == []


@pytest.mark.parametrize("filter", [None, SearchFilter(audience=Audience.PUBLIC)])
def test_convex_ranks_identically_on_both_backends(
    tmp_path: Path, filter: SearchFilter | None
) -> None:
    words = ["refund", "invoice", "password", "reset", "billing", "plan", "export", "team"]
    rng = random.Random(3)
    # Texts of distinct lengths: no two BM25 scores tie at the prefetch cutoff, where each
    # engine breaks ties its own way.
    chunks = [
        chunk(f"d{i}", text=" ".join(rng.choices(words, k=3 + i)),
              audience=Audience.INTERNAL if i % 3 == 0 else Audience.PUBLIC)
        for i in range(40)
    ]
    fusion = FusionConfig(method="convex", lexical_weight=0.3, prefetch=10)
    backends: list[VectorIndex] = [
        EdgeIndex(tmp_path / "index", DIM, fusion),
        QdrantClientIndex(":memory:", DIM, fusion=fusion),
    ]
    try:
        rankings = []
        for backend in backends:
            backend.upsert(chunks, [unit(i) for i in range(40)])
            rankings.append([
                [(p.document_id, round(p.score, 4)) for p in
                 backend.search(unit(100 + q), "refund password reset", 15, filter)]
                for q in range(5)
            ])
        assert rankings[0] == rankings[1]
        assert all(len(ranking) == 15 for ranking in rankings[0])
    finally:
        for backend in backends:
            backend.close()


def test_fuse_convex_merges_the_two_lists() -> None:
    dense = [("a", 0.9, {"id": "a"}), ("b", 0.8, {"id": "b"})]
    sparse = [("c", 12.0, {"id": "c"}), ("b", 8.0, {"id": "b"}), ("d", 4.0, {"id": "d"})]
    # b: 0.8 + 0.4·(8−4)/(12−4); a: dense only; c: lexical only, 0.4·1; d: the lexical minimum.
    fused = fuse_convex(dense, sparse, 0.4, 4)
    assert [(p["id"], round(s, 4)) for _, s, p in fused] == [
        ("b", 1.0), ("a", 0.9), ("c", 0.4), ("d", 0.0)]
    # A single lexical candidate is the best one.
    assert fuse_convex([], sparse[:1], 0.4, 1) == [("c", 0.4, {"id": "c"})]
    assert fuse_convex(dense, [], 0.4, 1) == [("a", 0.9, {"id": "a"})]
    # Equal scores: ordered by point id, whatever the input order.
    tied = [("z", 0.5, {"id": "z"}), ("y", 0.5, {"id": "y"})]
    assert [key for key, _, _ in fuse_convex(tied, [], 0.4, 2)] == ["y", "z"]


def test_embedded_reopen_with_other_dimension_is_refused(tmp_path: Path) -> None:
    EdgeIndex(tmp_path / "index", DIM).close()
    with pytest.raises(IndexMismatch, match="does not match 32-d"):
        EdgeIndex(tmp_path / "index", 32)


def test_open_index_picks_the_backend(tmp_path: Path) -> None:
    embedded = open_index(IndexSettings(), tmp_path, DIM)
    assert isinstance(embedded, EdgeIndex) and embedded.path == tmp_path / "index"
    embedded.close()
    local = open_index(IndexSettings(backend="qdrant", url=":memory:"), tmp_path, DIM)
    assert isinstance(local, QdrantClientIndex)
    local.close()
    with pytest.raises(ValueError, match="index.url is required"):
        open_index(IndexSettings(backend="qdrant"), tmp_path, DIM)


def test_an_index_from_when_solved_tickets_were_public_is_relabelled(opener: Opener) -> None:
    """Upgrade: the old chunking wrote a solved ticket's conversation as public and its notes as
    internal. Relabelled, no ticket point is public and the old internal ones are notes."""
    index = opener()
    old = [chunk("t1", 0, kind=DocumentKind.TICKET, text="Invoice INV-1 reply"),
           chunk("t1", 1, kind=DocumentKind.TICKET, audience=Audience.INTERNAL,
                 text="internal: refund exception"),
           chunk("a1", 0, text="Refund policy article")]
    index.upsert(old, [unit(1), unit(2), unit(3)])

    assert index.relabel_public_tickets() == 1
    everything = index.search(unit(1), "invoice refund", 10)
    labels = {(p.document_id, p.position): (p.audience, p.note) for p in everything}
    assert labels == {("t1", 0): (Audience.INTERNAL, False), ("t1", 1): (Audience.INTERNAL, True),
                      ("a1", 0): (Audience.PUBLIC, False)}
    public = index.search(unit(1), "invoice", 10, SearchFilter(audience=Audience.PUBLIC))
    assert ids(public) == [("a1", 0)]
    # Done once: a second start finds nothing to relabel and changes nothing.
    assert index.relabel_public_tickets() == 0
    assert index.search(unit(2), "refund exception", 10)[0].note is True


def test_open_index_relabels_an_old_index(tmp_path: Path) -> None:
    old = EdgeIndex(tmp_path / "index", DIM)
    old.upsert([chunk("t1", kind=DocumentKind.TICKET)], [unit(1)])
    old.close()
    index = open_index(IndexSettings(), tmp_path, DIM)
    try:
        assert index.count(SearchFilter(audience=Audience.PUBLIC)) == 0
        assert index.count(SearchFilter(audience=Audience.INTERNAL)) == 1
    finally:
        index.close()


def test_embedded_writes_keep_the_point_tally_without_counting(tmp_path: Path) -> None:
    """Search picks exact or HNSW by the point tally; writes keep it from the shard's own
    bookkeeping, never by counting every point (a full count per batch was costly at scale)."""
    index = EdgeIndex(tmp_path / "index", DIM)

    def no_full_count(filter: SearchFilter | None = None) -> int:
        raise AssertionError("a write counted every point")

    exact_count = index.count
    index.count = no_full_count  # type: ignore[method-assign]
    steps = [
        lambda: index.upsert([chunk(f"d{n}", p) for n in range(40) for p in range(3)],
                             [unit(n * 3 + p) for n in range(40) for p in range(3)]),
        lambda: index.upsert([chunk("d1", 0), chunk("d1", 1)], [unit(900), unit(901)]),
        lambda: index.delete_document("hc", DocumentKind.ARTICLE, "d2"),
        lambda: index.delete_document("hc", DocumentKind.ARTICLE, "absent"),
        lambda: index.upsert([chunk("new", 0)], [unit(902)]),
        index.optimize,
    ]
    for step in steps:
        step()
        assert index._points == exact_count()
    assert index._points == 40 * 3 - 3 + 1
    index.close()
    reopened = EdgeIndex(tmp_path / "index", DIM)
    assert reopened._points == reopened.count() == 118
    reopened.close()


@pytest.mark.parametrize("method", ["convex", "dense", "sparse", "rrf"])
def test_exclude_origins_leaves_out_what_came_from_those_tickets(index: VectorIndex,
                                                                 method: str) -> None:
    """A simulation replaying ticket zd:7 must not find it, nor a snippet distilled from it."""
    from dataclasses import replace

    from deskpilot.knowledge.index import FusionConfig

    index.fusion = FusionConfig(method=method)  # type: ignore[arg-type]
    snippet = replace(chunk("snippet-1", text="reset password snippet"), source="snippets",
                      origins=("zd:7", "zd:9"))
    ticket = replace(chunk("7", text="reset password ticket", kind=DocumentKind.TICKET,
                           audience=Audience.INTERNAL), source="zd", origins=("zd:7",))
    other = replace(chunk("snippet-2", text="reset password other"), source="snippets",
                    origins=("zd:8",))
    article = chunk("a", text="reset password article")
    index.upsert([snippet, ticket, other, article], [unit(1), unit(1), unit(1), unit(1)])
    everything = {p.document_id for p in index.search(unit(1), "reset password", 10)}
    assert everything == {"snippet-1", "7", "snippet-2", "a"}
    left = index.search(unit(1), "reset password", 10,
                        SearchFilter(exclude_origins=frozenset({"zd:7"})))
    assert {p.document_id for p in left} == {"snippet-2", "a"}
    public = SearchFilter(audience=Audience.PUBLIC, exclude_origins=frozenset({"zd:8", "zd:9"}))
    assert {p.document_id for p in index.search(unit(1), "reset password", 10, public)} == {"a"}
    assert index.count(SearchFilter(exclude_origins=frozenset({"zd:7"}))) == 2
