"""The sync engine: connector pages → registry diff → chunk, embed, index.

Per page, in order: deleted refs leave the index; each document is chunked and hashed, and only
new or changed ones are embedded (in batches) and written (old points deleted first, since a
changed document may have fewer chunks). Then the registry changes, the run's counts and the
connector's checkpoint are committed in one transaction — so an interrupted run resumes after
the last page it finished, and a resumed page is a no-op (deterministic point ids, same hashes).

One bad document is a failure in the run's report; the run goes on. A failed document with an
identity (its `ref`) is also kept in `sync_failure` and fetched again (`Connector.refetch`) on
later runs once its backoff has passed, until it syncs or is gone. Counts are kept per kind
(articles, tickets). A connector that lists
everything (`full_listing`) on a run from no checkpoint also tells us what disappeared: every
registered document it did not list is deleted.

Embedding and index calls hold the GIL for long stretches: callers inside the server run this
in a worker thread (see core.schedule and core.routes.sync).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from deskpilot._connector import Connector, NotSupported
from deskpilot._documents import (
    Article,
    DocumentFailure,
    DocumentKind,
    DocumentRef,
    SyncPage,
    Ticket,
)
from deskpilot._errors import ClientError
from deskpilot._time import utcnow
from deskpilot.knowledge.interfaces import Chunk, VectorIndex
from deskpilot.knowledge.locks import is_held, sync_lock
from deskpilot.knowledge.runs import COUNTS, report
from deskpilot.knowledge.store import session_scope
from deskpilot.knowledge.tables import SourceDocument, SyncFailure, SyncRun, SyncState
from deskpilot.knowledge.text import chunk_document
from deskpilot.knowledge.tickets import forget_unseen_tickets, record_tickets

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from deskpilot._embedder import Embedder

log = logging.getLogger(__name__)
# Marks a log record whose text the run's report also carries (its warnings, its error): a
# caller that prints the report (`deskpilot sync`) leaves these records out.
IN_RUN_REPORT = {"in_run_report": True}

#: Called after each page with the number of documents (and deletions) it held.
Progress = Callable[[int], None]
#: Called with each page once it is committed (e.g. to tell plugins about its tickets).
Applied = Callable[[SyncPage], None]
# Failures kept in a run's report; the count covers all of them.
MAX_FAILURES_KEPT = 200

Key = tuple[str, str]  # (kind, external id)
# A failed document is fetched again after 15 min, then 30, 60, … at most a day apart.
RETRY_FIRST = timedelta(minutes=15)
RETRY_LONGEST = timedelta(days=1)
# Failed documents fetched again per run, oldest due first.
RETRY_PER_RUN = 100


def retry_delay(attempts: int) -> timedelta:
    return min(RETRY_LONGEST, RETRY_FIRST * 2 ** max(0, attempts - 1))


class SyncCancelled(Exception):
    """The caller asked the run to stop (server shutdown); it resumes from its checkpoint."""


def _key(kind: DocumentKind | str, doc_id: str) -> Key:
    return (str(kind), doc_id)


def content_hash(chunks: list[Chunk], embedder_id: str) -> str:
    """Everything that ends up in the index for a document, and who embedded it: a change in
    any of it (text, title, url, locale, audience, a ticket's authors, which lines are headings)
    means re-embedding."""
    material = [
        embedder_id,
        # Authors and headings only where there are some: a document without either keeps the
        # hash, and so the vectors, it had before they were recorded; one with them is indexed
        # again once (an article with sections on its next full listing).
        [[c.position, c.title, c.text, c.url, c.locale, str(c.audience),
          *([list(c.authors)] if c.authors else []),
          *([{"headings": list(c.headings)}] if c.headings else [])] for c in chunks],
    ]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Changed:
    """One listed document on its way through the stages: chunked and hashed (or `error`),
    then embedded if the registry does not already hold its digest."""

    doc: Article | Ticket
    chunks: list[Chunk]
    digest: str
    vectors: list[list[float]] | None = None
    error: BaseException | None = None

    @property
    def key(self) -> Key:
        return _key(self.doc.kind, self.doc.id)


@dataclass
class _Prepared:
    page: SyncPage
    items: list[_Changed]


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
    tally: dict[str, dict[str, int]] = field(default_factory=dict)
    # This page's failed documents (to remember) and settled ones (to forget).
    failed_now: dict[Key, dict[str, Any]] = field(default_factory=dict)
    settled: set[Key] = field(default_factory=set)

    def count(self, kind: DocumentKind | str, what: str) -> None:
        per_kind = self.tally.setdefault(str(kind), dict.fromkeys(COUNTS, 0))
        per_kind[what] += 1
        total = {"indexed": "added", "unchanged": "skipped"}.get(what, what)
        if total != "empty":
            setattr(self.run, total, getattr(self.run, total) + 1)
        self.run.counts = copy.deepcopy(self.tally)  # a new value: SQLAlchemy sees the change

    def fail(self, where: str, error: BaseException | str, ref: DocumentRef | None = None,
             url: str | None = None, status: int | None = None) -> None:
        if isinstance(error, ClientError):
            text = error.message
        else:
            text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if ref is not None:
            self.count(ref.kind, "failed")
            self.failed_now[_key(ref.kind, ref.id)] = {"url": url, "status": status,
                                                       "error": text[:500]}
        else:
            self.run.failed += 1
        if len(self.run.failures) < MAX_FAILURES_KEPT:
            entry: dict[str, Any] = {"document": where, "error": text[:500]}
            if url is not None or status is not None:
                entry.update(url=url, status=status)
            # A new list: SQLAlchemy notices reassignment, not in-place appends to JSON.
            self.run.failures = [*self.run.failures, entry]
        log.warning("sync %s: %s failed: %s", self.name, where, text)

    def warn(self, message: str) -> None:
        self.run.warnings = [*(self.run.warnings or []), message]
        log.warning("sync %s: %s", self.name, message, extra=IN_RUN_REPORT)

    def _remember_failures(self, session: Session) -> None:
        """Failed documents join sync_failure (or try again later); settled ones leave it."""
        keys = set(self.failed_now) | self.settled
        if not keys:
            return
        rows = {(row.kind, row.external_id): row for row in session.exec(
            select(SyncFailure).where(SyncFailure.connector == self.name,
                                      col(SyncFailure.external_id).in_({i for _, i in keys})))}
        now = utcnow()
        for key in self.settled - set(self.failed_now):
            if (row := rows.get(key)) is not None:
                session.delete(row)
        for key, info in self.failed_now.items():
            row = rows.get(key)
            if row is None:
                row = SyncFailure(connector=self.name, kind=key[0], external_id=key[1],
                                  attempts=0, first_failed_at=now, error="")
            row.attempts += 1
            row.url, row.status, row.error = info["url"], info["status"], info["error"]
            row.last_failed_at = now
            row.next_attempt_at = now + retry_delay(row.attempts)
            session.add(row)
        self.failed_now.clear()
        self.settled.clear()

    # -- one page -----------------------------------------------------------------------------
    # Three stages, which run_sync overlaps: prepare (chunk and hash, in the fetching thread),
    # embed (the caller's thread) and apply (index writes and the page's commit, in a writer).
    def prepare(self, page: SyncPage) -> _Prepared:
        items = []
        for doc in page.documents:
            try:
                chunks = chunk_document(self.name, doc)
                digest = content_hash(chunks, self.embedder_id) if chunks else ""
                items.append(_Changed(doc, chunks, digest))
            except Exception as exc:
                items.append(_Changed(doc, [], "", error=exc))
        return _Prepared(page, items)

    def embed(self, engine: Engine, prepared: _Prepared) -> None:
        """Vectors for the documents whose digest the registry does not hold. The writer may
        not have committed the page before yet: it checks again, and embeds what is missing."""
        with Session(engine) as session:
            rows = self._registry(session, [item.key for item in prepared.items])
        latest = {item.key: item for item in prepared.items}  # later duplicates win
        self._embed([item for item in latest.values() if self._needs_vectors(item, rows)])

    @staticmethod
    def _needs_vectors(item: _Changed, rows: dict[Key, SourceDocument]) -> bool:
        if item.error is not None or not item.chunks or item.vectors is not None:
            return False
        row = rows.get(item.key)
        return row is None or row.content_hash != item.digest

    def apply(self, session: Session, prepared: _Prepared) -> None:
        page = prepared.page
        keys = [item.key for item in prepared.items] + [_key(r.kind, r.id) for r in page.deleted]
        rows = self._registry(session, keys)
        for message in page.warnings:
            self.warn(message)
        for ref in page.deleted:
            self._delete(session, rows, ref)
        changed: dict[Key, _Changed] = {}
        for item in prepared.items:  # later duplicates win, like later events
            doc, key = item.doc, item.key
            ref = DocumentRef(kind=doc.kind, id=doc.id)
            if item.error is not None and not item.chunks:
                changed.pop(key, None)
                self.seen.add(key)  # unreadable now, but live: keep what is indexed
                self.fail(f"{doc.kind}:{doc.id}", item.error, ref)
                continue
            self.settled.add(key)
            if not item.chunks:  # a draft, or a ticket with nothing vetted to say
                changed.pop(key, None)
                self.seen.discard(key)
                if key not in rows:  # an indexed one leaving is counted as deleted
                    self.count(doc.kind, "empty")
                self._delete(session, rows, ref)
                continue
            self.seen.add(key)
            row = rows.get(key)
            if row is not None and row.content_hash == item.digest:
                changed.pop(key, None)
                self.count(doc.kind, "unchanged")
                continue
            changed[key] = item
        self._embed([item for item in changed.values()
                     if item.vectors is None and item.error is None])
        ready = []
        for key, item in changed.items():
            if item.vectors is None:  # its embedding failed
                self.fail(f"{item.doc.kind}:{item.doc.id}", item.error or "not embedded",
                          DocumentRef(kind=item.doc.kind, id=item.doc.id))
                self.settled.discard(key)
            else:
                ready.append(item)
        for item in self._write(ready, rows):
            self._register(session, rows, item.key, item)
        for failure in page.failures:
            self._connector_failure(failure)
        self._remember_failures(session)
        # Labelled past tickets, which triage and tagging learn from (knowledge.tickets).
        record_tickets(session, self.name, [d for d in page.documents if isinstance(d, Ticket)],
                       [r for r in page.deleted if not (self.connector.full_listing
                                                        and _key(r.kind, r.id) in self.seen)])

    def _write(self, items: list[_Changed], rows: dict[Key, SourceDocument]) -> list[_Changed]:
        """Index the page's embedded documents, all in one upsert; returns those written. A
        changed document's old points go first (it may have fewer chunks now); a new one has
        none. If the batch fails, each document is tried alone, so one bad one fails alone."""
        try:
            for item in items:
                if item.key in rows:
                    self.index.delete_document(self.name, item.doc.kind, item.doc.id)
            if items:
                self.index.upsert([c for item in items for c in item.chunks],
                                  [v for item in items for v in item.vectors or []])
            return items
        except Exception:
            return [written for item in items for written in self._write_alone(item)]

    def _write_alone(self, item: _Changed) -> list[_Changed]:
        try:
            self.index.delete_document(self.name, item.doc.kind, item.doc.id)
            self.index.upsert(item.chunks, item.vectors or [])
        except Exception as exc:
            self.fail(f"{item.doc.kind}:{item.doc.id}", exc,
                      DocumentRef(kind=item.doc.kind, id=item.doc.id))
            self.settled.discard(item.key)
            return []
        return [item]

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
            self.fail(f"{ref.kind}:{ref.id}", exc, ref)
            return
        self.settled.add(key)
        row = rows.pop(key, None)
        if row is not None:
            session.delete(row)
            self.count(ref.kind, "deleted")

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
                batch[0].error = exc  # recorded by apply, in the writer
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
            self.count(doc.kind, "indexed")
        else:
            self.count(doc.kind, "updated")
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
        self.fail(failure.where, failure.error, failure.ref, failure.url, failure.status)

    # -- after a complete listing -------------------------------------------------------------
    def delete_unseen(self, session: Session) -> None:
        rows = session.exec(
            select(SourceDocument).where(SourceDocument.connector == self.name)
        ).all()
        for row in rows:
            key = _key(row.kind, row.external_id)
            if key in self.seen:
                continue
            ref = DocumentRef(kind=DocumentKind(row.kind), id=row.external_id)
            try:
                self.index.delete_document(self.name, ref.kind, ref.id)
            except Exception as exc:
                self.fail(f"{row.kind}:{row.external_id}", exc, ref)
                continue
            session.delete(row)
            self.settled.add(key)
            self.count(row.kind, "deleted")
        self._remember_failures(session)
        for failure in session.exec(select(SyncFailure).where(SyncFailure.connector == self.name)):
            if _key(failure.kind, failure.external_id) not in self.seen:
                session.delete(failure)  # no longer listed at all: nothing left to retry
        forget_unseen_tickets(session, self.name,
                              {doc_id for kind, doc_id in self.seen if kind == DocumentKind.TICKET})

    # -- documents that failed on earlier runs ------------------------------------------------
    def retry_failed(self, engine: Engine, applied: Applied | None = None) -> None:
        """Fetch again the failed documents whose backoff has passed, and apply them."""
        with Session(engine) as session:
            due = session.exec(
                select(SyncFailure)
                .where(SyncFailure.connector == self.name,
                       col(SyncFailure.next_attempt_at) <= utcnow())
                .order_by(col(SyncFailure.next_attempt_at)).limit(RETRY_PER_RUN)
            ).all()
            refs = [DocumentRef(kind=DocumentKind(row.kind), id=row.external_id) for row in due]
        if not refs:
            return
        log.info("sync %s: fetching %d failed documents again", self.name, len(refs))
        try:
            page = self.connector.refetch(refs)
        except NotSupported:
            return  # they are retried when the listing brings them again
        except Exception as exc:  # the whole retry failed: each of them tries again later
            for ref in refs:
                self.fail(f"{ref.kind} {ref.id}", exc, ref)
            with session_scope(engine) as session:
                self._remember_failures(session)
                session.add(self.run)
            return
        with session_scope(engine) as session:
            self.apply(session, self.prepare(page))
            session.add(self.run)
        if applied is not None:
            applied(page)


def load_checkpoint(engine: Engine, connector: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        state = session.get(SyncState, connector)
        return state.checkpoint if state else None


def _save_checkpoint(session: Session, connector: str, checkpoint: dict[str, Any] | None) -> None:
    state = session.get(SyncState, connector) or SyncState(connector=connector)
    state.checkpoint = checkpoint
    state.updated_at = utcnow()
    session.add(state)


INTERRUPTED = "the process running it stopped (a crash, a kill); resumed from its checkpoint"


def _close_stale_runs(session: Session, connector: str) -> int:
    stale = session.exec(
        select(SyncRun).where(SyncRun.connector == connector, SyncRun.status == "running")
    ).all()
    for old in stale:
        old.status, old.error = "interrupted", old.error or INTERRUPTED
        old.finished_at = old.finished_at or utcnow()
        session.add(old)
    return len(stale)


def mark_interrupted(engine: Engine, connector: str) -> int:
    """At start: runs left "running" by a process that is gone become "interrupted". Returns
    how many, so that the caller resumes the sync at once (from the checkpoint)."""
    if is_held(engine, connector):  # a live process (another worker, host) is running it
        return 0
    with session_scope(engine) as session:
        return _close_stale_runs(session, connector)


def _start_run(engine: Engine, connector: str, full: bool) -> SyncRun:
    with session_scope(engine) as session:
        # We hold the lock, so a run still marked running was cut short (a crash, a kill).
        _close_stale_runs(session, connector)
        run = SyncRun(connector=connector, full=full)
        session.add(run)
        session.flush()
        session.refresh(run)
        return run


_END = object()  # closes a stage's queue


class _Pipeline:
    """The stages of a run, overlapped: a fetcher thread lists and chunks page n+2 while this
    thread embeds page n+1 and a writer thread indexes and commits page n. The embedder's and
    the index's native code release the GIL for most of their time, so the stages share the
    cores instead of waiting for each other. Pages are committed in order, one transaction
    each, so a checkpoint never gets ahead of what is stored. The first error of any stage
    stops the others (after the page in hand) and is raised here."""

    DEPTH = 2  # pages waiting between two stages

    def __init__(self, work: _Pass, engine: Engine, progress: Progress | None,
                 cancel: threading.Event | None, applied: Applied | None) -> None:
        self.work, self.engine, self.progress, self.cancel = work, engine, progress, cancel
        self.applied = applied
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.fetched: queue.Queue[Any] = queue.Queue(self.DEPTH)
        self.embedded: queue.Queue[Any] = queue.Queue(self.DEPTH)

    def _put(self, into: queue.Queue[Any], item: Any) -> None:
        while True:
            try:
                into.put(item, timeout=0.1)
                return
            except queue.Full:
                if self.stop.is_set():  # the consumer is stopping too: nothing to hand on
                    return

    def _get(self, source: queue.Queue[Any]) -> Any:
        while True:
            try:
                return source.get(timeout=0.1)
            except queue.Empty:
                if self.stop.is_set():
                    return _END

    def _failed(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.stop.set()

    def _fetch(self, pages: Iterator[SyncPage]) -> None:
        try:
            for page in pages:
                if self.stop.is_set():
                    return
                self._put(self.fetched, self.work.prepare(page))
        except BaseException as exc:
            self.errors.append(exc)  # the pages before it still get embedded and written
        finally:
            self._put(self.fetched, _END)

    def _write(self) -> None:
        work = self.work
        try:
            while (prepared := self._get(self.embedded)) is not _END:
                page = prepared.page
                with session_scope(self.engine) as session:
                    work.apply(session, prepared)
                    _save_checkpoint(session, work.name, page.checkpoint)
                    session.add(work.run)
                if self.applied is not None:
                    self.applied(page)
                if self.progress is not None:
                    self.progress(len(page.documents) + len(page.deleted) + len(page.failures))
                if self.cancel is not None and self.cancel.is_set():
                    raise SyncCancelled("cancelled; the next run resumes from the last page")
        except BaseException as exc:
            self._failed(exc)

    def run(self, pages: Iterator[SyncPage]) -> None:
        name = self.work.name
        fetcher = threading.Thread(target=self._fetch, args=(pages,), name=f"sync-fetch-{name}",
                                   daemon=True)
        writer = threading.Thread(target=self._write, name=f"sync-write-{name}", daemon=True)
        fetcher.start()
        writer.start()
        try:
            while (prepared := self._get(self.fetched)) is not _END:
                self.work.embed(self.engine, prepared)
                self._put(self.embedded, prepared)
        except BaseException as exc:
            self._failed(exc)
        finally:
            self._put(self.embedded, _END)
            writer.join()
            self.stop.set()  # the writer is done: a fetcher still listing stops at its page
            fetcher.join()
            if isinstance(pages, Generator):
                pages.close()
        if self.errors:
            raise self.errors[0]


def run_sync(
    connector: Connector, *, index: VectorIndex, embedder: Embedder, engine: Engine,
    batch_size: int, full: bool = False, progress: Progress | None = None,
    cancel: threading.Event | None = None, applied: Applied | None = None,
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
            _Pipeline(work, engine, progress, cancel, applied).run(connector.fetch(checkpoint))
            work.retry_failed(engine, applied)
            if connector.full_listing and checkpoint is None:
                with session_scope(engine) as session:
                    work.delete_unseen(session)
                    session.add(run)
            run.status = "succeeded"
        except SyncCancelled as exc:  # shutdown asked for it: expected, not an error
            run.status, run.error = "cancelled", str(exc)
        except BaseException as exc:  # recorded, then re-raised only if not an ordinary error
            run.status = "failed"
            # A helpdesk's failure says itself (URL, what to do); anything else is ours: traced.
            known = isinstance(exc, ClientError)
            message = exc.message if known else f"{type(exc).__name__}: {exc}"
            run.error = " ".join(message.split())[:500]
            traced = not (known or isinstance(exc, KeyboardInterrupt))
            log.error("sync %s failed: %s", connector_name, run.error, exc_info=traced,
                      extra={} if traced else IN_RUN_REPORT)
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
    if run.added or run.updated or run.deleted:  # the corpus changed: so may its lexical weight
        try:
            calibration = index.calibrate()
            log.info("knowledge base calibrated: homogeneity %.3f, lexical weight %.3f",
                     calibration.homogeneity, calibration.lexical_weight)
        except Exception as exc:  # search keeps the previous weight
            log.warning("index calibration after sync failed: %s", exc)
    run.finished_at = utcnow()
    with session_scope(engine) as session:
        session.add(run)
