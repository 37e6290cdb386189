"""The review queue: solved tickets in, reviewed snippets out to the public index; its admin API,
its commands, and the LLM's phrasing (a scripted fake in OpenAI's wire format)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

import deskpilot
from deskpilot.core.app import create_app
from deskpilot.core.cli import build_app
from deskpilot.plugins.snippets.queue import SOURCE, SnippetQueue
from deskpilot.plugins.snippets.tables import SnippetStatus
from tests.core.agent.fake_openai import FakeOpenAI

from .conftest import ADMIN, CANARIES, EMAIL, MakeServices, ticket, write_helpdesk

AUTH = {"Authorization": f"Bearer {ADMIN}"}
PUBLIC_SNIPPETS = deskpilot.SearchFilter(source=SOURCE, audience=deskpilot.Audience.PUBLIC)


def test_tickets_asking_the_same_make_one_snippet_and_unsolved_ones_none(
        make_services: MakeServices) -> None:
    services = make_services([
        ticket("1", "Charged twice"), ticket("2", "Charged twice",
                                               reply="A voided authorization drops off."),
        ticket("3", "Charged twice", status="open"),
        ticket("4", "Where do I change my password and billing address?",
               reply="Open Settings, then Security."),
    ])
    services.sync("desk")
    snippets = SnippetQueue(services).list()
    assert [(s.question, [x["ticket_id"] for x in s.sources]) for s in snippets] == [
        ("Charged twice", ["1", "2"]),
        ("Where do I change my password and billing address?", ["4"]),
    ]
    assert {s.status for s in snippets} == {SnippetStatus.PENDING}
    # Pending, the text is the first ticket's; nothing is public yet.
    assert "3-D Secure" in snippets[0].answer
    assert services.index.count(PUBLIC_SNIPPETS) == 0
    # A second sync of the same tickets changes nothing.
    services.sync("desk", full=True)
    assert [len(s.sources) for s in SnippetQueue(services).list()] == [2, 1]


def test_approve_publishes_reject_withdraws(make_services: MakeServices) -> None:
    services = make_services()
    services.sync("desk")
    queue = SnippetQueue(services)
    [snippet] = queue.list()
    queue.approve(snippet.id, "reviewer", answer="A failed 3-D Secure check is voided in 5 days.")
    assert queue.publish() == 1 and queue.publish() == 0
    [hit] = services.search("failed 3-D Secure check voided", 5, PUBLIC_SNIPPETS,
                            per_document=True)
    assert hit.title == "Charged twice" and "voided in 5 days" in hit.text
    assert services.audit_log("snippet.approved", str(snippet.id)) == [{"by": "reviewer"}]
    queue.reject(snippet.id, "reviewer")
    assert queue.publish() == 1
    assert services.index.count(PUBLIC_SNIPPETS) == 0


def test_auto_approve_publishes_during_the_sync(make_services: MakeServices) -> None:
    services = make_services(knowledge={"snippet_auto_approve": True})
    services.sync("desk")
    [snippet] = SnippetQueue(services).list()
    assert snippet.status == SnippetStatus.APPROVED and snippet.reviewed_by == "auto-approve"
    hits = services.search("3-D Secure authorization", 5, PUBLIC_SNIPPETS)
    assert hits and {h.document_id for h in hits} == {f"snippet-{snippet.id}"}
    assert "[number]" in " ".join(h.text for h in hits)
    assert not [c for c in CANARIES if c in " ".join(h.text for h in hits)]


def test_admin_api_auth_and_errors(make_services: MakeServices) -> None:
    services = make_services()
    services.sync("desk")
    http = TestClient(create_app(services=services))
    assert http.get("/v1/admin/snippets").status_code == 401
    assert http.post("/v1/admin/snippets/1/approve").status_code == 401
    missing = http.get("/v1/admin/snippets/99", headers=AUTH)
    assert missing.status_code == 404 and "no answer snippet 99" in missing.json()["detail"]
    assert http.post("/v1/admin/snippets/99/reject", headers=AUTH).status_code == 404
    # An id beyond the database's integer was a 500 (OverflowError), found by the fuzz run.
    for too_big in ("/v1/admin/snippets/9223372036854775808",
                    "/v1/admin/snippets/9223372036854775808/approve"):
        call = http.get if not too_big.endswith("approve") else http.post
        refused = call(too_big, headers=AUTH)
        assert refused.status_code == 422 and "snippet_id" in refused.text
    assert http.get("/v1/admin/snippets", params={"status": "maybe"},
                    headers=AUTH).status_code == 422
    empty = http.post("/v1/admin/snippets/1/approve", headers=AUTH, json={"answer": " "})
    assert empty.status_code == 422 and "answer must not be empty" in empty.json()["detail"]
    assert http.get("/v1/admin/snippets", params={"status": "pending"},
                    headers=AUTH).json()["snippets"][0]["id"] == 1
    rejected = http.post("/v1/admin/snippets/1/reject", headers=AUTH)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert http.get("/v1/admin/snippets", params={"status": "pending"},
                    headers=AUTH).json() == {"snippets": []}


def test_the_model_phrases_from_redacted_tickets_and_is_redacted_again(
        make_services: MakeServices) -> None:
    phrased = {"question": "Why do I see two card charges?",
               "answer": "One is a voided authorization; it drops off within 5 business days. "
                         f"Write to {EMAIL} if not."}
    with FakeOpenAI([("text", json.dumps(phrased)), ("text", "Sure! Here is a snippet.")]
                    ) as fake:
        services = make_services([ticket("1", "Charged twice"),
                                  ticket("2", "Refund", reply="Refunds take 5 days.")])
        services.settings.agent.provider = "openai-compatible"  # type: ignore[assignment]
        services.settings.agent.base_url = fake.url
        services.settings.agent.api_key = SecretStr("test-key")
        services.settings.agent.model = "local-llama"
        services.sync("desk")
    first, second = SnippetQueue(services).list()
    assert (first.question, first.phrased_by) == ("Why do I see two card charges?", "local-llama")
    assert EMAIL not in first.answer and "[email]" in first.answer
    # What the model was given was redacted already.
    prompts = json.dumps([body for _, body in fake.requests])
    assert not [c for c in CANARIES if c in prompts] and "3-D Secure" in prompts
    # Prose instead of the JSON asked for: the agents' own words.
    assert (second.phrased_by, second.answer) == ("extractive", "Refunds take 5 days.")


def test_the_commands(tmp_path: Path) -> None:
    folder = write_helpdesk(tmp_path / "desk", [ticket("1001", "Charged twice")])
    config = tmp_path / "deskpilot.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[connectors.desk]\ntype = "local"\n'
                      f'path = "{folder}"\n')
    runner, cli = CliRunner(), build_app()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--config", str(config)])
        assert result.exit_code == 0, result.output
        return result.output

    run("sync")
    assert "#1     pending    1 ticket(s)  Charged twice" in run("snippets", "list")
    shown = run("snippets", "show", "1")
    assert "from desk:1001:" in shown and "[number]" in shown
    assert not [c for c in CANARIES if c in shown]
    approved = run("snippets", "approve", "1", "--by", "kim")
    assert "approved #1; the public index is up to date" in approved
    listed = json.loads(run("snippets", "list", "--json", "--status", "approved"))
    assert [(s["id"], s["reviewed_by"], s["published"]) for s in listed] == [(1, "kim", True)]
    assert "rejected #1" in run("snippets", "reject", "1")
    missing = runner.invoke(cli, ["snippets", "approve", "7", "--config", str(config)])
    assert missing.exit_code == 2 and "no answer snippet 7" in missing.output
    wrong = runner.invoke(cli, ["snippets", "list", "--status", "x", "--config", str(config)])
    assert wrong.exit_code == 2 and "--status must be one of" in wrong.output


@pytest.mark.anyio
async def test_the_servers_worker_publishes_what_was_approved_elsewhere(
        make_services: MakeServices) -> None:
    """`deskpilot snippets approve` while `serve` holds the embedded index only changes the
    row; the server's background worker publishes it."""
    import asyncio

    from deskpilot.plugins.snippets import publish_forever

    services = make_services()
    services.sync("desk")
    queue = SnippetQueue(services)
    [snippet] = queue.list()
    queue.approve(snippet.id, "kim")  # the row only, as the CLI leaves it
    assert services.index.count(PUBLIC_SNIPPETS) == 0
    worker = asyncio.create_task(publish_forever(services, tick=0.01))
    try:
        for _ in range(500):
            if queue.get(snippet.id).published_hash is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        worker.cancel()
    assert queue.get(snippet.id).published_hash is not None
    assert services.index.count(PUBLIC_SNIPPETS) > 0


