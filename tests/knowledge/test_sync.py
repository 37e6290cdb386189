"""The sync engine on the real embedded index: incremental, resumable, failure-tolerant."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlmodel import Session, select

import deskpilot
from deskpilot._documents import Audience
from deskpilot.core.search import search_passages
from deskpilot.core.services import Services
from deskpilot.knowledge.interfaces import SearchFilter
from deskpilot.knowledge.runs import recent_runs
from deskpilot.knowledge.sync import run_sync
from deskpilot.knowledge.tables import SourceDocument, SyncState
from tests.knowledge.conftest import CountingEmbedder

LONG = "\n\n".join(
    f"## Section {n}\n\n" + " ".join(f"word{n}x{i}" for i in range(200)) for n in range(3)
)


def _ticket(id: str, subject: str, note: str | None = None, **extra: Any) -> str:
    comments = [{"author_role": "agent", "body": f"Answer to {subject}.", "public": True}]
    if note:
        comments.append({"author_role": "agent", "body": note, "public": False})
    record = {"id": id, "subject": subject, "description": f"Question about {subject}",
              "comments": comments, "tags": ["billing"], "status": "solved",
              "updated_at": "2025-05-01T10:00:00Z", **extra}
    return json.dumps(record)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "refunds.md").write_text("---\ntitle: Refund policy\n---\nRefunds within 14 days.\n")
    (root / "dns.md").write_text("# DNS records\n\nPoint a CNAME to edge.acmecloud.app.\n")
    (root / "long.md").write_text("# A long guide\n\n" + LONG)
    (root / "sso.html").write_text("<html><title>SAML SSO</title><body><h1>SAML SSO</h1>"
                                   "<p>Configure your identity provider.</p></body></html>")
    (root / "tickets.jsonl").write_text(
        _ticket("1", "Refund for annual plan", "internal: approved under exception policy X7")
        + "\n" + _ticket("2", "Custom domain pending") + "\n"
    )
    return root


@pytest.fixture
def services(make_services: Callable[..., Services], folder: Path) -> Services:
    return make_services({"kb": {"type": "local", "path": str(folder)}})


def _registry(services: Services) -> dict[str, SourceDocument]:
    with Session(services.engine) as session:
        rows = session.exec(select(SourceDocument).where(SourceDocument.connector == "kb"))
        return {f"{r.kind}:{r.external_id}": r for r in rows}


def _points(services: Services) -> int:
    return services.index.count(SearchFilter(source="kb"))


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # a new mtime even on coarse clocks
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_first_run_indexes_everything_then_unchanged_documents_are_not_reembedded(
    services: Services,
) -> None:
    first = services.sync("kb")
    assert (first.status, first.added, first.failed) == ("succeeded", 6, 0)
    embedded = len(CountingEmbedder.embedded)
    chunks = sum(r.chunk_count for r in _registry(services).values())
    assert embedded == chunks == _points(services)

    again = services.sync("kb")  # incremental: unchanged files are not even read
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    full = services.sync("kb", full=True)  # full: listed again, hashes match
    assert (full.skipped, full.added, full.updated, full.deleted) == (6, 0, 0, 0)
    assert len(CountingEmbedder.embedded) == embedded
    assert _points(services) == chunks


def test_changed_document_is_reembedded_and_its_old_chunks_are_gone(
    services: Services, folder: Path
) -> None:
    services.sync("kb")
    before = _registry(services)["article:long"].chunk_count
    assert before >= 3
    total = _points(services)
    CountingEmbedder.embedded.clear()

    _touch(folder / "long.md", "# A long guide\n\nNow it is short: word-new.\n")
    run = services.sync("kb")
    assert (run.updated, run.added, run.skipped) == (1, 0, 0)
    assert len(CountingEmbedder.embedded) == 1  # only the changed document
    assert _registry(services)["article:long"].chunk_count == 1
    assert _points(services) == total - before + 1
    hits = services.searcher.search("word0x5 word1x7", 10)
    assert all("word0x5" not in h.text for h in hits)


def test_deleted_file_and_removed_ticket_leave_index_and_registry(
    services: Services, folder: Path
) -> None:
    services.sync("kb")
    total = _points(services)
    dns_chunks = _registry(services)["article:dns"].chunk_count
    (folder / "dns.md").unlink()
    _touch(folder / "tickets.jsonl", _ticket("1", "Refund for annual plan") + "\n")
    run = services.sync("kb")
    assert run.deleted == 2
    registry = _registry(services)
    assert "article:dns" not in registry and "ticket:2" not in registry
    assert _points(services) < total - dns_chunks
    assert all(h.document_id != "dns" for h in services.searcher.search("CNAME edge", 10))


def test_draft_article_is_removed(make_services: Callable[..., Services], tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    article = {"id": "a1", "title": "Backups", "body_html": "<p>Daily backups.</p>"}
    (root / "articles.jsonl").write_text(json.dumps(article) + "\n")
    services = make_services({"kb": {"type": "local", "path": str(root)}})
    assert services.sync("kb").added == 1
    _touch(root / "articles.jsonl", json.dumps({**article, "draft": True}) + "\n")
    assert services.sync("kb").deleted == 1
    assert _points(services) == 0


def test_bad_records_are_failures_and_the_rest_is_indexed(
    services: Services, folder: Path
) -> None:
    _touch(folder / "tickets.jsonl", "\n".join([
        _ticket("1", "Refund for annual plan"),
        "{not json",
        json.dumps({"id": "3", "description": "no subject"}),
        _ticket("4", "EXPLODE in the embedder"),
        _ticket("5", "Password reset"),
    ]) + "\n")
    run = services.sync("kb")
    assert run.status == "succeeded"
    assert run.failed == 3
    where = {f["document"] for f in run.failures}
    assert where == {"tickets.jsonl:2", "tickets.jsonl:3", "ticket:4"}
    assert {"ticket:1", "ticket:5", "article:refunds"} <= set(_registry(services))
    status = recent_runs(services.engine)["kb"][0]
    assert status["failed"] == 3 and status["failures"]


def test_internal_notes_are_found_only_with_audience_internal(services: Services) -> None:
    services.sync("kb")
    public = search_passages(services, "exception policy X7", 10, "public")
    assert public and all(p["audience"] == "public" for p in public)
    assert not any("X7" in p["text"] for p in public)
    internal = search_passages(services, "exception policy X7", 10, "internal")
    assert any("X7" in p["text"] and p["audience"] == "internal" for p in internal)
    # Every ticket point is internal: two conversations and one note.
    points = services.index.count(SearchFilter(source="kb", audience=Audience.INTERNAL))
    assert points == 3


def test_a_solved_tickets_conversation_is_not_public_knowledge(services: Services) -> None:
    """A public reply was written to one customer: customers' search never finds tickets."""
    services.sync("kb")
    public = search_passages(services, "Answer to Refund for annual plan", 10, "public")
    assert public and all(p["kind"] == "article" for p in public)
    internal = search_passages(services, "Answer to Refund for annual plan", 10, "internal")
    assert any(p["kind"] == "ticket" and "Answer to Refund" in p["text"] for p in internal)


