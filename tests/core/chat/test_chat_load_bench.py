"""bench/chat_load.py against a real `deskpilot serve`: the benchmark's own conversations work.

Its timings are measured by running it (README, "Measured"), never asserted here."""

from __future__ import annotations

import asyncio
import os

from tests.conftest import load_bench


def test_concurrent_conversations_complete_without_errors(live_server: str) -> None:
    report = asyncio.run(load_bench("chat_load").run(live_server, 4, 60.0))  # what `--url` runs

    assert report["errors"] == 0
    assert report["conversations"] == 4
    # Both turns of each conversation were timed: new thread, then the follow-up in it.
    assert 0 < report["p50_first_event_ms"] <= report["p95_first_event_ms"]
    assert report["p95_first_event_ms"] <= report["p95_turn_ms"]
    assert report["p95_first_event_new_thread_ms"] > 0
    # The first word of the answer (a text delta) comes after the echo of the user's message
    # (the first event) and before the stream ends; per turn, so in every percentile too.
    for q in ("p50", "p95"):
        assert report[f"{q}_first_event_ms"] < report[f"{q}_first_word_ms"] <= (
            report[f"{q}_turn_ms"])
    assert 0 < report["p50_first_word_new_thread_ms"] <= report["p95_first_word_new_thread_ms"]
    assert report["server_cpu_s"] is None and report["server_loop_cpu_s"] is None  # no pid given
    # The burst lasts at least as long as its slowest turn; the load generator spent CPU on it.
    assert report["burst_s"] * 1000 >= report["p95_turn_ms"]
    assert report["client_cpu_s"] > 0
    assert report["machine_loop_s"] > 0  # the machine's speed, to compare days by


def test_server_cpu_is_reported_for_a_known_process(live_server: str) -> None:
    # The bench's own process stands in for the server: a pid /proc knows. Whole clock ticks,
    # so a short burst may round to zero; the main thread is part of the process.
    report = asyncio.run(load_bench("chat_load").run(live_server, 2, 60.0, server_pid=os.getpid()))

    assert report["errors"] == 0
    # Each figure is a difference of whole clock ticks, and the kernel scales a thread's and
    # its process's tick counts to their run times separately (never letting either go back):
    # over a burst this short the thread's may come out a few ticks over the process's (seen:
    # 0.01 and 0.02 against 0.0 in full runs).
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert 0 <= report["server_loop_cpu_s"] <= report["server_cpu_s"] + 5 * tick
