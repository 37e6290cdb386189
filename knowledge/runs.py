"""Sync runs as people and plugins read them: `deskpilot sync status`, the API, SyncFinished.

Apart from the engine (knowledge/sync.py) so that reading the runs imports nothing of it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from deskpilot.knowledge.tables import SyncFailure, SyncRun

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


#: What a run counts per kind of document (`SyncRun.counts`).
COUNTS = ("indexed", "updated", "deleted", "unchanged", "failed", "empty")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def report(run: SyncRun) -> dict[str, Any]:
    """A run as plain data: what `sync status --json`, the API and plugins get."""
    return {
        "id": run.id,
        "connector": run.connector,
        "full": run.full,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": (
            round(run.duration_seconds, 3) if run.duration_seconds is not None else None
        ),
        "added": run.added,
        "updated": run.updated,
        "deleted": run.deleted,
        "skipped": run.skipped,
        "failed": run.failed,
        "articles": _kind_counts(run, "article"),
        "tickets": _kind_counts(run, "ticket"),
        "error": run.error,
        "warnings": run.warnings or [],
        "failures": run.failures or [],
    }


def _kind_counts(run: SyncRun, kind: str) -> dict[str, int]:
    """indexed, updated, deleted, unchanged, failed and empty (nothing to index: a draft, an
    open ticket) for one kind of document."""
    return {name: (run.counts or {}).get(kind, {}).get(name, 0) for name in COUNTS}


def recent_runs(
    engine: Engine, connector: str | None = None, per_connector: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """The last runs of each connector, newest first."""
    with Session(engine) as session:
        query = select(SyncRun).order_by(col(SyncRun.id).desc())
        if connector is not None:
            query = query.where(SyncRun.connector == connector)
        runs: dict[str, list[dict[str, Any]]] = {}
        for run in session.exec(query.limit(per_connector * 50)).all():
            kept = runs.setdefault(run.connector, [])
            if len(kept) < per_connector:
                kept.append(report(run))
        return runs


def failed_documents(engine: Engine, connector: str | None = None) -> list[dict[str, Any]]:
    """Documents waiting to be fetched again, oldest failure first."""
    with Session(engine) as session:
        query = select(SyncFailure).order_by(col(SyncFailure.first_failed_at))
        if connector is not None:
            query = query.where(SyncFailure.connector == connector)
        return [{"connector": row.connector, "kind": row.kind, "id": row.external_id,
                 "url": row.url, "status": row.status, "error": row.error,
                 "attempts": row.attempts, "next_attempt_at": row.next_attempt_at.isoformat()}
                for row in session.exec(query).all()]


def first_syncs_pending(engine: Engine, connectors: list[str]) -> dict[str, str]:
    """The connectors none of whose runs has succeeded yet, each with what its latest run says
    ("not started", "running", "failed: …"): their knowledge is not in the index yet."""
    if not connectors:
        return {}
    with Session(engine) as session:
        synced = set(session.exec(
            select(SyncRun.connector).where(col(SyncRun.connector).in_(connectors),
                                            SyncRun.status == "succeeded").distinct()))
        pending: dict[str, str] = {}
        for name in connectors:
            if name in synced:
                continue
            latest = session.exec(select(SyncRun).where(SyncRun.connector == name)
                                  .order_by(col(SyncRun.id).desc()).limit(1)).first()
            if latest is None:
                pending[name] = "not started"
            else:
                error = (latest.error or "").splitlines()[0][:200] if latest.error else ""
                pending[name] = latest.status + (f": {error}" if error else "")
        return pending
