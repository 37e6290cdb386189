"""Built-in plugin: answer snippets, the only way solved tickets reach customers.

Everything indexed from a ticket is staff knowledge. This plugin distils each solved ticket
(with others asking the same) into a question and its resolution in general terms, personal
data removed, and keeps it in a review queue; approved snippets are published as public
knowledge under the source `snippets`.

    redact.py    personal data out: the people on the ticket, emails, phones, cards, references
    distill.py   the snippet's words: extractive offline, phrased by the LLM when there is one
    queue.py     the review queue and the publisher; tables.py, migrations/ its table
    routes.py    `/v1/admin/snippets` (admin token);  commands.py  `deskpilot snippets ...`
    dashboard.py the dashboard's Snippets page (review, edit, approve, reject); the answers
                 the knowledge-gap report drafts outlines from (`similar_answers`)

This module is what the entry point loads, for every command: it imports only the light parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import deskpilot

log = logging.getLogger(__name__)

# How often `serve` publishes what was approved elsewhere (e.g. by `deskpilot snippets approve`
# while the server holds the embedded index).
PUBLISH_TICK_SECONDS = 5.0


def _queue(platform: deskpilot.Platform):  # noqa: ANN202 - the import stays lazy
    from .queue import SnippetQueue

    return SnippetQueue(platform)


async def publish_forever(platform: deskpilot.Platform, tick: float = PUBLISH_TICK_SECONDS
                          ) -> None:
    queue = _queue(platform)
    while True:
        try:
            await platform.run_blocking(queue.publish, cpu=True)  # it embeds
        except Exception:  # the database or index is down: try again next tick
            log.exception("snippet publishing failed")
        await asyncio.sleep(tick)


@deskpilot.hookimpl
def register_settings(register: Callable[..., None]) -> None:
    from .settings import SnippetSettings

    register(SnippetSettings, section="knowledge")


@deskpilot.hookimpl
def register_migrations(register: Callable[..., None]) -> None:
    register(Path(__file__).parent / "migrations")


@deskpilot.hookimpl
def register_routes(register: Callable[..., None], platform: deskpilot.Platform) -> None:
    from .routes import router

    register(router(platform))
    # The review queue's size joins the app's GET /metrics, read at each scrape.
    platform.metrics.gauge("snippet_queue", "Answer snippets by review status", "status",
                           _queue(platform).counts)


@deskpilot.hookimpl
def register_dashboard_pages(register: Callable[..., None]) -> None:
    from .dashboard import PAGE

    register(PAGE)


@deskpilot.hookimpl
def register_commands(register: Callable[..., None]) -> None:
    from .commands import commands

    register(commands)


@deskpilot.hookimpl
def tickets_synced(platform: deskpilot.Platform, event: deskpilot.TicketsSynced) -> None:
    queue = _queue(platform)
    if queue.ingest(event.connector, event.tickets) and queue.settings.snippet_auto_approve:
        queue.publish()  # in the sync's thread, which owns the index


@deskpilot.hookimpl
def similar_answers(platform: deskpilot.Platform, vector: list[float], embedder: str,
                    limit: int) -> list[dict[str, Any]]:
    return _queue(platform).similar(vector, embedder, limit)


@deskpilot.hookimpl
def background_workers(platform: deskpilot.Platform) -> list[Callable[[], Awaitable[None]]]:
    return [partial(publish_forever, platform)]
