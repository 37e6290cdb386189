"""Faults during a sync, against the in-process Zendesk fake: one document's request fails, a
whole stream is missing. The run goes on, says what happened per kind, and retries later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from deskpilot._time import utcnow
from deskpilot.core.services import Services
from deskpilot.knowledge.runs import failed_documents, report
from deskpilot.knowledge.sync import run_sync
from deskpilot.knowledge.tables import SourceDocument, SyncFailure, SyncRun
from tests.connectors.test_zendesk import BASE, FakeZendesk, make


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    return make_services({})


def sync(services: Services, fake: FakeZendesk, full: bool = False) -> SyncRun:
    return run_sync(make(fake), index=services.index, embedder=services.embedder,
                    engine=services.engine, batch_size=16, full=full)


def indexed(services: Services) -> set[str]:
    with Session(services.engine) as session:
        return {f"{r.kind}:{r.external_id}" for r in session.exec(select(SourceDocument))}


def due_now(services: Services) -> None:
    with Session(services.engine) as session:
        for row in session.exec(select(SyncFailure)):
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        session.commit()


def test_a_404_on_one_tickets_comments_is_recorded_and_retried_with_backoff(
    services: Services,
) -> None:
    fake = FakeZendesk(comment_events=False)  # each ticket's comments on their own pages
    fake.missing.add("/api/v2/tickets/1/comments")
    run = sync(services, fake)
    result = report(run)
    assert result["status"] == "succeeded"
    assert result["tickets"]["failed"] == 1 and result["failed"] == 1
    assert "ticket:1" not in indexed(services) and "ticket:5" in indexed(services)
    [failure] = result["failures"]
    assert failure["status"] == 404 and failure["url"].startswith(f"{BASE}/api/v2/tickets/1/")
    assert "tok" not in str(failure)
    [waiting] = failed_documents(services.engine)
    assert (waiting["kind"], waiting["id"], waiting["attempts"]) == ("ticket", "1", 1)

    fake.calls.clear()
    sync(services, fake)  # within the backoff: not asked again
    assert not [c for c in fake.calls if c[1] == "/api/v2/tickets/1.json"]

    due_now(services)
    again = report(sync(services, fake))  # due, still failing: attempts grow, backoff doubles
    [waiting] = failed_documents(services.engine)
    assert waiting["attempts"] == 2 and again["tickets"]["failed"] == 1

    fake.missing.clear()
    due_now(services)
    healed = report(sync(services, fake))
    assert healed["tickets"]["indexed"] == 1 and healed["tickets"]["failed"] == 0
    assert "ticket:1" in indexed(services) and failed_documents(services.engine) == []


def test_an_account_without_help_center_syncs_tickets_with_one_warning(
    services: Services,
) -> None:
    fake = FakeZendesk()
    fake.missing.add("/api/v2/help_center/incremental/articles")
    result = report(sync(services, fake))
    assert result["status"] == "succeeded" and len(result["warnings"]) == 1
    assert "articles are off" in result["warnings"][0]
    assert result["articles"]["indexed"] == 0 and result["tickets"]["indexed"] >= 1
    assert report(sync(services, fake))["warnings"] == []  # said once


def test_counts_are_kept_per_kind(services: Services) -> None:
    fake = FakeZendesk()
    first = report(sync(services, fake))
    articles, tickets = first["articles"], first["tickets"]
    # 5 articles, one a draft (nothing to index); 4 live tickets and one deleted.
    assert (articles["indexed"], articles["empty"]) == (4, 1)
    assert tickets["indexed"] + tickets["empty"] == 4 and tickets["failed"] == 0
    assert first["added"] == articles["indexed"] + tickets["indexed"]
    full = report(sync(services, fake, full=True))
    assert full["articles"]["unchanged"] == 4 and full["tickets"]["unchanged"] == tickets["indexed"]
    assert full["added"] == full["updated"] == 0


def test_sync_status_lists_counts_per_kind_warnings_and_failed_documents(
    services: Services,
) -> None:
    from typer.testing import CliRunner

    from deskpilot.core.cli import build_app

    fake = FakeZendesk(comment_events=False)
    fake.missing |= {"/api/v2/tickets/1/comments", "/api/v2/help_center/incremental/articles"}
    sync(services, fake)
    result = CliRunner().invoke(build_app(), ["sync", "status", "--connector", "zd",
                                              "--data-dir", str(services.settings.data_dir)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "tickets:  indexed" in out and "failed 1" in out
    assert "warning: articles are off" in out
    assert "failed documents, fetched again with backoff (1):" in out
    assert f"ticket 1: connector 'zd' (zendesk): GET {BASE}/api/v2/tickets/1/comments" in out
    assert "404" in out and "attempt 1" in out and "Traceback" not in out


def test_an_unreadable_local_file_waits_for_its_fix_and_is_forgotten_once_removed(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "ok.md").write_text("# Fine\n\nReadable.\n")
    (root / "bad.md").write_bytes(b"# Bad\n\xff\xfe\n")
    services = make_services({"kb": {"type": "local", "path": str(root)}})
    run = report(services.sync("kb"))
    assert run["articles"]["failed"] == 1 and run["articles"]["indexed"] == 1
    assert [(w["kind"], w["id"]) for w in failed_documents(services.engine)] == [
        ("article", "bad")]
    (root / "bad.md").unlink()
    services.sync("kb", full=True)  # a complete listing without it: nothing left to retry
    assert failed_documents(services.engine) == []
