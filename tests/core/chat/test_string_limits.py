"""Every string a visitor sends is bounded: a longer one is a 400 naming the limit."""

from __future__ import annotations

from .protocol import ChatClient, request, user_input


def test_a_huge_thread_title_is_refused(client: ChatClient) -> None:
    thread_id = client.create("hello").thread_id
    response = client.post(request("threads.update", thread_id=thread_id, title="x" * 900_000))
    assert response.status_code == 400
    assert "200 characters" in response.json()["detail"]
    assert client.get_thread(thread_id)["title"] != "x" * 900_000


def test_a_huge_message_is_refused(client: ChatClient) -> None:
    response = client.post(request("threads.create", input=user_input("y" * 20_000)))
    assert response.status_code == 400
    assert "8000 characters" in response.json()["detail"]
    assert client.list_threads()["data"] == []
    quoted = request("threads.create", input={**user_input("hi"), "quoted_text": "q" * 20_000})
    assert client.post(quoted).status_code == 400


def test_feedback_on_too_many_items_is_refused(client: ChatClient) -> None:
    thread_id = client.create("hello").thread_id
    response = client.post(request("items.feedback", thread_id=thread_id,
                                   item_ids=[f"msg_{n}" for n in range(1000)], kind="positive"))
    assert response.status_code == 400
    assert "100 items" in response.json()["detail"]