class PagedConnector(deskpilot.Connector):
    """Four pages of two articles; crashes after page 2 while `crash` is set."""

    type: ClassVar[str] = "paged"
    crash: ClassVar[bool] = True

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[deskpilot.SyncPage]:
        start = checkpoint["page"] if checkpoint else 0
        for page in range(start, 4):
            if page == 2 and type(self).crash:
                raise ConnectionError("helpdesk went away")
            yield deskpilot.SyncPage(
                documents=[
                    deskpilot.Article(id=f"{page}-{i}", title=f"Article {page}-{i}",
                                      body_html=f"<p>Body of article {page} {i}.</p>")
                    for i in range(2)
                ],
                checkpoint={"page": page + 1},
            )


class _PagedPlugin:
    @deskpilot.hookimpl
    def register_connectors(self, register: Callable[[type[Any]], None]) -> None:
        register(PagedConnector)


def test_a_run_that_crashed_resumes_from_its_last_page_without_duplicates(
    make_services: Callable[..., Services],
) -> None:
    services = make_services({"hd": {"type": "paged"}}, extra_plugins=(("paged", _PagedPlugin()),))
    PagedConnector.crash = True
    crashed = services.sync("hd")
    assert crashed.status == "failed" and "helpdesk went away" in (crashed.error or "")
    assert crashed.added == 4
    with Session(services.engine) as session:
        assert session.get(SyncState, "hd").checkpoint == {"page": 2}

    PagedConnector.crash = False
    CountingEmbedder.embedded.clear()
    resumed = services.sync("hd")
    assert (resumed.status, resumed.added) == ("succeeded", 4)
    assert len(CountingEmbedder.embedded) == 4  # pages 3 and 4 only
    assert services.index.count(SearchFilter(source="hd")) == 8
    runs = recent_runs(services.engine, "hd")["hd"]
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    assert runs[0]["duration_seconds"] is not None


