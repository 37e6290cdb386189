"""New conversations (and so handoff tickets, one per conversation at most) are rate-limited
per client address and per session: a flood gets 429 with a message naming the limit."""

from __future__ import annotations

from .conftest import MakeApp
from .protocol import ChatClient, request, user_input

ASK = request("threads.create", input=user_input("I'd like to talk to a person"))


def test_a_flood_of_new_conversations_from_one_address_is_429(make_app: MakeApp) -> None:
    app = make_app(new_threads_per_address="5/minute", new_threads_per_session="100/minute")[0]
    # 30 visitors without a cookie, all from one address (the test client's).
    answers = [ChatClient(app).post(ASK) for _ in range(30)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}, codes
    refused = answers[-1]
    assert "5 per 1 minute" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0


def test_one_session_is_limited_too(make_app: MakeApp) -> None:
    app = make_app(new_threads_per_address="100/minute", new_threads_per_session="3/minute")[0]
    visitor = ChatClient(app)
    codes = [visitor.post(ASK).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    other = ChatClient(app)  # another session on the same address still may
    assert other.post(ASK).status_code == 200
    # Messages in an existing conversation are not new conversations.
    thread_id = visitor.list_threads()["data"][0]["id"]
    assert visitor.add_message(thread_id, "hello?").response.status_code == 200
