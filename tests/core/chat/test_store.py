"""The ChatKit store on SQLite and PostgreSQL: every method, paging, upserts, user scoping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from deskpilot._chat import RequestContext
from deskpilot.core.chat.store import ChatStore
from deskpilot.core.chat.tables import ChatFeedback
from deskpilot.core.store import make_engine, upgrade

pytestmark = pytest.mark.anyio

ALICE = RequestContext(user_id="user:alice")
BOB = RequestContext(user_id="anon:bob")
T0 = datetime(2025, 1, 1, 12, 0, 0)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> ChatStore:
    return ChatStore(engine)


def thread(thread_id: str, created: datetime = T0, **fields) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=created, **fields)


def message(item_id: str, thread_id: str, text: str = "hi", at: datetime = T0) -> UserMessageItem:
    return UserMessageItem(id=item_id, thread_id=thread_id, created_at=at,
                           content=[UserMessageTextContent(text=text)],
                           inference_options=InferenceOptions())


def answer(item_id: str, thread_id: str, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(id=item_id, thread_id=thread_id, created_at=T0,
                                content=[AssistantMessageContent(text=text)])


async def test_generated_ids_are_unique_and_prefixed(store: ChatStore) -> None:
    ids = {store.generate_thread_id(ALICE) for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("thr_") for i in ids)
    t = thread("thr_x")
    assert store.generate_item_id("message", t, ALICE).startswith("msg_")
    assert store.generate_item_id("workflow", t, ALICE).startswith("wf_")


async def test_save_and_load_thread_round_trips_every_field(store: ChatStore) -> None:
    saved = thread("thr_1", title="Billing", status=LockedStatus(reason="spam"),
                   metadata={"escalated": True, "ticket": "42"},
                   allowed_image_domains=["cdn.example.com"])
    await store.save_thread(saved, ALICE)
    assert await store.load_thread("thr_1", ALICE) == saved
    saved.title = "Billing question"
    await store.save_thread(saved, ALICE)  # an upsert
    assert (await store.load_thread("thr_1", ALICE)).title == "Billing question"


async def test_threads_are_scoped_to_their_user(store: ChatStore) -> None:
    await store.save_thread(thread("thr_a", title="alice's"), ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_a", BOB)
    with pytest.raises(NotFoundError):  # not even overwritten
        await store.save_thread(thread("thr_a", title="bob's"), BOB)
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr_a", BOB)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_a", message("msg_b", "thr_a"), BOB)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_a", None, 10, "asc", BOB)
    assert (await store.load_threads(10, None, "desc", BOB)).data == []
    assert (await store.load_thread("thr_a", ALICE)).title == "alice's"
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_missing", ALICE)


async def test_load_threads_pages_in_both_orders(store: ChatStore) -> None:
    # Two threads share a timestamp: the id breaks the tie, so no page skips or repeats one.
    stamps = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1), T0 + timedelta(seconds=2),
              T0 + timedelta(seconds=3)]
    for n, stamp in enumerate(stamps):
        await store.save_thread(thread(f"thr_{n}", stamp), ALICE)
    await store.save_thread(thread("thr_bob", T0), BOB)
    ascending = ["thr_0", "thr_1", "thr_2", "thr_3", "thr_4"]
    for order, expected in (("asc", ascending), ("desc", ascending[::-1])):
        seen, after, pages = [], None, 0
        while True:
            page = await store.load_threads(2, after, order, ALICE)
            pages += 1
            seen += [t.id for t in page.data]
            assert page.after == page.data[-1].id
            after = page.after
            if not page.has_more:
                break
        assert seen == expected and pages == 3
    with pytest.raises(NotFoundError):
        await store.load_threads(2, "thr_bob", "asc", ALICE)


async def test_thread_items_page_in_both_orders_by_insertion(store: ChatStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    # Equal and even decreasing timestamps: the order is the order items were added.
    ids = [f"msg_{n}" for n in range(7)]
    for n, item_id in enumerate(ids):
        await store.add_thread_item("thr_1", message(item_id, "thr_1", at=T0 - timedelta(n)), ALICE)
    for order, expected in (("asc", ids), ("desc", ids[::-1])):
        seen, after = [], None
        while True:
            page = await store.load_thread_items("thr_1", after, 3, order, ALICE)
            seen += [i.id for i in page.data]
            assert page.after == (page.data[-1].id if page.data else None)
            after = page.after
            if not page.has_more:
                break
        assert seen == expected
    # The SDK calls it positionally: (thread_id, after, limit, order, context).
    page = await store.load_thread_items("thr_1", "msg_4", 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_5", "msg_6"] and not page.has_more
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_1", "msg_missing", 3, "asc", ALICE)
    # Nonsense limits are clamped, not passed to the database.
    assert len((await store.load_thread_items("thr_1", None, -5, "asc", ALICE)).data) == 1


async def test_add_thread_item_is_an_upsert_that_keeps_the_place(store: ChatStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    await store.add_thread_item("thr_1", answer("msg_1", "thr_1", "working…"), ALICE)
    await store.add_thread_item("thr_1", message("msg_2", "thr_1"), ALICE)
    await store.add_thread_item("thr_1", answer("msg_1", "thr_1", "done"), ALICE)
    page = await store.load_thread_items("thr_1", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_1", "msg_2"]
    assert page.data[0].content[0].text == "done"
    await store.save_item("thr_1", answer("msg_2", "thr_1", "replaced"), ALICE)
    assert (await store.load_item("thr_1", "msg_2", ALICE)).type == "assistant_message"
    await store.save_item("thr_1", answer("msg_3", "thr_1", "new"), ALICE)  # upsert inserts too
    assert (await store.load_item("thr_1", "msg_3", ALICE)).content[0].text == "new"


async def test_load_and_delete_item(store: ChatStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    await store.save_thread(thread("thr_2"), ALICE)
    await store.add_thread_item("thr_1", message("msg_1", "thr_1", "hello"), ALICE)
    assert await store.load_item("thr_1", "msg_1", ALICE) == message("msg_1", "thr_1", "hello")
    for thread_id, context in (("thr_2", ALICE), ("thr_1", BOB)):
        with pytest.raises(NotFoundError):
            await store.load_item(thread_id, "msg_1", context)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("thr_1", "msg_1", BOB)
    await store.delete_thread_item("thr_1", "msg_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_1", ALICE)


async def test_delete_thread_removes_items_feedback_and_attachments(store: ChatStore) -> None:
    discarded: list[list[str]] = []
    store.discard_files = discarded.append
    await store.save_thread(thread("thr_1"), ALICE)
    await store.add_thread_item("thr_1", answer("msg_1", "thr_1", "x"), ALICE)
    await store.add_feedback("thr_1", ["msg_1"], "positive", ALICE)
    await store.save_attachment(FileAttachment(id="atc_1", name="a.pdf",
                                               mime_type="application/pdf", thread_id="thr_1"),
                                ALICE)
    await store.delete_thread("thr_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", ALICE)
    with Session(store.engine) as session:
        assert session.exec(select(ChatFeedback)).all() == []
    assert discarded == [["atc_1"]]
    # Recreating the id starts empty.
    await store.save_thread(thread("thr_1"), ALICE)
    assert (await store.load_thread_items("thr_1", None, 10, "asc", ALICE)).data == []


async def test_attachments_upsert_and_scoping(store: ChatStore) -> None:
    image = ImageAttachment(id="atc_1", name="shot.png", mime_type="image/png",
                            preview_url="http://localhost/chatkit/attachments/atc_1/preview")
    await store.save_attachment(image, ALICE)
    assert await store.load_attachment("atc_1", ALICE) == image
    moved = image.model_copy(update={"thread_id": "thr_1"})
    await store.save_attachment(moved, ALICE)
    assert (await store.load_attachment("atc_1", ALICE)).thread_id == "thr_1"
    for call in (store.load_attachment("atc_1", BOB), store.delete_attachment("atc_1", BOB),
                 store.save_attachment(image, BOB)):
        with pytest.raises(NotFoundError):
            await call
    await store.delete_attachment("atc_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", ALICE)


async def test_feedback_rows_per_item_latest_vote_wins(store: ChatStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    await store.add_thread_item("thr_1", answer("msg_1", "thr_1", "a"), ALICE)
    await store.add_thread_item("thr_1", answer("msg_2", "thr_1", "b"), ALICE)
    await store.add_feedback("thr_1", ["msg_1", "msg_2", "msg_unknown"], "negative", ALICE)
    await store.add_feedback("thr_1", ["msg_2"], "positive", ALICE)
    with Session(store.engine) as session:
        rows = session.exec(select(ChatFeedback).order_by(ChatFeedback.item_id)).all()
    assert [(r.item_id, r.kind, r.user_id) for r in rows] == [
        ("msg_1", "negative", "user:alice"), ("msg_2", "positive", "user:alice")]
    with pytest.raises(NotFoundError):
        await store.add_feedback("thr_1", ["msg_1"], "positive", BOB)


async def _one_batch(store: ChatStore, writes: list) -> list:
    """Run `writes` (coroutines) as one group commit: hold the writer thread until all are
    queued, then let it take them together. Returns each write's result or exception."""
    release = threading.Event()
    holding = asyncio.ensure_future(store._write(lambda conn: release.wait(10)))
    await asyncio.sleep(0.05)  # the writer thread is now inside the holding write
    tasks = [asyncio.ensure_future(w) for w in writes]
    await asyncio.sleep(0.05)  # every write is queued behind it
    release.set()
    await holding
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_group_commit_refuses_a_foreign_write_alone(store: ChatStore) -> None:
    await store.save_thread(thread("thr_a"), ALICE)
    outcomes = await _one_batch(store, [
        store.save_item("thr_a", message("msg_1", "thr_a"), ALICE),
        store.save_item("thr_a", message("msg_evil", "thr_a"), BOB),  # not Bob's thread
        store.save_thread(thread("thr_a", title="taken over"), BOB),
        store.save_item("thr_a", message("msg_2", "thr_a"), ALICE),
    ])

    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], NotFoundError) and isinstance(outcomes[2], NotFoundError)
    page = await store.load_thread_items("thr_a", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_1", "msg_2"]
    assert (await store.load_thread("thr_a", ALICE)).title is None


async def test_group_commit_retries_the_rest_when_one_write_fails_in_the_database(
    store: ChatStore,
) -> None:
    """A database error aborts the batch's transaction (PostgreSQL refuses every later
    statement in it): the other writes are committed one by one, the broken one fails."""
    await store.save_thread(thread("thr_a"), ALICE)
    outcomes = await _one_batch(store, [
        store.save_item("thr_a", message("msg_1", "thr_a"), ALICE),
        store._write(lambda conn: conn.execute(text("INSERT INTO no_such_table VALUES (1)"))),
        store.save_item("thr_a", message("msg_2", "thr_a"), ALICE),
    ])

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], DBAPIError)
    page = await store.load_thread_items("thr_a", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_1", "msg_2"]
