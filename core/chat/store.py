"""The ChatKit `Store` on the SQLModel chat tables (SQLite or PostgreSQL), every query scoped to
the asking user.

Another user's thread, item or attachment is indistinguishable from a missing one: both raise
`NotFoundError`. Database calls run in the store's own worker threads so they never stall the
event loop, nor queue behind CPU work (embedding, search) in the loop's default executor.

Queries are SQLAlchemy Core statements built once, run on plain connections: the ORM's unit of
work and per-call statement building were most of a chat write's CPU, and under a burst of new
conversations that CPU is spent holding the GIL the event loop needs.
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
from sqlalchemy import Table, and_, bindparam, delete, or_, select
from sqlalchemy.engine import Connection, Engine, Row

from deskpilot._chat import RequestContext
from deskpilot._time import utcnow
from deskpilot.core.chat.tables import ChatAttachment, ChatFeedback, ChatItem, ChatThread
from deskpilot.knowledge.store import dialect_insert

T = TypeVar("T")
_QueuedWrite = tuple[Callable[[Connection], Any], "asyncio.Future[Any]"]
# A queued write's future with its result, or the exception it raised.
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

THREAD: Table = ChatThread.__table__  # type: ignore[attr-defined]
ITEM: Table = ChatItem.__table__  # type: ignore[attr-defined]
ATTACHMENT: Table = ChatAttachment.__table__  # type: ignore[attr-defined]
FEEDBACK: Table = ChatFeedback.__table__  # type: ignore[attr-defined]

# Statements used on every turn, built once so SQLAlchemy's compiled cache is hit at once.
_THREAD_OWNER = select(THREAD.c.user_id).where(THREAD.c.id == bindparam("thread_id"))
_THREAD_ROW = select(
    THREAD.c.id, THREAD.c.user_id, THREAD.c.created_at, THREAD.c.title,
    THREAD.c["metadata"].label("thread_metadata"), THREAD.c.data,
)
_LOAD_THREAD = _THREAD_ROW.where(
    THREAD.c.id == bindparam("thread_id"), THREAD.c.user_id == bindparam("user_id")
)
_LOAD_ITEM = select(ITEM.c.data).where(
    ITEM.c.thread_id == bindparam("thread_id"), ITEM.c.id == bindparam("item_id"),
    ITEM.c.user_id == bindparam("user_id"),
)
_ITEM_SEQ = select(ITEM.c.seq).where(
    ITEM.c.thread_id == bindparam("thread_id"), ITEM.c.id == bindparam("item_id")
)
_ATTACHMENT_ROW = select(ATTACHMENT.c.user_id, ATTACHMENT.c.data).where(
    ATTACHMENT.c.id == bindparam("attachment_id")
)

MAX_PAGE = 100
# Reads run side by side (WAL readers never block); below the engine's default pool of 5.
READ_THREADS = 4
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)
_THREAD_FIELDS = set(ThreadMetadata.model_fields)
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


def _upsert(insert: Any, table: Table, keys: list[str], update: list[str],
            owned: bool = False) -> Any:
    """INSERT … ON CONFLICT DO UPDATE, atomic on both databases; values come at execution.
    `owned`: a conflicting row of another user is left alone, and no row is returned."""
    stmt = insert(table)
    upsert = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in update},
        where=(table.c.user_id == stmt.excluded.user_id) if owned else None,
    )
    # RETURNING, not rowcount: SQLAlchemy leaves an INSERT's rowcount unset (-1) on psycopg.
    return upsert.returning(table.c.id) if owned else upsert


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


def _check_owner(conn: Connection, thread_id: str, user_id: str) -> None:
    if conn.execute(_THREAD_OWNER, {"thread_id": thread_id}).scalar() != user_id:
        raise NotFoundError("thread not found")


def _to_thread(row: Row[Any]) -> ThreadMetadata:
    # The columns win over the JSON copy, so an operator (or a tool) editing a column is seen.
    return ThreadMetadata.model_validate(
        {**row.data, "title": row.title, "metadata": row.thread_metadata}
    )


def _to_item(row: Row[Any]) -> ThreadItem:
    return _ITEM.validate_python(row.data)


class ChatStore(Store[RequestContext]):
    def __init__(
        self, engine: Engine, discard_files: Callable[[list[str]], None] | None = None
    ) -> None:
        self.engine = engine
        # Removes stored attachment bytes when a thread is deleted with its attachments.
        self.discard_files = discard_files
        insert = dialect_insert(engine)
        self._save_thread = _upsert(insert, THREAD, ["id"],
                                    ["title", "status", "metadata", "data"], owned=True)
        self._save_item = _upsert(insert, ITEM, ["thread_id", "id"], ["type", "data"])
        self._save_attachment = _upsert(insert, ATTACHMENT, ["id"], ["thread_id", "data"],
                                        owned=True)
        self._save_feedback = _upsert(insert, FEEDBACK, ["thread_id", "item_id", "user_id"],
                                      ["kind", "created_at"])
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="chat-store-read")
        # Writes queue on one thread, and all writes queued meanwhile commit in one transaction
        # (group commit). SQLite has one writer at a time anyway, and a connection waiting for
        # its lock sleeps in growing steps (up to 100 ms each). On both databases, one
        # transaction per write under a burst of new conversations cost a commit and several
        # GIL hand-offs with the busy event loop each (bench/chat_load.py on PostgreSQL, five
        # runs: p95 to first event 172-265 ms with a transaction per write, 100-189 ms grouped).
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="chat-store-write")
        self._queued: list[_QueuedWrite] = []
        self._queue_lock = threading.Lock()
        self._draining = False

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._reads, partial(self._connected, fn))

    def _connected(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in a transaction; returns once that transaction is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._queue_lock:
            self._queued.append((fn, future))
            start, self._draining = not self._draining, True
        if start:
            self._writes.submit(self._drain)
        return await future

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
        """One transaction for the batch. A write refused by its ownership check changes
        nothing, so it fails alone; any other error rolls the batch back and its writes are
        retried one transaction each."""
        outcomes: list[_Outcome] = []
        try:
            with self.engine.begin() as conn:
                for fn, future in batch:
                    try:
                        outcomes.append((future, fn(conn), None))
                    except NotFoundError as exc:
                        outcomes.append((future, None, exc))
        except Exception as exc:
            if len(batch) == 1:
                return [(batch[0][1], None, exc)]
            return [outcome for write in batch for outcome in self._commit([write])]
        return outcomes

    # ids

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(item_type)

    # threads

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        def load(conn: Connection) -> ThreadMetadata:
            row = conn.execute(
                _LOAD_THREAD, {"thread_id": thread_id, "user_id": context.user_id}
            ).first()
            if row is None:
                raise NotFoundError("thread not found")
            return _to_thread(row)

        return await self._read(load)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        # The SDK may pass a full Thread (with items): keep the metadata fields only.
        values = {
            "id": thread.id,
            "user_id": context.user_id,
            "created_at": thread.created_at,
            "title": thread.title,
            "status": thread.status.type,
            "metadata": dict(thread.metadata),
            "data": thread.model_dump(mode="json", include=_THREAD_FIELDS),
        }

        def save(conn: Connection) -> None:
            # Another user's thread with this id is left untouched, and returns no row.
            if conn.execute(self._save_thread, values).first() is None:
                raise NotFoundError("thread not found")

        await self._write(save)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = _limit(limit)
        desc = order == "desc"

        def load(conn: Connection) -> Page[ThreadMetadata]:
            query = _THREAD_ROW.where(THREAD.c.user_id == context.user_id)
            if after is not None:
                cursor = conn.execute(
                    _LOAD_THREAD, {"thread_id": after, "user_id": context.user_id}
                ).first()
                if cursor is None:
                    raise NotFoundError("thread not found")
                created, tie = THREAD.c.created_at, THREAD.c.id
                if desc:
                    query = query.where(or_(created < cursor.created_at, and_(
                        created == cursor.created_at, tie < cursor.id)))
                else:
                    query = query.where(or_(created > cursor.created_at, and_(
                        created == cursor.created_at, tie > cursor.id)))
            keys = (THREAD.c.created_at, THREAD.c.id)
            query = query.order_by(*(k.desc() if desc else k.asc() for k in keys))
            rows = conn.execute(query.limit(limit + 1)).all()
            return _page(rows, limit, _to_thread)

        return await self._read(load)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        def remove(conn: Connection) -> list[str]:
            _check_owner(conn, thread_id, context.user_id)
            attachments = conn.execute(select(ATTACHMENT.c.id).where(
                ATTACHMENT.c.thread_id == thread_id, ATTACHMENT.c.user_id == context.user_id
            )).scalars().all()
            for table in (ITEM, FEEDBACK, ATTACHMENT):
                conn.execute(delete(table).where(table.c.thread_id == thread_id))
            conn.execute(delete(THREAD).where(THREAD.c.id == thread_id))
            return list(attachments)

        removed = await self._write(remove)
        if removed and self.discard_files is not None:
            self.discard_files(removed)

    # items

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

        def load(conn: Connection) -> Page[ThreadItem]:
            _check_owner(conn, thread_id, context.user_id)
            query = select(ITEM.c.id, ITEM.c.data).where(ITEM.c.thread_id == thread_id)
            seq = ITEM.c.seq
            if after is not None:
                cursor = conn.execute(
                    _ITEM_SEQ, {"thread_id": thread_id, "item_id": after}
                ).scalar()
                if cursor is None:
                    raise NotFoundError("item not found")
                query = query.where(seq < cursor if desc else seq > cursor)
            query = query.order_by(seq.desc() if desc else seq.asc())
            rows = conn.execute(query.limit(limit + 1)).all()
            return _page(rows, limit, _to_item)

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

        def save(conn: Connection) -> None:
            _check_owner(conn, thread_id, context.user_id)
            conn.execute(self._save_item, values)

        await self._write(save)

    async def load_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> ThreadItem:
        def load(conn: Connection) -> ThreadItem:
            row = conn.execute(_LOAD_ITEM, {
                "thread_id": thread_id, "item_id": item_id, "user_id": context.user_id,
            }).first()
            if row is None:
                raise NotFoundError("item not found")
            return _to_item(row)

        return await self._read(load)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        def remove(conn: Connection) -> None:
            _check_owner(conn, thread_id, context.user_id)
            conn.execute(delete(ITEM).where(ITEM.c.thread_id == thread_id, ITEM.c.id == item_id))

        await self._write(remove)

    # attachments

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        values = {
            "id": attachment.id,
            "user_id": context.user_id,
            "thread_id": attachment.thread_id,
            "created_at": utcnow(),
            "data": attachment.model_dump(mode="json"),
        }

        def save(conn: Connection) -> None:
            if conn.execute(self._save_attachment, values).first() is None:
                raise NotFoundError("attachment not found")

        await self._write(save)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        def load(conn: Connection) -> Attachment:
            row = conn.execute(_ATTACHMENT_ROW, {"attachment_id": attachment_id}).first()
            if row is None or row.user_id != context.user_id:
                raise NotFoundError("attachment not found")
            return _ATTACHMENT.validate_python(row.data)

        return await self._read(load)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        def remove(conn: Connection) -> None:
            deleted = conn.execute(delete(ATTACHMENT).where(
                ATTACHMENT.c.id == attachment_id, ATTACHMENT.c.user_id == context.user_id
            ).returning(ATTACHMENT.c.id))
            if deleted.first() is None:
                raise NotFoundError("attachment not found")

        await self._write(remove)

    # feedback (not part of the Store contract: the server's add_feedback stores it here)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        def save(conn: Connection) -> None:
            _check_owner(conn, thread_id, context.user_id)
            known = set(conn.execute(select(ITEM.c.id).where(
                ITEM.c.thread_id == thread_id, ITEM.c.id.in_(item_ids))).scalars())
            if not known:
                raise NotFoundError("item not found")
            now = utcnow()
            conn.execute(self._save_feedback, [
                {"thread_id": thread_id, "item_id": item_id, "user_id": context.user_id,
                 "kind": kind, "created_at": now}
                for item_id in sorted(known)
            ])

        await self._write(save)
