"""The ChatKit `Store` on SQLModel (SQLite or PostgreSQL), every query scoped to the asking user.

Another user's thread, item or attachment is indistinguishable from a missing one: both raise
`NotFoundError`. Database calls run in the store's own worker threads so they never stall the
event loop, nor queue behind CPU work (embedding, search) in the loop's default executor.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, FeedbackKind, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy import and_, delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.chat.context import RequestContext
from core.chat.tables import ChatAttachment, ChatFeedback, ChatItem, ChatThread
from core.store import session_scope
from core.tables import utcnow

T = TypeVar("T")
_QueuedWrite = tuple[Callable[[Session], Any], "asyncio.Future[Any]"]
# A queued write's future with its result, or the exception it raised.
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

MAX_PAGE = 100
# Reads run side by side (WAL readers never block); below the engine's default pool of 5.
READ_THREADS = 4
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)
_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "task": "tsk",
    "workflow": "wf",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def new_id(kind: StoreItemType) -> str:
    # The SDK default keeps 8 hex digits; ids are capabilities in URLs, so keep all 32.
    return f"{_PREFIXES[kind]}_{uuid.uuid4().hex}"


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def _page(rows: Sequence[Any], limit: int, convert: Callable[[Any], T]) -> Page[T]:
    data = [convert(row) for row in rows[:limit]]
    return Page(data=data, has_more=len(rows) > limit, after=data[-1].id if data else None)  # type: ignore[attr-defined]


def _by_loop(outcomes: list[_Outcome]) -> dict[asyncio.AbstractEventLoop, list[_Outcome]]:
    grouped: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome[0].get_loop(), []).append(outcome)
    return grouped


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, exc in outcomes:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)


class ChatStore(Store[RequestContext]):
    def __init__(
        self, engine: Engine, discard_files: Callable[[list[str]], None] | None = None
    ) -> None:
        self.engine = engine
        # Removes stored attachment bytes when a thread is deleted with its attachments.
        self.discard_files = discard_files
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="chat-store-read")
        # SQLite has one writer at a time, and a connection waiting for the lock sleeps in
        # growing steps (up to 100 ms each): queue this process's writes on one thread instead,
        # and commit all writes queued meanwhile in one transaction (group commit). Each
        # transaction on that thread costs several GIL hand-offs with the busy event loop, so
        # under a burst one commit per write made every new thread's first event wait in line.
        # PostgreSQL takes concurrent writes, one transaction each.
        self._group_commit = engine.dialect.name == "sqlite"
        self._writes = (ThreadPoolExecutor(1, thread_name_prefix="chat-store-write")
                        if self._group_commit else self._reads)
        self._queued: list[_QueuedWrite] = []
        self._queue_lock = threading.Lock()
        self._draining = False

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, partial(fn, *args))

    async def _write(self, fn: Callable[[Session], T]) -> T:
        """Run `fn` in a transaction; returns once that transaction is committed."""
        loop = asyncio.get_running_loop()
        if not self._group_commit:
            return await loop.run_in_executor(self._writes, self._transaction, fn)
        future: asyncio.Future[T] = loop.create_future()
        with self._queue_lock:
            self._queued.append((fn, future))
            start, self._draining = not self._draining, True
        if start:
            self._writes.submit(self._drain)
        return await future

    def _transaction(self, fn: Callable[[Session], T]) -> T:
        with session_scope(self.engine) as session:
            return fn(session)

    def _drain(self) -> None:
        while True:
            with self._queue_lock:
                batch, self._queued = self._queued, []
                if not batch:
                    self._draining = False
                    return
            outcomes = self._commit(batch)
            for loop, settled in _by_loop(outcomes).items():
                loop.call_soon_threadsafe(_settle, settled)

    def _commit(self, batch: list[_QueuedWrite]) -> list[_Outcome]:
        """One transaction for the batch. A write refused by its ownership check raises before
        it changes anything, so it fails alone; any other error rolls the batch back and its
        writes are retried one transaction each."""
        outcomes: list[_Outcome] = []
        try:
            with session_scope(self.engine) as session:
                for fn, future in batch:
                    try:
                        outcomes.append((future, fn(session), None))
                    except NotFoundError as exc:
                        outcomes.append((future, None, exc))
        except Exception as exc:
            if len(batch) == 1:
                return [(batch[0][1], None, exc)]
            return [outcome for write in batch for outcome in self._commit([write])]
        return outcomes

    def _upsert(self, session: Session, table: Any, values: dict[str, Any], keys: list[str],
                update: list[str]) -> None:
        """INSERT … ON CONFLICT DO UPDATE: atomic on both supported databases."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={name: stmt.excluded[name] for name in update}
        )
        session.execute(stmt)

    # ids

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(item_type)

    # threads

    @staticmethod
    def _owned_thread(session: Session, thread_id: str, user_id: str) -> ChatThread:
        row = session.get(ChatThread, thread_id)
        if row is None or row.user_id != user_id:
            raise NotFoundError("thread not found")
        return row

    @staticmethod
    def _check_owner(session: Session, thread_id: str, user_id: str) -> None:
        """`_owned_thread` without loading the row: item reads and writes only need the check,
        and the ORM load (JSON column, identity map) was a third of each item write's CPU."""
        owner = session.execute(
            select(ChatThread.user_id).where(col(ChatThread.id) == thread_id)
        ).scalar_one_or_none()
        if owner != user_id:
            raise NotFoundError("thread not found")

    @staticmethod
    def _to_thread(row: ChatThread) -> ThreadMetadata:
        # The columns win over the JSON copy, so an operator (or a tool) editing a column is seen.
        return ThreadMetadata.model_validate(
            {**row.data, "title": row.title, "metadata": row.thread_metadata}
        )

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        def load() -> ThreadMetadata:
            with Session(self.engine) as session:
                return self._to_thread(self._owned_thread(session, thread_id, context.user_id))

        return await self._read(load)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        data = ThreadMetadata.model_validate(thread.model_dump()).model_dump(mode="json")

        def save(session: Session) -> None:
            row = session.get(ChatThread, thread.id)
            if row is None:
                row = ChatThread(id=thread.id, user_id=context.user_id,
                                 created_at=thread.created_at, data=data)
            elif row.user_id != context.user_id:
                raise NotFoundError("thread not found")
            row.title = thread.title
            row.status = thread.status.type
            row.thread_metadata = dict(thread.metadata)
            row.data = data
            session.add(row)

        await self._write(save)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = _limit(limit)
        desc = order == "desc"

        def load() -> Page[ThreadMetadata]:
            with Session(self.engine) as session:
                query = select(ChatThread).where(ChatThread.user_id == context.user_id)
                if after is not None:
                    cursor = self._owned_thread(session, after, context.user_id)
                    created, tie = col(ChatThread.created_at), col(ChatThread.id)
                    if desc:
                        query = query.where(or_(created < cursor.created_at, and_(
                            created == cursor.created_at, tie < cursor.id)))
                    else:
                        query = query.where(or_(created > cursor.created_at, and_(
                            created == cursor.created_at, tie > cursor.id)))
                keys = (col(ChatThread.created_at), col(ChatThread.id))
                query = query.order_by(*(k.desc() if desc else k.asc() for k in keys))
                rows = session.exec(query.limit(limit + 1)).all()
                return _page(rows, limit, self._to_thread)

        return await self._read(load)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        def remove(session: Session) -> list[str]:
            row = self._owned_thread(session, thread_id, context.user_id)
            attachments = session.exec(
                select(ChatAttachment.id).where(ChatAttachment.thread_id == thread_id,
                                                ChatAttachment.user_id == context.user_id)
            ).all()
            for table, column in ((ChatItem, ChatItem.thread_id),
                                  (ChatFeedback, ChatFeedback.thread_id),
                                  (ChatAttachment, ChatAttachment.thread_id)):
                session.execute(delete(table).where(column == thread_id))
            session.delete(row)
            return list(attachments)

        removed = await self._write(remove)
        if removed and self.discard_files is not None:
            self.discard_files(removed)

    # items

    @staticmethod
    def _to_item(row: ChatItem) -> ThreadItem:
        return _ITEM.validate_python(row.data)

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        limit = _limit(limit)
        desc = order == "desc"

        def load() -> Page[ThreadItem]:
            with Session(self.engine) as session:
                self._check_owner(session, thread_id, context.user_id)
                query = select(ChatItem).where(ChatItem.thread_id == thread_id)
                seq = col(ChatItem.seq)
                if after is not None:
                    cursor = session.exec(select(ChatItem.seq).where(
                        ChatItem.thread_id == thread_id, ChatItem.id == after)).first()
                    if cursor is None:
                        raise NotFoundError("item not found")
                    query = query.where(seq < cursor if desc else seq > cursor)
                query = query.order_by(seq.desc() if desc else seq.asc())
                rows = session.exec(query.limit(limit + 1)).all()
                return _page(rows, limit, self._to_item)

        return await self._read(load)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        # An upsert: a workflow left open at the end of a turn is added again when it completes.
        # A re-added item keeps its place (its seq).
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        values = {
            "id": item.id,
            "thread_id": thread_id,
            "user_id": context.user_id,
            "created_at": item.created_at,
            "type": item.type,
            "data": item.model_dump(mode="json"),
        }

        def save(session: Session) -> None:
            self._check_owner(session, thread_id, context.user_id)
            self._upsert(session, ChatItem.__table__, values, ["thread_id", "id"],
                         ["type", "data"])

        await self._write(save)

    async def load_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> ThreadItem:
        def load() -> ThreadItem:
            with Session(self.engine) as session:
                row = session.exec(select(ChatItem).where(
                    ChatItem.thread_id == thread_id, ChatItem.id == item_id,
                    ChatItem.user_id == context.user_id)).first()
                if row is None:
                    raise NotFoundError("item not found")
                return self._to_item(row)

        return await self._read(load)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        def remove(session: Session) -> None:
            self._check_owner(session, thread_id, context.user_id)
            session.execute(delete(ChatItem).where(
                col(ChatItem.thread_id) == thread_id, col(ChatItem.id) == item_id))

        await self._write(remove)

    # attachments

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        data = attachment.model_dump(mode="json")

        def save(session: Session) -> None:
            row = session.get(ChatAttachment, attachment.id)
            if row is None:
                row = ChatAttachment(id=attachment.id, user_id=context.user_id, data=data)
            elif row.user_id != context.user_id:
                raise NotFoundError("attachment not found")
            row.thread_id = attachment.thread_id
            row.data = data
            session.add(row)

        await self._write(save)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        def load() -> Attachment:
            with Session(self.engine) as session:
                row = session.get(ChatAttachment, attachment_id)
                if row is None or row.user_id != context.user_id:
                    raise NotFoundError("attachment not found")
                return _ATTACHMENT.validate_python(row.data)

        return await self._read(load)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        def remove(session: Session) -> None:
            row = session.get(ChatAttachment, attachment_id)
            if row is None or row.user_id != context.user_id:
                raise NotFoundError("attachment not found")
            session.delete(row)

        await self._write(remove)

    # feedback (not part of the Store contract: the server's add_feedback stores it here)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        def save(session: Session) -> None:
            self._check_owner(session, thread_id, context.user_id)
            known = set(session.exec(select(ChatItem.id).where(
                ChatItem.thread_id == thread_id, col(ChatItem.id).in_(item_ids))).all())
            if not known:
                raise NotFoundError("item not found")
            for item_id in sorted(known):
                self._upsert(session, ChatFeedback.__table__, {
                    "thread_id": thread_id, "item_id": item_id, "user_id": context.user_id,
                    "kind": kind, "created_at": utcnow(),
                }, ["thread_id", "item_id", "user_id"], ["kind", "created_at"])

        await self._write(save)
