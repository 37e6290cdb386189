"""Concurrent chat load over real HTTP against a running `deskpilot serve` (offline model).

    python bench/chat_load.py --url http://127.0.0.1:8000 [-n 100]
    python bench/chat_load.py --spawn [-n 100]     # starts its own server on a temp data dir

Each conversation is a `threads.create` with a demo question, then one
`threads.add_user_message` follow-up, each read to the end of its SSE stream. Prints JSON:
time to first SSE event and full turn time (p50/p95, ms, over all turns), and the error count.
Loopback only; bounded by --conversations and --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from urllib.parse import urlparse

import httpx

QUESTIONS = [
    "How do I reset my password?", "Where do I download my invoices?",
    "How do I roll back a deployment?", "How do I connect a custom domain?",
    "What are the API rate limits?", "How do I invite a teammate?",
]
FOLLOW_UP = "And how long does that take?"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _input(text: str) -> dict:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [],
            "inference_options": {}}


async def _turn(client: httpx.AsyncClient, url: str, body: dict) -> tuple[float, float, str | None]:
    """One streamed request: (ms to first event, ms to end, thread id if one was created)."""
    start = time.perf_counter()
    first: float | None = None
    thread_id = None
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            first = first or time.perf_counter()
            event = json.loads(line[5:])
            if event["type"] == "thread.created":
                thread_id = event["thread"]["id"]
            elif event["type"] == "error":
                raise RuntimeError(f"error event: {event.get('code')}")
    if first is None:
        raise RuntimeError("stream had no events")
    end = time.perf_counter()
    return (first - start) * 1000, (end - start) * 1000, thread_id


async def _conversation(client: httpx.AsyncClient, url: str, n: int) -> list[tuple[float, float]]:
    first, total, thread_id = await _turn(client, url, {
        "type": "threads.create", "params": {"input": _input(QUESTIONS[n % len(QUESTIONS)])}})
    if thread_id is None:
        raise RuntimeError("no thread.created event")
    follow = await _turn(client, url, {"type": "threads.add_user_message", "params": {
        "thread_id": thread_id, "input": _input(FOLLOW_UP)}})
    return [(first, total), follow[:2]]


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


async def run(url: str, conversations: int, timeout: float) -> dict:
    endpoint = url.rstrip("/") + "/chatkit"
    # Own client per conversation: its own session cookie, like a separate visitor. All are
    # built before the clock starts, sharing one TLS context: building one loads the CA bundle
    # (~35 ms of this process's CPU), which would otherwise be counted in the first turns' times.
    tls = ssl.create_default_context()
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=timeout, verify=tls))
                   for _ in range(conversations)]
        results = await asyncio.wait_for(asyncio.gather(
            *(_conversation(client, endpoint, n) for n, client in enumerate(clients)),
            return_exceptions=True), timeout=timeout * 3)
    turns = [t for r in results if not isinstance(r, BaseException) for t in r]
    firsts, totals = [t[0] for t in turns], [t[1] for t in turns]
    return {
        "conversations": conversations,
        "p50_first_event_ms": _pct(firsts, 50), "p95_first_event_ms": _pct(firsts, 95),
        "p50_turn_ms": _pct(totals, 50), "p95_turn_ms": _pct(totals, 95),
        "errors": sum(isinstance(r, BaseException) for r in results),
    }


def _ready(base: str) -> bool:
    """The server answers /readyz: database and index reachable."""
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def spawned_server(startup_timeout: float = 300) -> Iterator[str]:
    """`deskpilot serve` on a free loopback port and a temp data dir, until its first demo sync
    has finished (serve syncs an empty connector at start)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        token = "bench-token"
        env = {**os.environ, "DESKPILOT_SERVER__ADMIN_TOKEN": token}
        env.pop("DESKPILOT_CONFIG", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--data-dir", data_dir],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while not _synced(base, token):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the spawned server did not start and sync in time")
                time.sleep(1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _synced(base: str, token: str) -> bool:
    try:
        runs = httpx.get(f"{base}/v1/sync", params={"connector": "demo"}, timeout=5,
                         headers={"Authorization": f"Bearer {token}"}).json().get("demo", [])
    except (httpx.HTTPError, ValueError):
        return False
    # A finished run, even a failed one, leaves the server serving: measure what it does.
    return bool(runs) and runs[0]["status"] in ("succeeded", "failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of a running deskpilot serve (loopback)")
    where.add_argument("--spawn", action="store_true", help="start a server on a temp data dir")
    parser.add_argument("-n", "--conversations", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args()
    if not 1 <= args.conversations <= 1000:
        parser.error("--conversations must be between 1 and 1000")
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            parser.error("--url must be a loopback address: this benchmark is for local servers")
        if not _ready(args.url):
            parser.error(f"{args.url} is not ready (GET /readyz)")
        print(json.dumps(asyncio.run(run(args.url, args.conversations, args.timeout))))
        return
    with spawned_server() as base:
        print(json.dumps(asyncio.run(run(base, args.conversations, args.timeout))))


if __name__ == "__main__":
    main()
