"""Streams over real HTTP (uvicorn on loopback). A visitor who leaves mid-answer (closes the
tab, loses the network) ends that turn cleanly: the agent run stops and nothing is left for
asyncio to complain about ("Task was destroyed but it is pending!", "Task exception was never
retrieved"). One who stays gets the whole answer without an error, though uvicorn reads the
response's first events in the request's task and the rest in another."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import serve

from .conftest import MakeApp
from .protocol import request, user_input
from .scripted import ScriptedModel

DISCONNECTS = 40
ASYNCIO_COMPLAINTS = ("Task was destroyed but it is pending", "Task exception was never retrieved",
                      "was never awaited", "Exception in ASGI application",
                      "Error while generating streamed response")


class SlowModel(ScriptedModel):
    """The scripted answer, a word every 50 ms: a visitor can leave halfway through."""

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in super().stream_response(*args, **kwargs):
            await asyncio.sleep(0.05)
            yield event


@pytest.fixture
def served(make_app: MakeApp) -> Iterator[tuple[FastAPI, int]]:
    app, agent = make_app()
    agent.model = SlowModel()
    with serve(app) as port:
        yield app, port


def _leave_mid_answer(port: int, text: str) -> bytes:
    body = json.dumps(request("threads.create", input=user_input(text))).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        received = b""
        # Until the answer has started streaming: then hang up.
        while b"assistant_message.content_part.text_delta" not in received.replace(
                b"thread.item.updated", b"assistant_message"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            if b'"delta"' in received:
                break
    return received


def test_clients_leaving_mid_stream_leave_no_asyncio_errors(
        served: tuple[FastAPI, int], caplog: pytest.LogCaptureFixture) -> None:
    app, port = served
    caplog.set_level(logging.WARNING)
    for n in range(DISCONNECTS):
        received = _leave_mid_answer(port, f"question {n} with a long enough answer to leave")
        assert received.startswith(b"HTTP/1.1 200"), received[:300]
        assert b'"delta"' in received, received[-300:]
    # Let the server notice the last hang-ups, then collect what the turns left behind: an
    # abandoned pending task is reported when it is garbage-collected.
    time.sleep(1.5)
    gc.collect()
    time.sleep(0.2)
    complaints = [r.getMessage() for r in caplog.records
                  if any(c in r.getMessage() for c in ASYNCIO_COMPLAINTS)]
    assert complaints == [], f"{len(complaints)} asyncio errors, first: {complaints[:1]}"
    # The server still answers, and each left conversation is one thread that is not stuck.
    chat = app.state.chat
    assert len(chat.turns._locks) == 0


def test_a_whole_answer_over_real_http_ends_without_an_error(
        served: tuple[FastAPI, int], caplog: pytest.LogCaptureFixture) -> None:
    _app, port = served
    caplog.set_level(logging.WARNING)
    body = json.dumps(request("threads.create", input=user_input("hello there"))).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:300]
    assert b"echo 1: hello there" in received
    assert b'"type":"error"' not in received, received[-500:]
    assert b"deskpilot.plugins_decided" not in received  # internal: never sent
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
