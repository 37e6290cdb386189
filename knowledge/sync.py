"""The sync engine: connector pages → registry diff → chunk, embed, index.

Per page, in order: deleted refs leave the index; each document is chunked and hashed, and only
new or changed ones are embedded (in batches) and written (old points deleted first, since a
changed document may have fewer chunks). Then the registry changes, the run's counts and the
connector's checkpoint are committed in one transaction — so an interrupted run resumes after
the last page it finished, and a resumed page is a no-op (deterministic point ids, same hashes).

One bad document is a failure in the run's report; the run goes on. A connector that lists
everything (`full_listing`) on a run from no checkpoint also tells us what disappeared: every
registered document it did not list is deleted.

Embedding and index calls hold the GIL for long stretches: callers inside the server run this
in a worker thread (see core.schedule and core.routes.sync).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from deskpilot._connector import Connector
from deskpilot._documents import (
    Article,
    DocumentFailure,
    DocumentKind,
    DocumentRef,
    SyncPage,
    Ticket,
)
from deskpilot._time import utcnow
from deskpilot.knowledge.interfaces import Chunk, VectorIndex
from deskpilot.knowledge.locks import sync_lock
from deskpilot.knowledge.runs import report
from deskpilot.knowledge.store import session_scope
from deskpilot.knowledge.tables import SourceDocument, SyncRun, SyncState
from deskpilot.knowledge.text import chunk_document
from deskpilot.knowledge.tickets import forget_unseen_tickets, record_tickets

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from deskpilot._embedder import Embedder

log = logging.getLogger(__name__)

#: Called after each page with the number of documents (and deletions) it held.
Progress = Callable[[int], None]
# Failures kept in a run's report; the count covers all of them.
MAX_FAILURES_KEPT = 200

Key = tuple[str, str]  # (kind, external id)


class SyncCancelled(Exception):
    """The caller asked the run to stop (server shutdown); it resumes from its checkpoint."""


def _key(kind: DocumentKind | str, doc_id: str) -> Key:
    return (str(kind), doc_id)


def content_hash(chunks: list[Chunk], embedder_id: str) -> str:
    """Everything that ends up in the index for a document, and who embedded it: a change in
    any of it (text, title, url, locale, audience) means re-embedding."""
    material = [
        embedder_id,
        [[c.position, c.title, c.text, c.url, c.locale, str(c.audience)] for c in chunks],
    ]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Changed:
    doc: Article | Ticket
    chunks: list[Chunk]
    digest: str
    vectors: list[list[float]] | None = None


@dataclass
class _Pass:
    """One run's working state."""

    name: str
    connector: Connector
    index: VectorIndex
    embedder: Embedder
    embedder_id: str
    batch_size: int
    run: SyncRun
    seen: set[Key] = field(default_factory=set)

    def fail(self, where: str, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.run.failed += 1
        if len(self.run.failures) < MAX_FAILURES_KEPT:
            # A new list: SQLAlchemy notices reassignment, not in-place appends to JSON.
            self.run.failures = [*self.run.failures, {"document": where, "error": text[:500]}]
        log.warning("sync %s: %s failed: %s", self.name, where, text)

    # -- one page -----------------------------------------------------------------------------
    def apply(self, session: Session, page: SyncPage) -> None:
        keys = [_key(d.kind, d.id) for d in page.documents] + [
            _key(r.kind, r.id) for r in page.deleted
        ]
        rows = self._registry(session, keys)
        for ref in page.deleted:
            self._delete(session, rows, ref)
        changed: dict[Key, _Changed] = {}
        for doc in page.documents:  # later duplicates win, like later events
            key = _key(doc.kind, doc.id)
            try:
                chunks = chunk_document(self.name, doc)
            except Exception as exc:
                self.seen.add(key)  # unreadable now, but live: keep what is indexed
                self.fail(f"{doc.kind}:{doc.id}", exc)
                continue
            if not chunks:  # a draft, or a ticket with nothing vetted to say
                changed.pop(key, None)
                self.seen.discard(key)
                self._delete(session, rows, DocumentRef(kind=doc.kind, id=doc.id))
                continue
            self.seen.add(key)
            digest = content_hash(chunks, self.embedder_id)
            row = rows.get(key)
            if row is not None and row.content_hash == digest:
                changed.pop(key, None)
                self.run.skipped += 1
                continue
            changed[key] = _Changed(doc, chunks, digest)
        self._embed(list(changed.values()))
        for key, item in changed.items():
            if item.vectors is None:
                continue
            try:
                self.index.delete_document(self.name, item.doc.kind, item.doc.id)
                self.index.upsert(item.chunks, item.vectors)
            except Exception as exc:
                self.fail(f"{item.doc.kind}:{item.doc.id}", exc)
                continue
            self._register(session, rows, key, item)
        for failure in page.failures:
            self._connector_failure(failure)
        # Labelled past tickets, which triage and tagging learn from (knowledge.tickets).
        record_tickets(session, self.name, [d for d in page.documents if isinstance(d, Ticket)],
                       [r for r in page.deleted if not (self.connector.full_listing
                                                        and _key(r.kind, r.id) in self.seen)])

    def _registry(self, session: Session, keys: list[Key]) -> dict[Key, SourceDocument]:
        ids = {doc_id for _, doc_id in keys}
        if not ids:
            return {}
        found = session.exec(
            select(SourceDocument).where(
                SourceDocument.connector == self.name, col(SourceDocument.external_id).in_(ids)
            )
        ).all()
        return {_key(row.kind, row.external_id): row for row in found}

    def _delete(self, session: Session, rows: dict[Key, SourceDocument], ref: DocumentRef) -> None:
        key = _key(ref.kind, ref.id)
        if self.connector.full_listing and key in self.seen:
            # Listed live elsewhere in this run (e.g. moved between files): not gone.
            return
        try:
            self.index.delete_document(self.name, ref.kind, ref.id)
        except Exception as exc:
            self.fail(f"{ref.kind}:{ref.id}", exc)
            return
        row = rows.pop(key, None)
        if row is not None:
            session.delete(row)
            self.run.deleted += 1

    def _embed(self, items: list[_Changed]) -> None:
        """Vectors for every item, in batches of about batch_size chunks. A failing batch is
        retried document by document, so one bad document does not sink its neighbours."""
        batch: list[_Changed] = []
        size = 0
        for item in items:
            batch.append(item)
            size += len(item.chunks)
            if size >= self.batch_size:
                self._embed_batch(batch)
                batch, size = [], 0
        if batch:
            self._embed_batch(batch)

    def _embed_batch(self, batch: list[_Changed]) -> None:
        texts = [c.text for item in batch for c in item.chunks]
        try:
            vectors = self.embedder.embed_documents(texts)
            if len(vectors) != len(texts):
                raise ValueError(f"embedder returned {len(vectors)} vectors for {len(texts)}")
        except Exception as exc:
            if len(batch) == 1:
                self.fail(f"{batch[0].doc.kind}:{batch[0].doc.id}", exc)
                return
            for item in batch:
                self._embed_batch([item])
            return
        start = 0
        for item in batch:
            item.vectors = vectors[start : start + len(item.chunks)]
            start += len(item.chunks)

    def _register(
        self, session: Session, rows: dict[Key, SourceDocument], key: Key, item: _Changed
    ) -> None:
        doc = item.doc
        updated = doc.updated_at.astimezone(UTC) if doc.updated_at else None
        title = doc.title if isinstance(doc, Article) else doc.subject
        row = rows.get(key)
        if row is None:
            row = SourceDocument(connector=self.name, kind=str(doc.kind), external_id=doc.id,
                                 content_hash=item.digest)
            rows[key] = row
            self.run.added += 1
        else:
            self.run.updated += 1
        row.content_hash = item.digest
        row.chunk_count = len(item.chunks)
        row.title = title
        row.url = doc.url
        row.source_updated_at = updated
        row.indexed_at = utcnow()
        session.add(row)

    def _connector_failure(self, failure: DocumentFailure) -> None:
        if failure.ref is not None:  # known but unreadable: keep what is indexed for it
            self.seen.add(_key(failure.ref.kind, failure.ref.id))
        self.fail(failure.where, failure.error)

    # -- after a complete listing -------------------------------------------------------------
    def delete_unseen(self, session: Session) -> None:
        rows = session.exec(
            select(SourceDocument).where(SourceDocument.connector == self.name)
        ).all()
        for row in rows:
            key = _key(row.kind, row.external_id)
            if key in self.seen:
                continue
            try:
                self.index.delete_document(self.name, DocumentKind(row.kind), row.external_id)
            except Exception as exc:
                self.fail(f"{row.kind}:{row.external_id}", exc)
                continue
            session.delete(row)
            self.run.deleted += 1
        forget_unseen_tickets(session, self.name,
                              {doc_id for kind, doc_id in self.seen if kind == DocumentKind.TICKET})


def load_checkpoint(engine: Engine, connector: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        state = session.get(SyncState, connector)
        return state.checkpoint if state else None


def _save_checkpoint(session: Session, connector: str, checkpoint: dict[str, Any] | None) -> None:
    state = session.get(SyncState, connector) or SyncState(connector=connector)
    state.checkpoint = checkpoint
    state.updated_at = utcnow()
    session.add(state)


def _start_run(engine: Engine, connector: str, full: bool) -> SyncRun:
    with session_scope(engine) as session:
        # We hold the lock, so a run still marked running was cut short (a crash, a kill).
        stale = session.exec(
            select(SyncRun).where(SyncRun.connector == connector, SyncRun.status == "running")
        ).all()
        for old in stale:
            old.status, old.error = "failed", old.error or "interrupted"
            old.finished_at = old.finished_at or utcnow()
            session.add(old)
        run = SyncRun(connector=connector, full=full)
        session.add(run)
        session.flush()
        session.refresh(run)
        return run


def run_sync(
    connector: Connector, *, index: VectorIndex, embedder: Embedder, engine: Engine,
    batch_size: int, full: bool = False, progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SyncRun:
    """Run one sync of a connector and return its recorded SyncRun.

    Raises knowledge.locks.SyncLocked if the connector is already syncing. A failure during the
    run is recorded (status "failed", `error`) and returned, not raised. Setting `cancel` stops
    the run after the page in progress.
    """
    connector_name = connector.name
    with sync_lock(engine, connector_name):
        run = _start_run(engine, connector_name, full)
        work = _Pass(
            name=connector_name, connector=connector, index=index, embedder=embedder,
            embedder_id=embedder.identity, batch_size=batch_size, run=run,
        )
        checkpoint = None if full else load_checkpoint(engine, connector_name)
        try:
            for page in connector.fetch(checkpoint):
                with session_scope(engine) as session:
                    work.apply(session, page)
                    _save_checkpoint(session, connector_name, page.checkpoint)
                    session.add(run)
                if progress is not None:
                    progress(len(page.documents) + len(page.deleted) + len(page.failures))
                if cancel is not None and cancel.is_set():
                    raise SyncCancelled("cancelled; the next run resumes from the last page")
            if connector.full_listing and checkpoint is None:
                with session_scope(engine) as session:
                    work.delete_unseen(session)
                    session.add(run)
            run.status = "succeeded"
        except SyncCancelled as exc:  # shutdown asked for it: expected, not an error
            run.status, run.error = "cancelled", str(exc)
        except BaseException as exc:  # recorded, then re-raised only if not an ordinary error
            run.status = "failed"
            run.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            log.error("sync %s failed: %s", connector_name, run.error,
                      exc_info=not isinstance(exc, KeyboardInterrupt))
            if not isinstance(exc, Exception):
                _finish(engine, index, run)
                raise
        _finish(engine, index, run)
    log.info("sync %s %s", connector_name, run.status, extra={"sync": report(run)})
    return run


def _finish(engine: Engine, index: VectorIndex, run: SyncRun) -> None:
    try:
        index.flush()
    except Exception as exc:
        log.warning("index flush after sync failed: %s", exc)
    run.finished_at = utcnow()
    with session_scope(engine) as session:
        session.add(run)
