"""Concurrent chat load over real HTTP against a running `deskpilot serve` (offline model).

    python bench/chat_load.py --url http://127.0.0.1:8000 [-n 100]
    python bench/chat_load.py --spawn [-n 100]     # starts its own server on a temp data dir

Each visitor first loads the widget (GET /widget.js, untimed: it opens the connection, as the
visitor's browser has done before anyone chats); then all start at once: a `threads.create`
with a demo question, then one `threads.add_user_message` follow-up, each read to the end of
its SSE stream. Prints JSON (ms, over all turns; times run from the moment a turn is due): p50/p95
time to the first SSE event (the echo of the user's message: the visitor sees it was received),
p50/p95 time to the first word of the answer (the first assistant text delta) and full turn
time, the same first-word figures for new threads alone, and the error count; with --spawn
(or --pid) also the server's CPU seconds over the burst (user + system, from /proc; steadier
than wall times when other work shares the cores), in all and in its main thread (serve's
event loop: the turns' agent runs, ChatKit, HTTP; the rest is embedding and database threads),
and always the burst's wall time and this load generator's own CPU: with both cores busy
(server + client CPU ≈ 2 × burst), no reordering of the work can beat total CPU / 2. Last,
`machine_loop_s`: a fixed Python loop's CPU seconds just before the burst, the machine's speed
at the time (figures from different days compare only at a similar value).
Loopback only; bounded by --conversations and --timeout.

The load generator is aiohttp, not httpx: it shares the two cores with the server, and 100
httpx clients spent ~40 ms of their own CPU per burst (measured against a trivial server),
which this benchmark would have counted as server latency; aiohttp's C parser spends ~6 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import NamedTuple
from urllib.parse import urlparse

import aiohttp
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


TEXT_DELTA = "assistant_message.content_part.text_delta"


class Turn(NamedTuple):
    first_event_ms: float
    first_word_ms: float
    total_ms: float


async def _turn(client: aiohttp.ClientSession, url: str, body: dict
                ) -> tuple[Turn, str | None]:
    """One streamed request, timed, and the thread id if one was created."""
    start = time.perf_counter()
    first: float | None = None
    word: float | None = None
    thread_id = None
    async with client.post(url, json=body) as response:
        response.raise_for_status()
        async for raw in response.content:  # one SSE line at a time
            line = raw.decode()
            if not line.startswith("data:"):
                continue
            first = first or time.perf_counter()
            event = json.loads(line[5:])
            if event["type"] == "thread.created":
                thread_id = event["thread"]["id"]
            elif (event["type"] == "thread.item.updated" and word is None
                  and event.get("update", {}).get("type") == TEXT_DELTA):
                word = time.perf_counter()
            elif event["type"] == "error":
                raise RuntimeError(f"error event: {event.get('code')}")
    if first is None:
        raise RuntimeError("stream had no events")
    if word is None:
        raise RuntimeError("stream had no assistant text")
    end = time.perf_counter()
    ms = [(t - start) * 1000 for t in (first, word, end)]
    return Turn(*ms), thread_id


async def _conversation(client: aiohttp.ClientSession, url: str, n: int) -> list[Turn]:
    new, thread_id = await _turn(client, url, {
        "type": "threads.create", "params": {"input": _input(QUESTIONS[n % len(QUESTIONS)])}})
    if thread_id is None:
        raise RuntimeError("no thread.created event")
    follow, _ = await _turn(client, url, {"type": "threads.add_user_message", "params": {
        "thread_id": thread_id, "input": _input(FOLLOW_UP)}})
    return [new, follow]


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def cpu_seconds(pid: int, *, end: bool = False) -> tuple[float, float]:
    """User + system CPU seconds a process has used so far, in all and in its main thread
    (Linux /proc, whole clock ticks). At a burst's start the process is read first, at its
    `end` last, so the process's interval holds the thread's."""
    def used(stat_path: str) -> float:
        with open(stat_path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # after the command name
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    if end:
        thread = used(f"/proc/{pid}/task/{pid}/stat")
        return used(f"/proc/{pid}/stat"), thread
    return used(f"/proc/{pid}/stat"), used(f"/proc/{pid}/task/{pid}/stat")


async def run(url: str, conversations: int, timeout: float, server_pid: int | None = None
              ) -> dict:
    base = url.rstrip("/")
    async with AsyncExitStack() as stack:
        # Own session per visitor, with its own cookie jar (`unsafe`: keep cookies of an IP
        # host). All are built, and their connections opened, before the clock starts.
        clients = [await stack.enter_async_context(aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )) for _ in range(conversations)]
        for client in clients:  # each visitor's page loads the widget
            async with client.get(f"{base}/widget.js") as response:
                response.raise_for_status()
                await response.read()
        machine_loop_s = machine_speed()
        cpu_before = cpu_seconds(server_pid) if server_pid else None
        burst_start, client_cpu_before = time.perf_counter(), time.process_time()
        results = await asyncio.wait_for(asyncio.gather(
            *(_conversation(client, f"{base}/chatkit", n) for n, client in enumerate(clients)),
            return_exceptions=True), timeout=timeout * 3)
        burst_s = time.perf_counter() - burst_start
        client_cpu_s = time.process_time() - client_cpu_before
        cpu: tuple[float | None, ...] = (None, None)
        if server_pid and cpu_before is not None:
            cpu_after = cpu_seconds(server_pid, end=True)
            cpu = tuple(round(after - before, 2)
                        for after, before in zip(cpu_after, cpu_before, strict=True))
    finished = [r for r in results if not isinstance(r, BaseException)]
    turns = [t for r in finished for t in r]
    firsts = [t.first_event_ms for t in turns]
    words, totals = [t.first_word_ms for t in turns], [t.total_ms for t in turns]
    new_words = [r[0].first_word_ms for r in finished]
    return {
        "conversations": conversations,
        "p50_first_event_ms": _pct(firsts, 50), "p95_first_event_ms": _pct(firsts, 95),
        "p50_first_word_ms": _pct(words, 50), "p95_first_word_ms": _pct(words, 95),
        "p50_turn_ms": _pct(totals, 50), "p95_turn_ms": _pct(totals, 95),
        "p95_first_event_new_thread_ms": _pct([r[0].first_event_ms for r in finished], 95),
        "p50_first_word_new_thread_ms": _pct(new_words, 50),
        "p95_first_word_new_thread_ms": _pct(new_words, 95),
        "server_cpu_s": cpu[0], "server_loop_cpu_s": cpu[1],
        "burst_s": round(burst_s, 2), "client_cpu_s": round(client_cpu_s, 2),
        "machine_loop_s": machine_loop_s,
        "errors": len(results) - len(finished),
        "error_kinds": sorted({f"{type(r).__name__}: {r}"[:120] for r in results
                               if isinstance(r, BaseException)}),
    }


def machine_speed(steps: int = 2_000_000) -> float:
    """CPU seconds of a fixed pure-Python loop, timed before the burst: the same code's
    figures vary several-fold between days on a shared machine, and this says how fast the
    machine was when they were taken (runs compare only at a similar value)."""
    start = time.process_time()
    total = 0
    for step in range(steps):
        total += step
    return round(time.process_time() - start, 3)


def _ready(base: str) -> bool:
    """The server answers /readyz: database and index reachable, first syncs done."""
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def spawned_server(startup_timeout: float = 300) -> Iterator[tuple[str, int]]:
    """`deskpilot serve` on a free loopback port and a temp data dir, until its first demo sync
    has finished (serve syncs an empty connector at start)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        token = "bench-token"
        env = {**os.environ, "DESKPILOT_SERVER__ADMIN_TOKEN": token,
               # Every simulated visitor comes from one loopback address.
               "DESKPILOT_CHAT__NEW_THREADS_PER_ADDRESS": "1000000/hour"}
        env.pop("DESKPILOT_CONFIG", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "deskpilot.core.cli", "serve", "--host", "127.0.0.1", "--port",
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
            yield base, process.pid
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
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to report "
                                                "its CPU time over the burst")
    args = parser.parse_args()
    if not 1 <= args.conversations <= 1000:
        parser.error("--conversations must be between 1 and 1000")
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            parser.error("--url must be a loopback address: this benchmark is for local servers")
        if not _ready(args.url):
            parser.error(f"{args.url} is not ready (GET /readyz)")
        print(json.dumps(asyncio.run(run(args.url, args.conversations, args.timeout,
                                         args.pid))))
        return
    with spawned_server() as (base, pid):
        print(json.dumps(asyncio.run(run(base, args.conversations, args.timeout, pid))))


if __name__ == "__main__":
    main()
