"""Request bodies are capped while they stream in, not after they have been read whole.

The ASGI tests count how many bytes the app pulled from the client: a body over the limit must
be refused after at most the limit (plus one chunk), whatever its Content-Length says. One test
speaks real HTTP over loopback to a uvicorn server.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from deskpilot.core.app import create_app
from deskpilot.core.config import ChatSettings, ServerSettings, Settings
from deskpilot.core.services import Services
from tests.conftest import serve

CHUNK = 64 * 1024
LIMIT = 1_000_000


class Body:
    """`total` bytes in CHUNK pieces, counting what the server pulled."""

    def __init__(self, total: int, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self.total, self.prefix, self.suffix = total, prefix, suffix
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.prefix:
            self.pulled += len(self.prefix)
            yield self.prefix
        sent = 0
        while sent < self.total:
            piece = b"x" * min(CHUNK, self.total - sent)
            sent += len(piece)
            self.pulled += len(piece)
            yield piece
        if self.suffix:
            self.pulled += len(self.suffix)
            yield self.suffix


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(data_dir=tmp_path, connectors={}, server=ServerSettings(),
                        chat=ChatSettings(max_attachment_bytes=100_000,
                                          allowed_attachment_types=["text/plain"]))
    services = Services(settings)
    services.migrate()
    yield create_app(services=services)
    services.close()


def post(app: FastAPI, path: str, body: Body, headers: dict[str, str] | None = None
         ) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=body, headers=headers or {})

    return asyncio.run(go())


@pytest.mark.parametrize("path", ["/v1/webhooks/desk", "/chatkit"])
def test_undeclared_length_is_cut_off_at_the_limit(app: FastAPI, path: str) -> None:
    body = Body(20 * LIMIT)
    response = post(app, path, body, {"Content-Type": "application/json"})
    assert response.status_code == 413
    assert f"{LIMIT} bytes" in response.json()["detail"]
    assert body.pulled <= LIMIT + CHUNK


@pytest.mark.parametrize("path", ["/v1/webhooks/desk", "/chatkit"])
def test_declared_length_over_the_limit_is_refused_before_reading(app: FastAPI, path: str
                                                                  ) -> None:
    body = Body(20 * LIMIT)
    response = post(app, path, body, {"Content-Length": str(20 * LIMIT)})
    assert response.status_code == 413
    assert body.pulled == 0


def test_a_lying_length_is_cut_off_at_the_limit(app: FastAPI) -> None:
    body = Body(20 * LIMIT)
    response = post(app, "/v1/webhooks/desk", body, {"Content-Length": "100"})
    assert response.status_code == 413
    assert body.pulled <= LIMIT + CHUNK


def test_multipart_upload_is_counted_while_spooling(app: FastAPI) -> None:
    boundary = "b0undary"
    body = Body(3_000_000, prefix=(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n").encode(), suffix=f"\r\n--{boundary}--\r\n".encode())
    response = post(app, "/chatkit/attachments/atc_x/upload", body,
                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413, response.text
    # The attachment limit (100 kB) and room for the form's headers, not 3 MB.
    assert body.pulled <= 100_000 + 64 * 1024 + CHUNK


def test_real_http_refuses_a_big_declared_body_without_waiting_for_it(app: FastAPI) -> None:
    with serve(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /v1/webhooks/desk HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n")
            sock.sendall(b"{" * 1000)  # and nothing more: the answer must not wait for it
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # An undeclared (chunked) body: cut off once past the limit.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /v1/webhooks/desk HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * CHUNK
            for _ in range(LIMIT // CHUNK + 2):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered: it reads no more
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (ConnectionResetError, BrokenPipeError):
                    # It answered and closed while this chunk was on its way (seen in a full
                    # run); the answer it sent first is still there to read.
                    break
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
