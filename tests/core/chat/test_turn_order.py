"""One turn at a time per thread: concurrent messages on one thread are answered in turn, each
answer built from the message it answers."""

from __future__ import annotations

import asyncio
import json

import httpx

from .conftest import MakeApp
from .protocol import ChatClient, request, sse_events, user_input


def test_concurrent_messages_on_one_thread_are_answered_one_at_a_time(make_app: MakeApp
                                                                      ) -> None:
    app = make_app()[0]
    client = ChatClient(app)
    thread_id = client.create("first").thread_id
    cookies = dict(client.http.cookies)

    async def send_all() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     cookies=cookies) as http:
            async def send(n: int) -> str:
                body = request("threads.add_user_message", thread_id=thread_id,
                               input=user_input(f"message {n}"))
                response = await http.post("/chatkit", content=json.dumps(body),
                                           headers={"Content-Type": "application/json"})
                assert response.status_code == 200, response.text
                done = [e["item"] for e in sse_events(response.text)
                        if e["type"] == "thread.item.done"
                        and e["item"]["type"] == "assistant_message"]
                return f"message {n}|" + done[-1]["content"][0]["text"]

            return await asyncio.gather(*(send(n) for n in range(10)))

    answers = asyncio.run(send_all())
    for answer in answers:
        asked, reply = answer.split("|")
        assert reply.endswith(asked), answers  # the answer is to this message, not another
    counts = sorted(int(reply.split(":")[0].split()[1]) for _, reply in
                    (a.split("|") for a in answers))
    assert counts == list(range(2, 12))  # each turn saw the ones before it, and only those
