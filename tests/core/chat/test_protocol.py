"""Every ChatKit request type the server supports, over HTTP, with the scripted agent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import anyio
from chatkit.types import ClientToolCallItem
from sqlmodel import Session, select

from deskpilot._chat import RequestContext
from deskpilot.core.chat.server import TITLE_CHARS
from deskpilot.core.chat.tables import ChatFeedback, ChatThread

from .conftest import MakeApp
from .protocol import ChatClient, request, user_input
from .scripted import PLACEHOLDER_ID


def _user_id(client: ChatClient, thread_id: str) -> str:
    """The store-side user id of a client, read back through its own thread."""
    chat = client.http.app.state.chat
    with Session(chat.store.engine) as session:
        return session.get(ChatThread, thread_id).user_id


def test_create_streams_a_thread_the_user_message_and_the_answer(client: ChatClient) -> None:
    turn = client.create("How do I reset my password?")
    assert turn.response.status_code == 200
    kinds = [e["type"] for e in turn.events]
    assert kinds[0] == "thread.created"
    assert "stream_options" in kinds and "thread.item.added" in kinds
    assert "thread.item.updated" in kinds  # text deltas streamed
    user, assistant = turn.done_items
    assert user["type"] == "user_message" and assistant["type"] == "assistant_message"
    assert turn.assistant_text == "echo 1: How do I reset my password?"
    # The provider's placeholder id is replaced by a store id.
    assert assistant["id"] != PLACEHOLDER_ID and assistant["id"].startswith("msg_")
    # The title comes from the first message, announced to the client.
    [updated] = turn.of_type("thread.updated")
    assert updated["thread"]["title"] == "How do I reset my password?"
    assert "set-cookie" in turn.response.headers
    assert "deskpilot_session=" in turn.response.headers["set-cookie"]
    assert "httponly" in turn.response.headers["set-cookie"].lower()
    assert "samesite=lax" in turn.response.headers["set-cookie"].lower()


def test_add_user_message_sees_history_and_keeps_every_message(client: ChatClient) -> None:
    thread_id = client.create("first").thread_id
    turn = client.add_message(thread_id, "second")
    assert turn.response.status_code == 200
    assert turn.assistant_text == "echo 2: second"
    items = client.list_items(thread_id, order="asc")["data"]
    texts = [(i["type"], (i["content"][0]["text"])) for i in items]
    assert texts == [("user_message", "first"), ("assistant_message", "echo 1: first"),
                     ("user_message", "second"), ("assistant_message", "echo 2: second")]
    assert len({i["id"] for i in items}) == 4


def test_long_first_message_gives_a_truncated_title(client: ChatClient) -> None:
    thread_id = client.create("word " * 40).thread_id
    title = client.get_thread(thread_id)["title"]
    assert len(title) <= TITLE_CHARS and title.endswith("…")
    # A later message does not retitle the thread.
    client.add_message(thread_id, "something else")
    assert client.get_thread(thread_id)["title"] == title


def test_get_by_id_list_update_delete(client: ChatClient) -> None:
    first = client.create("one").thread_id
    second = client.create("two").thread_id
    thread = client.get_thread(first)
    assert thread["id"] == first and thread["status"] == {"type": "active"}
    assert [i["type"] for i in thread["items"]["data"]] == ["user_message", "assistant_message"]
    assert thread.get("metadata", {}) == {}  # server-side metadata never reaches the client

    page = client.list_threads(limit=1)
    assert [t["id"] for t in page["data"]] == [second] and page["has_more"]
    page = client.list_threads(limit=1, after=page["after"])
    assert [t["id"] for t in page["data"]] == [first] and not page["has_more"]
    assert [t["id"] for t in client.list_threads(order="asc")["data"]] == [first, second]

    assert client.update_thread(first, "Renamed")["title"] == "Renamed"
    assert client.get_thread(first)["title"] == "Renamed"

    assert client.delete_thread(first) == {}
    response = client.post(request("threads.get_by_id", thread_id=first))
    assert response.status_code == 404 and response.json()["error"] == "thread not found"
    assert [t["id"] for t in client.list_threads()["data"]] == [second]


def test_items_list_pages_both_ways(client: ChatClient) -> None:
    thread_id = client.create("a").thread_id
    client.add_message(thread_id, "b")
    every = [i["id"] for i in client.list_items(thread_id, order="asc", limit=50)["data"]]
    for order, expected in (("asc", every), ("desc", every[::-1])):
        seen, after = [], None
        while True:
            page = client.list_items(thread_id, order=order, limit=3, after=after)
            seen += [i["id"] for i in page["data"]]
            after = page["after"]
            if not page["has_more"]:
                break
        assert seen == expected


def test_feedback_is_stored_for_analytics(client: ChatClient) -> None:
    turn = client.create("hello")
    assistant_id = turn.done_items[-1]["id"]
    assert client.feedback(turn.thread_id, [assistant_id], "negative") == {}
    assert client.feedback(turn.thread_id, [assistant_id], "positive") == {}  # latest wins
    engine = client.http.app.state.chat.store.engine
    with Session(engine) as session:
        [row] = session.exec(select(ChatFeedback)).all()
    assert (row.thread_id, row.item_id, row.kind) == (turn.thread_id, assistant_id, "positive")
    assert row.user_id == _user_id(client, turn.thread_id)
    missing = client.post(request("items.feedback", thread_id=turn.thread_id,
                                  item_ids=["msg_nope"], kind="positive"))
    assert missing.status_code == 404


def test_retry_after_item_replaces_the_answer(client: ChatClient) -> None:
    turn = client.create("again please")
    user_id, old_answer = (item["id"] for item in turn.done_items)
    retry = client.retry_after(turn.thread_id, user_id)
    assert retry.response.status_code == 200
    assert retry.assistant_text == "echo 1: again please"
    items = client.list_items(turn.thread_id, order="asc")["data"]
    assert [i["id"] for i in items][0] == user_id and old_answer not in {i["id"] for i in items}
    assert len(items) == 2
    # Naming an assistant message, or a missing item, is refused before anything runs.
    new_answer = items[1]["id"]
    assert client.retry_after(turn.thread_id, new_answer).response.status_code == 400
    assert client.retry_after(turn.thread_id, "msg_missing").response.status_code == 404


def test_add_client_tool_output_completes_the_pending_call(client: ChatClient) -> None:
    turn = client.create("open the billing page")
    chat = client.http.app.state.chat
    context = RequestContext(user_id=_user_id(client, turn.thread_id))
    pending = ClientToolCallItem(id="tc_1", thread_id=turn.thread_id, created_at=datetime.now(),
                                 call_id="call_1", name="open_page", arguments={"page": "billing"})
    anyio.run(chat.store.add_thread_item, turn.thread_id, pending, context)
    result = client.add_tool_output(turn.thread_id, {"opened": True})
    assert result.response.status_code == 200, result.response.text
    assert result.assistant_text.startswith("echo 1:")
    items = client.list_items(turn.thread_id, order="asc")["data"]
    call = next(i for i in items if i["type"] == "client_tool_call")
    assert call["status"] == "completed" and call["output"] == {"opened": True}
    # No pending call any more: a clear 400, not a stream that breaks.
    again = client.add_tool_output(turn.thread_id, {"opened": True})
    assert again.response.status_code == 400
    assert "pending client tool call" in again.response.json()["error"]


def test_custom_actions_and_transcription_are_refused_clearly(client: ChatClient) -> None:
    thread_id = client.create("hi").thread_id
    action = {"type": "do.something", "payload": {}}
    for body in (request("threads.custom_action", thread_id=thread_id, action=action),
                 request("threads.sync_custom_action", thread_id=thread_id, action=action),
                 request("input.transcribe", audio_base64="AAAA", mime_type="audio/webm")):
        response = client.post(body)
        assert response.status_code == 400
        assert "not supported" in response.json()["error"]


def test_escalated_thread_gets_no_answer_from_the_agent(client: ChatClient) -> None:
    turn = client.create("I want a person")
    chat = client.http.app.state.chat
    context = RequestContext(user_id=_user_id(client, turn.thread_id))
    thread = anyio.run(chat.store.load_thread, turn.thread_id, context)
    thread.metadata["escalated"] = True
    anyio.run(chat.store.save_thread, thread, context)
    agent_calls = len(chat.server.build_agent.__self__.model.inputs)
    reply = client.add_message(turn.thread_id, "hello?")
    assert reply.response.status_code == 200
    # A person owns the conversation: the AI stays silent, and the message is stored.
    assert reply.assistant_text == ""
    assert len(chat.server.build_agent.__self__.model.inputs) == agent_calls
    items = client.list_items(turn.thread_id, order="desc", limit=1)["data"]
    assert items[0]["type"] == "user_message"
    assert items[0]["content"][0]["text"] == "hello?"


def test_a_second_visitor_can_neither_read_list_nor_post(app, client: ChatClient) -> None:
    turn = client.create("my private question")
    thread_id, item_id = turn.thread_id, turn.done_items[0]["id"]
    other = ChatClient(app)
    assert other.list_threads()["data"] == []
    not_found = {"detail": "thread not found", "error": "thread not found"}
    for body in (
        request("threads.get_by_id", thread_id=thread_id),
        request("items.list", thread_id=thread_id),
        request("threads.update", thread_id=thread_id, title="mine now"),
        request("threads.delete", thread_id=thread_id),
        request("items.feedback", thread_id=thread_id, item_ids=[item_id], kind="negative"),
        request("threads.add_user_message", thread_id=thread_id, input=user_input("hijack")),
        request("threads.retry_after_item", thread_id=thread_id, item_id=item_id),
        request("threads.add_client_tool_output", thread_id=thread_id, result={}),
        request("threads.add_structured_input", thread_id=thread_id, item_id=item_id,
                input={"answers": {}}),
    ):
        response = other.post(body)
        assert response.status_code == 404, (body["type"], response.text)
        assert response.json() == not_found
    # Another user's thread as a paging cursor is just as unknown.
    assert other.post(request("threads.list", after=thread_id)).status_code == 404
    # The owner's thread is untouched.
    items = client.list_items(thread_id, order="asc")["data"]
    assert [i["content"][0]["text"] for i in items] == ["my private question",
                                                        "echo 1: my private question"]
    assert client.get_thread(thread_id)["title"] == "my private question"


def test_conversation_survives_a_restart(make_app: MakeApp, tmp_path: Path) -> None:
    first_app, _ = make_app(tmp_path / "data")
    visitor = ChatClient(first_app)
    thread_id = visitor.create("remember me").thread_id
    cookies = dict(visitor.http.cookies)

    second_app, agent = make_app(tmp_path / "data")
    again = ChatClient(second_app)
    again.http.cookies.update(cookies)  # same browser, new server process
    items = again.list_items(thread_id, order="asc")["data"]
    assert [i["content"][0]["text"] for i in items] == ["remember me", "echo 1: remember me"]
    assert again.add_message(thread_id, "still there?").assistant_text == "echo 2: still there?"
