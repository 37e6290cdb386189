"""The chat runtime's serving aids: FirstEventsFirst (under a burst, streams go on only once
every request has its first event) and serve's warm-up."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskpilot.core.agent import language
from deskpilot.core.chat.runtime import FirstEventsFirst, warm_up
from deskpilot.core.services import Services
from tests.plugins.helpers import embedded_defaults

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the gate is built on asyncio primitives, as uvicorn runs the app


async def test_later_work_waits_for_every_pending_first_event() -> None:
    gate = FirstEventsFirst()
    order: list[str] = []

    async def rest_of_stream() -> None:
        await gate.wait_turn()
        order.append("stream goes on")

    with gate.awaiting_first_event():
        with gate.awaiting_first_event():
            stream = asyncio.create_task(rest_of_stream())
            await asyncio.sleep(0.02)
            order.append("first event of request 2")
        await asyncio.sleep(0.02)  # one request still waits: the stream must too
        order.append("first event of request 1")
    await asyncio.wait_for(stream, 1)

    assert order == ["first event of request 2", "first event of request 1", "stream goes on"]


def _returns_at_once(gate: FirstEventsFirst) -> bool:
    """wait_turn() finishes without ever yielding to the event loop."""
    step = gate.wait_turn().__await__()
    try:
        next(step)
    except StopIteration:
        return True
    step.close()
    return False


async def test_no_wait_when_no_request_is_pending() -> None:
    gate = FirstEventsFirst()
    with gate.awaiting_first_event():
        assert not _returns_at_once(gate)
    assert _returns_at_once(gate)


async def test_a_stream_is_not_starved_by_a_steady_flow_of_arrivals() -> None:
    gate = FirstEventsFirst()
    gate.MAX_WAIT = 0.05
    with gate.awaiting_first_event():  # never leaves while the stream waits
        started = time.perf_counter()
        await gate.wait_turn()
        waited = time.perf_counter() - started
    assert 0.04 <= waited < 1


async def test_a_failed_request_does_not_hold_the_gate() -> None:
    gate = FirstEventsFirst()
    with pytest.raises(ValueError), gate.awaiting_first_event():
        raise ValueError("bad request")
    assert _returns_at_once(gate)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = embedded_defaults(tmp_path / "data")
    yield services
    services.close()
    gc.unfreeze()  # leave the test process as it was


async def test_warm_up_opens_the_index_and_freezes_startup_objects(services: Services) -> None:
    gc.unfreeze()
    assert "searcher" not in services.__dict__
    language._identifier.cache_clear()
    await warm_up(services)
    assert "index" in services.__dict__ and "searcher" in services.__dict__
    # The first turn of a burst does not load the language identifier on the event loop.
    assert language._identifier.cache_info().currsize == 1
    assert gc.get_freeze_count() > 0


async def test_warm_up_failure_is_logged_and_serving_goes_on(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def search(self, *args: object, **kwargs: object) -> list[object]:
            raise RuntimeError("index locked by another process")

    services.__dict__["searcher"] = Broken()
    with caplog.at_level(logging.WARNING, logger="deskpilot.core.chat.runtime"):
        await warm_up(services)
    assert "could not warm up the embedder and index: index locked" in caplog.text
