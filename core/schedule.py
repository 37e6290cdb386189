"""Scheduled jobs inside `serve`: one sync per enabled connector, and a daily prune of old
webhook delivery records (`[automation] webhook_retention_days`).

Jobs run in the scheduler's worker threads, never on the event loop, because embedding and
embedded-index writes hold the GIL for long stretches. `max_instances=1` and `coalesce` keep a
slow sync from piling up runs; the database lock (knowledge.locks) keeps other processes out.
A connector with nothing indexed yet is synced at once, so a fresh install has its (demo)
knowledge without waiting for the first interval; so is one whose last run was cut short by a
process that died (crash, kill -9): that run is marked interrupted and the sync resumes from
its checkpoint (a dead process's lock is taken over, see knowledge.locks).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, select

from deskpilot.core.config import ConnectorSettings
from deskpilot.knowledge.locks import SyncLocked
from deskpilot.knowledge.sync import mark_interrupted
from deskpilot.knowledge.tables import SourceDocument

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from deskpilot.core.services import Services

log = logging.getLogger(__name__)


def _trigger(conf: ConnectorSettings) -> BaseTrigger | None:
    if conf.cron:
        return CronTrigger.from_crontab(conf.cron, timezone=UTC)
    if conf.interval_seconds:
        return IntervalTrigger(seconds=conf.interval_seconds, timezone=UTC)
    return None


def _is_empty(services: Services, connector: str) -> bool:
    with Session(services.engine) as session:
        return session.exec(
            select(SourceDocument.id).where(SourceDocument.connector == connector).limit(1)
        ).first() is None


def scheduled_sync(services: Services, connector: str, cancel: threading.Event) -> None:
    """A job: one sync, its outcome logged (the run itself is recorded by run_sync)."""
    try:
        run = services.sync(connector, cancel=cancel)
    except SyncLocked as exc:
        log.info("scheduled sync skipped: %s", exc)
        return
    except Exception:
        log.exception("scheduled sync of %s could not start", connector)
        return
    log.info("scheduled sync of %s %s: +%d ~%d -%d =%d !%d", connector, run.status, run.added,
             run.updated, run.deleted, run.skipped, run.failed)


def prune_webhook_deliveries(services: Services, days: int) -> None:
    """A job: forget webhook deliveries older than `days`."""
    from deskpilot.core.webhooks import prune

    try:
        removed = prune(services.engine, timedelta(days=days))
    except Exception:
        log.exception("pruning webhook deliveries failed")
        return
    if removed:
        log.info("pruned %d webhook deliveries older than %d days", removed, days)


def retry_webhook_deliveries(services: Services, interval: int, attempts: int) -> None:
    """A job: complete the steps of webhook deliveries that failed (a helpdesk outage)."""
    from deskpilot.core.automation import retry_failed_deliveries

    try:
        completed = retry_failed_deliveries(services, interval, attempts)
    except Exception:
        log.exception("retrying failed webhook deliveries failed")
        return
    if completed:
        log.info("completed %d webhook deliveries on retry", completed)


class SyncScheduler:
    """The running jobs; `stop()` cancels a sync in progress after its current page."""

    def __init__(self, scheduler: BackgroundScheduler, cancel: threading.Event) -> None:
        self.scheduler = scheduler
        self._cancel = cancel

    def stop(self) -> None:
        self._cancel.set()
        self.scheduler.shutdown(wait=True)


def start_scheduler(services: Services) -> SyncScheduler:
    """Start the sync job of every enabled connector and the prune job; `.stop()` at shutdown."""
    try:
        services.index  # noqa: B018 - open it once here: job and request threads would race
    except Exception as exc:  # e.g. a hand-run sync holds it; jobs and /readyz will say so
        log.warning("the index could not be opened yet: %s", exc)
    cancel = threading.Event()
    workers = len(services.connectors) + 2  # prune and retry jobs never wait behind a sync
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(workers)}, timezone=UTC,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
    )
    for name in services.connectors:
        conf = services.settings.connectors[name]
        trigger = _trigger(conf)
        interrupted = mark_interrupted(services.engine, name)
        if interrupted:
            log.warning("the last sync of %s was interrupted (its process stopped); resuming it "
                        "now from its checkpoint", name)
        first = datetime.now(UTC) if interrupted or _is_empty(services, name) else None
        if trigger is None and first is None:
            continue
        if trigger is None:  # no schedule, but nothing indexed yet: one sync now
            trigger = DateTrigger(run_date=first)
        scheduler.add_job(
            scheduled_sync, trigger, args=(services, name, cancel), id=f"sync:{name}",
            name=f"sync {name}", **({"next_run_time": first} if first else {}),
        )
        log.info("sync of %s scheduled (%s)%s", name, trigger,
                 ", first run now" if first else "")
    if days := services.settings.automation.webhook_retention_days:
        scheduler.add_job(
            prune_webhook_deliveries, IntervalTrigger(days=1, timezone=UTC),
            args=(services, days), id="prune:webhook_delivery", name="prune webhook deliveries",
            next_run_time=datetime.now(UTC),
        )
    automation = services.settings.automation
    if interval := automation.retry_interval_seconds:
        scheduler.add_job(
            retry_webhook_deliveries, IntervalTrigger(seconds=interval, timezone=UTC),
            args=(services, interval, automation.retry_attempts), id="retry:webhook_delivery",
            name="retry failed webhook deliveries",
        )
    scheduler.start()
    return SyncScheduler(scheduler, cancel)
