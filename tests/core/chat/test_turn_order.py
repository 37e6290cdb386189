"""One turn at a time per thread: concurrent messages on one thread are answered in turn, each
answer built from the message it answers."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
from fastapi import FastAPI

from .conftest import MakeApp
from .protocol import ChatClient, request, sse_events, user_input


def test_concurrent_messages_on_one_thread_are_answered_one_at_a_time(make_app: MakeApp
                                                                      ) -> None:
    _check_one_at_a_time([make_app()[0]])


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database_take_a_thread_turn_by_turn(
        make_app: MakeApp, postgres_url: str) -> None:
    # Two server processes as far as the chat is concerned: each its own app, services, engine
    # and turn locks; only the database (and the session key in the data dir) are shared.
    _check_one_at_a_time([make_app(database_url=postgres_url)[0] for _ in range(2)])


def _check_one_at_a_time(apps: list[FastAPI]) -> None:
    """10 messages at once on one thread, spread over `apps`: each answered in turn."""
    client = ChatClient(apps[0])
    thread_id = client.create("first").thread_id
    cookies = dict(client.http.cookies)

    async def send_all() -> list[str]:
        https = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://testserver", cookies=cookies)
                 for app in apps]

        async def send(n: int) -> str:
            body = request("threads.add_user_message", thread_id=thread_id,
                           input=user_input(f"message {n}"))
            response = await https[n % len(https)].post(
                "/chatkit", content=json.dumps(body),
                headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text
            done = [e["item"] for e in sse_events(response.text)
                    if e["type"] == "thread.item.done"
                    and e["item"]["type"] == "assistant_message"]
            return f"message {n}|" + done[-1]["content"][0]["text"]

        try:
            return await asyncio.gather(*(send(n) for n in range(10)))
        finally:
            for http in https:
                await http.aclose()

    answers = asyncio.run(send_all())
    for answer in answers:
        asked, reply = answer.split("|")
        assert reply.endswith(asked), answers  # the answer is to this message, not another
    counts = sorted(int(reply.split(":")[0].split()[1]) for _, reply in
                    (a.split("|") for a in answers))
    assert counts == list(range(2, 12))  # each turn saw the ones before it, and only those


def test_a_request_cancelled_while_it_waits_for_its_turn_leaves_nothing_held() -> None:
    from deskpilot.core.chat.turns import ThreadTurns

    async def run() -> ThreadTurns:
        turns = ThreadTurns()
        release = await turns.acquire("thr_1")
        waiting = asyncio.create_task(turns.acquire("thr_1"))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the visitor left while the previous turn ran
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        release()
        again = await asyncio.wait_for(turns.acquire("thr_1"), 1)  # not held by the one gone
        again()
        return turns

    turns = asyncio.run(run())
    assert turns._locks == {} and turns._users == {}
