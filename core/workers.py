"""Plugins' background workers (hook `background_workers`), run for the app's lifetime.

A worker that raises is logged and stays stopped; the server and the other workers go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from deskpilot.core.services import Services

log = logging.getLogger(__name__)

Worker = Callable[[], Awaitable[None]]


async def _guarded(plugin: str, worker: Worker) -> None:
    try:
        await worker()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background worker of plugin %s stopped", plugin)


def start_workers(services: Services) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(_guarded(plugin, worker))
            for plugin, workers in services.plugins.each("background_workers", platform=services)
            for worker in workers or []]


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
