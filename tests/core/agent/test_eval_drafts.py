"""`deskpilot eval drafts`: the copilot's drafts (real embedder, index, plugin hook) against the
replies agents really sent, offline and through an LLM provider (the scripted fake OpenAI
server), and the baseline of the top article's first paragraph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deskpilot.core.agent.evaluation import content_sentences, first_paragraph
from deskpilot.core.cli import build_app
from deskpilot.knowledge.jsonl import write_jsonl

from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow  # the local embedding model

runner = CliRunner()
app = build_app()

ARTICLES = [
    {"id": "reset", "title": "Reset your password",
     "body_html": "<h2>Forgot it?</h2><p>Open the sign-in page and click Forgot password. We "
                  "email you a reset link that is valid for one hour.</p><p>Passwords need 12 "
                  "characters.</p>"},
    {"id": "invoices", "title": "Download invoices",
     "body_html": "<p>Invoices are created on the first of each month.</p><ol><li>Go to "
                  "Settings, then Billing, then Invoices.</li><li>Click Download PDF.</li></ol>"},
    {"id": "refunds", "title": "Refund policy",
     "body_html": "<p>You can request a full refund within 14 days of the first charge.</p>"},
]
RESET_REPLY = ("Hi Ana,\n\nOpen the sign-in page and click Forgot password: we email you a reset "
               "link, valid for one hour.\n\nBest regards,\nSam")
INVOICE_REPLY = "Go to Settings, then Billing, then Invoices, and click Download PDF there."
TICKETS = [
    {"id": "t1", "subject": "Locked out", "requester": "Ana Lima",
     "description": "I can't remember my password. How do I get a new one?",
     "reply": RESET_REPLY},
    {"query": "where can I download my invoices", "reply": INVOICE_REPLY},
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"articles": write_jsonl(tmp_path / "articles.jsonl", ARTICLES),
            "tickets": write_jsonl(tmp_path / "tickets.jsonl", TICKETS)}


def _eval(files: dict[str, Path], *extra: str) -> dict:
    result = runner.invoke(app, ["eval", "drafts", "--tickets", str(files["tickets"]),
                                 "--articles", str(files["articles"]), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_offline_drafts_are_scored_against_the_real_replies(files: dict[str, Path],
                                                            tmp_path: Path) -> None:
    figures = _eval(files, "--rows")
    assert figures["provider"] == "offline" and figures["n"] == 2
    assert figures["generated_by"] == {"offline": 2}
    for measure in ("similarity", "key_sentences_covered"):
        for who in ("draft", "baseline"):
            dist = figures[measure][who]
            assert dist["n"] == 2 and sum(dist["histogram"]) == 2
            assert 0 <= dist["p10"] <= dist["median"] <= dist["p90"] <= 1
    reset, invoices = figures["rows"]
    assert reset["draft"].startswith("Hi Ana,\n\n") and "Forgot password" in reset["draft"]
    # What the real reply says, greeting and signature left out, is what the draft must cover.
    assert reset["key_sentences"] == [
        "Open the sign-in page and click Forgot password: we email you a reset link, valid for "
        "one hour."]
    assert reset["similarity"] > 0.6 and reset["coverage"] == 1.0
    # The baseline is the top article's first paragraph: its heading is not a paragraph.
    assert reset["baseline"] == ("Open the sign-in page and click Forgot password. We email "
                                 "you a reset link that is valid for one hour.")
    assert invoices["baseline"] == "Invoices are created on the first of each month."
    # The draft quotes the steps that answer the question; the first paragraph does not.
    assert "1. Go to Settings, then Billing, then Invoices." in invoices["draft"]
    assert invoices["similarity"] > invoices["baseline_similarity"]
    assert invoices["coverage"] == 1.0 and invoices["baseline_coverage"] == 0.0
    assert figures["draft_more_similar"] >= 0.5
    assert not (tmp_path / ".deskpilot").exists()  # everything went to a temp dir


def test_the_llm_draft_path_is_evaluated_through_its_api(files: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """With an LLM provider each draft is the model's reply (checked by the leak guard): a
    model that writes what the agent wrote scores as the real reply."""
    written = [("text", "Hi Ana,\n\nOpen the sign-in page and click Forgot password: we email "
                        "you a reset link, valid for one hour [1].\n\nBest regards"),
               ("text", f"Hello,\n\n{INVOICE_REPLY} [1]")]
    with FakeOpenAI(written) as fake:
        config = tmp_path / "deskpilot.toml"
        config.write_text(f'[agent]\nprovider = "openai-compatible"\nbase_url = "{fake.url}"\n'
                          'model = "m"\n', encoding="utf-8")
        figures = _eval(files, "--rows", "--config", str(config))
    assert figures["provider"] == "openai-compatible"
    assert figures["generated_by"] == {"m": 2}
    assert [path for path, _ in fake.requests] == ["/v1/chat/completions"] * 2
    prompt = fake.requests[0][1]["messages"][-1]["content"]
    assert prompt.startswith("Requester: Ana\nTicket:\nLocked out\n")
    assert "[1] (public) Reset your password" in prompt
    for row in figures["rows"]:
        assert row["similarity"] > 0.99 and row["coverage"] == 1.0
        assert row["similarity"] > row["baseline_similarity"]


def test_the_report_for_people_shows_the_distribution_and_the_rows(
        files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["eval", "drafts", "--tickets", str(files["tickets"]),
                                 "--articles", str(files["articles"]), "--rows"])
    assert result.exit_code == 0, result.output
    assert "similarity to the real reply:" in result.stdout
    assert "key sentences covered (top 3, at cosine 0.7):" in result.stdout
    assert "draft more similar than the baseline:" in result.stdout
    assert result.stdout.count("\nreal reply:\n") == 2 and "    Best regards,\n    Sam" in \
        result.stdout


@pytest.mark.parametrize(("records", "args", "code", "message"), [
    ([{"query": "where are my invoices"}], [], 1, "ticket 1 has no real reply (reply)"),
    ([{"reply": "Go to Billing."}], [], 1, "ticket 1 has no text"),
    ([], [], 1, "tickets.jsonl: no tickets"),  # was: "draft more similar …: None of tickets"
    (TICKETS, ["--connector", "demo"], 2, "give exactly one of --articles FILE or --connector"),
])
def test_bad_input_gets_one_clear_line(files: dict[str, Path], records: list[dict],
                                       args: list[str], code: int, message: str) -> None:
    write_jsonl(files["tickets"], records)
    result = runner.invoke(app, ["eval", "drafts", "--tickets", str(files["tickets"]),
                                 "--articles", str(files["articles"]), *args])
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output


def test_what_a_reply_says_and_its_first_paragraph() -> None:
    assert content_sentences("Hi Ana,\n\nClick Reset [1]. It works.\n- Check spam.\n\nBest") == [
        "Click Reset.", "It works.", "Check spam."]
    assert first_paragraph("Reset\nForgot it?\nOpen the sign-in page now.", "Reset") == \
        "Open the sign-in page now."