def test_plugins_hear_about_finished_syncs(
    make_services: Callable[..., Services], folder: Path
) -> None:
    heard: list[dict[str, Any]] = []

    class Listener:
        @deskpilot.hookimpl
        def sync_finished(self, event: deskpilot.SyncFinished) -> None:
            heard.append({"connector": event.connector, **event.report})

    services = make_services({"kb": {"type": "local", "path": str(folder)}},
                             extra_plugins=(("listener", Listener()),))
    services.sync("kb")
    assert heard and heard[0]["connector"] == "kb" and heard[0]["added"] == 6


def test_a_cancelled_run_stops_after_the_page_in_hand_and_resumes_from_it(
    make_services: Callable[..., Services],
) -> None:
    import threading

    services = make_services({"hd": {"type": "paged"}}, extra_plugins=(("paged", _PagedPlugin()),))
    PagedConnector.crash = False
    cancel = threading.Event()
    # Set while the first page commits: the pipeline may have fetched and embedded more, but
    # commits nothing after it, so the checkpoint and the registry agree.
    cancelled = run_sync(services.connector("hd"), index=services.index,
                         embedder=services.embedder, engine=services.engine, batch_size=4,
                         progress=lambda n: cancel.set(), cancel=cancel)
    assert cancelled.status == "cancelled" and cancelled.added == 2
    with Session(services.engine) as session:
        assert session.get(SyncState, "hd").checkpoint == {"page": 1}
        assert len(session.exec(select(SourceDocument)).all()) == 2
    resumed = services.sync("hd")
    assert (resumed.status, resumed.added) == ("succeeded", 6)
    assert services.index.count(SearchFilter(source="hd")) == 8


def test_a_sections_heading_is_part_of_the_hash_and_no_heading_keeps_the_old_one() -> None:
    import hashlib

    from deskpilot._documents import DocumentKind
    from deskpilot.knowledge.interfaces import Chunk
    from deskpilot.knowledge.sync import content_hash

    plain = Chunk(source="hc", kind=DocumentKind.ARTICLE, document_id="1", position=0,
                  title="Plans", text="Plans\nPro\nUnlimited apps.", audience=Audience.PUBLIC)
    # The hash before headings were recorded: such an article is not embedded again.
    before = hashlib.sha256(json.dumps(
        ["m", [[0, "Plans", "Plans\nPro\nUnlimited apps.", None, "en", "public"]]],
        ensure_ascii=False).encode()).hexdigest()
    assert content_hash([plain], "m") == before
    # An index written before holds no heading for a section: it is embedded (written) again.
    section = Chunk(**{**plain.__dict__, "headings": ("Pro",)})
    assert content_hash([section], "m") != before