def test_tickets_synced_before_the_plugin_was_on_become_sources_at_a_full_sync(
        make_services: MakeServices) -> None:
    # As the README says: an incremental sync lists only what changed, a --full one all.
    before = make_services(plugins={"deny": ["snippets"]})
    before.sync("desk")
    before.close()
    after = make_services()
    after.sync("desk")
    assert SnippetQueue(after).list() == []  # nothing changed since: nothing listed
    after.sync("desk", full=True)
    assert [s.question for s in SnippetQueue(after).list()] == ["Charged twice"]


def test_a_ticket_that_cannot_be_distilled_leaves_the_others_queued(
        make_services: MakeServices, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from deskpilot.plugins.snippets import queue as queue_module

    def source_of(connector: str, ticket: deskpilot.Ticket, region: str) -> object:
        if ticket.id == "2":
            raise ValueError("unexpected ticket shape")
        return real(connector, ticket, region)

    real = queue_module.source_of
    monkeypatch.setattr(queue_module, "source_of", source_of)
    services = make_services([ticket("1", "Charged twice"),
                              ticket("2", "Export to CSV", reply="Open Reports, then Export."),
                              ticket("3", "Where do I change my billing address?",
                                     reply="Open Settings, then Billing.")])
    services.sync("desk")
    assert sorted(s.question for s in SnippetQueue(services).list()) == [
        "Charged twice", "Where do I change my billing address?"]
    assert any("ticket 2" in r.getMessage() and "unexpected ticket shape" in r.getMessage()
               for r in caplog.records)
