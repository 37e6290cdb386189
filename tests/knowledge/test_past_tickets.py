"""Past tickets' vectors survive a restart in `ticket_vector`, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from deskpilot._documents import DocumentKind, DocumentRef, Ticket
from deskpilot._embedder import EmbedderSettings
from deskpilot.core.services import Services
from deskpilot.knowledge.past_tickets import TicketMemories
from deskpilot.knowledge.store import session_scope
from deskpilot.knowledge.tickets import TicketVector, record_tickets, ticket_text
from tests.plugins.helpers import HashEmbedder, make_services, past_tickets, record_past

PAST_TEXTS = [ticket_text(t.subject, t.description) for t in past_tickets()]


class CountingEmbedder(HashEmbedder):
    """HashEmbedder that records every text it embeds; `model` changes its identity only."""

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.settings = EmbedderSettings(name="hash", model=model)
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += texts
        return super().embed_documents(texts)


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = make_services(tmp_path, database_url)
    record_past(services)
    yield services
    services.close()


def memories(services: Services, embedder: CountingEmbedder) -> TicketMemories:
    """A fresh set of memories, as after a restart: nothing in process memory."""
    services.__dict__["embedder"] = embedder
    return TicketMemories(services.embedder, services.engine)


def stored(services: Services, embedder: str = "hash::256") -> set[str]:
    with Session(services.engine) as session:
        return set(session.exec(select(TicketVector.text_sha256)
                                .where(TicketVector.embedder == embedder)))


def upsert(services: Services, tickets: list[Ticket], deleted: Sequence[str] = (),
           connector: str = "desk") -> None:
    refs = [DocumentRef(kind=DocumentKind.TICKET, id=i) for i in deleted]
    with session_scope(services.engine) as session:
        record_tickets(session, connector, tickets, refs)


def test_a_restart_reads_vectors_back_instead_of_embedding(tmp_path: Path, database_url: str
                                                           ) -> None:
    first = make_services(tmp_path, database_url)
    record_past(first)
    before = CountingEmbedder()
    memory = memories(first, before).get("desk")
    assert sorted(before.embedded) == sorted(PAST_TEXTS)
    assert len(stored(first)) == len(PAST_TEXTS)
    first.close()

    second = make_services(tmp_path, database_url)  # same database, new process state
    after = CountingEmbedder()
    again = memories(second, after).get("desk")
    assert after.embedded == []
    assert [r.external_id for r in again.records] == [r.external_id for r in memory.records]
    assert again.vectors.dtype == np.float32
    assert np.array_equal(again.vectors, memory.vectors)
    second.close()


def test_only_new_and_reworded_texts_are_embedded(services: Services) -> None:
    memories(services, CountingEmbedder()).get("desk")
    tickets = past_tickets()
    relabelled = tickets[0].model_copy(update={"category": "refunds"})
    reworded = tickets[1].model_copy(update={"description": "Charged twice again this month"})
    new = Ticket(id="new-1", subject="Dark mode", description="Please add a dark mode",
                 category="feature", priority="low", status="open")
    upsert(services, [relabelled, reworded, new])

    embedder = CountingEmbedder()
    memory = memories(services, embedder).get("desk")
    assert sorted(embedder.embedded) == sorted([
        ticket_text(reworded.subject, reworded.description), ticket_text(new.subject,
                                                                         new.description)])
    assert len(memory.records) == len(PAST_TEXTS) + 1
    # The old wording's vector went with it; the other eleven and the two new ones stay.
    assert len(stored(services)) == len(PAST_TEXTS) + 1


def test_another_model_never_reuses_vectors(services: Services) -> None:
    memories(services, CountingEmbedder()).get("desk")
    other = CountingEmbedder(model="hash-v2")
    memories(services, other).get("desk")
    assert sorted(other.embedded) == sorted(PAST_TEXTS)
    assert stored(services, "hash:hash-v2:256") and stored(services, "hash::256")
    assert len(stored(services, "hash:hash-v2:256")) == len(PAST_TEXTS)


def test_retain_prunes_dropped_texts_of_its_own_model_only(services: Services) -> None:
    memories(services, CountingEmbedder()).get("desk")
    memories(services, CountingEmbedder(model="hash-v2")).get("desk")
    both = stored(services)
    upsert(services, [], deleted=["past-0"])

    memories(services, CountingEmbedder()).get("desk")
    assert len(stored(services)) == len(PAST_TEXTS) - 1 and stored(services) < both
    assert len(stored(services, "hash:hash-v2:256")) == len(PAST_TEXTS)  # not its model


def test_loading_one_connector_keeps_the_other_connectors_vectors(services: Services) -> None:
    other = [t.model_copy(update={"id": f"o-{t.id}", "description": t.description + " (other)"})
             for t in past_tickets()]
    upsert(services, other, connector="other")
    loaded = memories(services, CountingEmbedder())
    loaded.get("desk")
    loaded.get("other")

    restarted = CountingEmbedder()
    again = memories(services, restarted)
    again.get("desk")  # its retain must not drop "other"'s vectors, which are not loaded yet
    again.get("other")
    assert restarted.embedded == []


def test_new_tickets_to_triage_or_tag_are_not_stored(services: Services) -> None:
    loaded = memories(services, CountingEmbedder())
    loaded.get("desk")
    loaded.embedder.embed_documents(["A brand new ticket about invoices"])
    loaded.embedder.matrix(["Another new ticket"], persist=False)
    assert len(stored(services)) == len(PAST_TEXTS)


def test_a_vector_another_process_stored_meanwhile_is_no_error(
        services: Services, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    memories(services, CountingEmbedder()).get("desk")
    racing = memories(services, CountingEmbedder())
    # As if the other process stored them after this one looked: both insert the same rows.
    monkeypatch.setattr(racing.embedder, "_load", lambda texts: {})
    with caplog.at_level(logging.WARNING, logger="deskpilot.knowledge.past_tickets"):
        racing.get("desk")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(stored(services)) == len(PAST_TEXTS)


def test_an_unusable_cache_table_falls_back_to_embedding(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    with services.engine.begin() as connection:
        connection.execute(text("DROP TABLE ticket_vector"))
    embedder = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="deskpilot.knowledge.past_tickets"):
        memory = memories(services, embedder).get("desk")
    assert sorted(embedder.embedded) == sorted(PAST_TEXTS)
    expected = np.asarray(HashEmbedder().embed_documents([r.text for r in memory.records]),
                          dtype=np.float32)
    assert np.array_equal(memory.vectors, expected)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("unreadable" in m for m in messages)
    assert any("could not store" in m for m in messages)
    assert any("could not prune" in m for m in messages)
