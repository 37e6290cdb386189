"""Concurrent searches share query-embedding batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import pytest

from deskpilot._documents import Audience, DocumentKind
from deskpilot._embedder import Embedder, EmbedderSettings
from deskpilot._search import Passage
from deskpilot.core.services import Services
from deskpilot.knowledge.search import QueryBatcher, _best_per_document


class GatedEmbedder(Embedder):
    """Vectors that name their text; the first batch blocks until `release` is set."""

    name: ClassVar[str] = "gated"

    def __init__(self) -> None:
        super().__init__(EmbedderSettings(name="gated"))
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    @property
    def dimension(self) -> int:
        return 1

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.started.set()
        self.release.wait()
        if "boom" in texts:
            raise RuntimeError("embedder failed")
        return [[float(text.removeprefix("q"))] for text in texts]


def _wait_for(condition: object) -> None:
    """Until `condition()` holds (a safety cap, not a timing assertion)."""
    for _ in range(10_000):
        if condition():  # type: ignore[operator]
            return
        threading.Event().wait(0.001)
    raise AssertionError("condition never held")


def test_queries_arriving_during_a_batch_are_embedded_together_in_the_next() -> None:
    embedder = GatedEmbedder()
    batcher = QueryBatcher(embedder)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.embed, "q0")
        assert embedder.started.wait(10)
        rest = [pool.submit(batcher.embed, f"q{n}") for n in range(1, 8)]
        _wait_for(lambda: len(batcher._waiting) == 7)
        embedder.release.set()
        vectors = [first.result(10), *(future.result(10) for future in rest)]
    assert vectors == [[float(n)] for n in range(8)]  # each caller gets its own vector
    assert [sorted(batch) for batch in embedder.batches] == [
        ["q0"], sorted(f"q{n}" for n in range(1, 8))
    ]
    embedder.batches.clear()
    assert batcher.embed("q9") == [9.0] and embedder.batches == [["q9"]]  # idle: straight through


def test_a_failed_batch_fails_each_of_its_queries_and_the_next_batch_still_runs() -> None:
    embedder = GatedEmbedder()
    batcher = QueryBatcher(embedder)
    embedder.release.set()
    with pytest.raises(RuntimeError, match="embedder failed"):
        batcher.embed("boom")
    assert batcher.embed("q3") == [3.0]


def test_an_embedder_with_its_own_query_encoding_keeps_it() -> None:
    class Prefixed(GatedEmbedder):
        def embed_query(self, text: str) -> list[float]:
            return [-1.0]

    embedder = Prefixed()
    embedder.release.set()
    assert QueryBatcher(embedder).embed("q1") == [-1.0]


def test_every_admitted_chat_turn_can_wait_for_the_same_batch(
    make_services: Callable[..., Services],
) -> None:
    # With one search thread, the turns running together embedded their queries one by one.
    services = make_services({})
    assert services.query_executor._max_workers >= services.settings.chat.max_concurrent_turns


def _passage(score: float, document_id: str, position: int, text: str) -> Passage:
    return Passage(score=score, document_id=document_id, title=text.splitlines()[0],
                   text=text, url=None, source="hc", kind=DocumentKind.ARTICLE,
                   audience=Audience.PUBLIC, position=position)


def test_a_documents_opening_comes_with_its_next_best_passage() -> None:
    # Was: the lead alone ("Setting the current time … You must reset the clock in the
    # following cases:"), the cases themselves in a passage of the same section left out.
    lead = _passage(0.9, "clock", 0, "Setting the clock\nYou can set the clock. You must "
                    "reset it in the following")
    cases = _passage(0.7, "clock", 2, "Setting the clock\nYou can set the clock. You must "
                     "reset it in the following cases:\nThe power cable is disconnected.")
    other = _passage(0.8, "remote", 3, "Pairing the remote\nHold Back and Play.")
    later = _passage(0.5, "remote", 1, "Pairing the remote\nPoint it at the TV.")
    clock, remote = _best_per_document([lead, other, cases, later])
    assert clock.text == ("Setting the clock\nYou can set the clock. You must reset it in the "
                          "following cases:\nThe power cable is disconnected.")
    assert (clock.score, clock.position) == (0.9, 0)  # the opening's score: what matched
    assert remote == other  # a passage further in is whole already
