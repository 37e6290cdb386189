"""The local connector: contract kit on the shipped demo, checkpoints, bad lines, write-backs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from deskpilot import DocumentKind, DocumentRef, EscalationRequest, Ticket
from deskpilot.connectors.local import DEMO_PATH, LocalConnector, markdown_to_html
from deskpilot.core.tables import AuditEvent
from deskpilot.knowledge.text import html_to_text
from deskpilot.testkit import ConnectorContract
from tests.plugins.helpers import embedded_defaults


def _connector(path: Path | None = None) -> LocalConnector:
    options = {"path": str(path)} if path else {}
    return LocalConnector.from_config("demo", options)  # type: ignore[return-value]


class TestLocalContract(ConnectorContract):
    @pytest.fixture
    def connector(self) -> LocalConnector:
        return _connector()

    @pytest.fixture
    def private_comment_bodies(self) -> list[str]:
        return ["exception policy R-2", "security runbook SEC-14"]

    @pytest.fixture
    def failing_document(self, tmp_path: Path) -> tuple[LocalConnector, DocumentRef]:
        root = tmp_path / "kb"
        shutil.copytree(DEMO_PATH, root)
        (root / "plans" / "usage-limits.md").write_bytes(b"# Limits\n\xff\xfe not UTF-8\n")
        return _connector(root), DocumentRef(kind=DocumentKind.ARTICLE, id="plans/usage-limits")


def test_demo_help_center_is_complete() -> None:
    docs = [d for page in _connector().fetch(None) for d in page.documents]
    articles = [d for d in docs if d.kind == "article"]
    tickets = [d for d in docs if isinstance(d, Ticket)]
    assert len(articles) >= 30 and len(tickets) >= 25
    assert all(a.url and a.title for a in articles)
    assert any(not c.public for t in tickets for c in t.comments)
    assert "refund" in _connector().tag_vocabulary()


def test_incremental_run_reads_only_changed_files(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    shutil.copytree(DEMO_PATH / "billing", root)
    connector = _connector(root)
    first = list(connector.fetch(None))
    checkpoint = json.loads(json.dumps(first[-1].checkpoint))
    assert list(connector.fetch(checkpoint)) == []
    (root / "refund-policy.md").write_text("# Refunds\n\nNone at all.\n")
    (root / "failed-payments.md").unlink()
    (changed,) = connector.fetch(checkpoint)
    assert [d.id for d in changed.documents] == ["refund-policy"]
    assert [r.id for r in changed.deleted] == ["failed-payments"]


def test_bad_lines_are_failures_with_their_place(tmp_path: Path) -> None:
    (tmp_path / "tickets.jsonl").write_text(
        '{"id": 1, "subject": "ok", "description": "d", "updated_at": "2025-01-01T00:00:00"}\n'
        "{broken\n"
        '{"id": 3, "description": "no subject"}\n'
    )
    (page,) = _connector(tmp_path).fetch(None)
    assert [d.id for d in page.documents] == ["1"]
    assert page.documents[0].updated_at.tzinfo is not None  # naive file times are UTC
    assert [f.where for f in page.failures] == ["tickets.jsonl:2", "tickets.jsonl:3"]
    assert page.failures[1].ref is not None and page.failures[1].ref.id == "3"


def test_front_matter_quotes_are_removed_only_in_pairs(tmp_path: Path) -> None:
    # Was: 'title: My SSL certificate is stuck on "pending"' lost its closing quote, and every
    # answer citing the demo article showed 'stuck on "pending'.
    root = tmp_path / "kb"
    root.mkdir()
    (root / "pending.md").write_text('---\ntitle: Stuck on "pending"\n---\nWait.\n')
    (root / "quoted.md").write_text("---\ntitle: 'Refunds: the policy'\nurl: \"https://x.example/r\"\n---\nNo.\n")
    docs = {d.id: d for page in _connector(root).fetch(None) for d in page.documents}
    assert docs["pending"].title == 'Stuck on "pending"'
    assert (docs["quoted"].title, docs["quoted"].url) == ("Refunds: the policy", "https://x.example/r")


def test_markdown_headings_lists_and_code() -> None:
    html = markdown_to_html("## Steps\n\n1. Open it\n2. Click <Save>\n\n```\nacme deploy\n```\n")
    assert "<h2>Steps</h2>" in html and "<li>Click &lt;Save&gt;</li>" in html  # text, not a tag
    assert "acme deploy" in html and "<pre>" in html
    assert html_to_text(html).splitlines() == [  # numbered steps stay numbered
        "Steps", "1. Open it", "2. Click <Save>", "acme deploy"]


def test_markdown_emphasis_code_and_links_become_html_not_asterisks() -> None:
    html = markdown_to_html("Click **Forgot password?**, run `acme login`, see "
                            "[the guide](https://help.example/guide?a=1&b=2).\n\n- *Note* it")
    assert "<strong>Forgot password?</strong>" in html and "<code>acme login</code>" in html
    assert '<a href="https://help.example/guide?a=1&amp;b=2">the guide</a>' in html
    assert "<li><em>Note</em> it</li>" in html and "*" not in html


def test_markdown_tables_quotes_and_nested_lists_read_as_text() -> None:
    # Was (a hand-written subset of Markdown): the table one paragraph of pipes and dashes
    # ("| Plan | SSO | |------|-----| | Pro | No |"), "> Note" kept its marker, a nested
    # bullet became an item of its own list after the steps.
    html = markdown_to_html(
        "1. Go to **Settings**.\n2. Click **Enable SSO**\n   and paste the URL.\n"
        "   - Trial accounts too.\n3. Save.\n\n| Plan | SSO |\n|------|-----|\n"
        "| Pro  | No  |\n\n> Note: changes apply in 5 minutes.\n")
    assert html_to_text(html).splitlines() == [
        "1. Go to Settings.", "2. Click Enable SSO and paste the URL.", "- Trial accounts too.",
        "3. Save.", "- Plan: Pro | SSO: No", "Note: changes apply in 5 minutes."]


def test_write_backs_are_kept_as_audit_events(tmp_path: Path) -> None:
    services = embedded_defaults(tmp_path)
    engine = services.engine
    connector = services.connector("demo")
    connector.add_note("1001", "draft reply")
    connector.add_tags("1001", ["billing"])
    ref = connector.create_ticket(EscalationRequest(subject="Help", transcript="…",
                                                    customer_id="c1"))
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.kind, e.subject) for e in events] == [
        ("local.note", "1001"), ("local.tags", "1001"), ("local.ticket", ref)]
    assert events[0].data["body"] == "draft reply"
    services.close()
