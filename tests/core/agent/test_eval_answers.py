"""`deskpilot eval answers`: the real customer agent (real embedder, index, Runner) over questions,
with the offline model and with an LLM provider (the scripted fake OpenAI server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deskpilot.core.cli import build_app
from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT
from deskpilot.knowledge.jsonl import write_jsonl

from .fake_openai import FakeOpenAI

runner = CliRunner()
app = build_app()

ARTICLES = [
    {"id": "reset", "title": "Reset your password",
     "body_html": "<p>Open the sign-in page and click Forgot password. We email you a reset "
                  "link that is valid for one hour.</p>"},
    {"id": "invoices", "title": "Download invoices",
     "body_html": "<p>Go to Settings, then Billing, then Invoices. Each invoice has a Download "
                  "PDF link.</p>"},
    {"id": "refunds", "title": "Refund policy", "url": "https://help.example/refunds",
     "body_html": "<p>You can request a full refund within 14 days of the first charge.</p>"},
]
QUESTIONS = [
    {"query": "How do I reset my password?", "article_id": "reset"},
    {"query": "where can I download my invoices", "article_ids": ["invoices", "refunds"]},
    {"query": "Can I get a refund of the first charge?", "article_id": "refunds"},
    # Labelled with the wrong article: answered, but not from a source that answers it.
    {"query": "the password reset link I got is no longer valid", "article_id": "invoices"},
]
OUT_OF_SCOPE = [{"text": "what is the weather like in paris tomorrow"},
                {"text": "play some jazz music for me"}]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"articles": write_jsonl(tmp_path / "articles.jsonl", ARTICLES),
            "queries": write_jsonl(tmp_path / "queries.jsonl", QUESTIONS),
            "oos": write_jsonl(tmp_path / "oos.jsonl", OUT_OF_SCOPE)}


def _eval(files: dict[str, Path], *extra: str) -> dict:
    result = runner.invoke(app, ["eval", "answers", "--articles", str(files["articles"]),
                                 "--queries", str(files["queries"]), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_offline_figures_and_rows(files: dict[str, Path], tmp_path: Path) -> None:
    figures = _eval(files, "--oos", str(files["oos"]), "--rows")
    assert figures["provider"] == "offline"
    # The articles were calibrated as a sync does: the scores carry their own λ, not the
    # uncalibrated default.
    assert figures["lexical_weight"] != UNCALIBRATED_WEIGHT
    assert figures["in_scope"] == {"n": 4, "answered": 1.0, "correct_among_answered": 0.75}
    assert figures["out_of_scope"] == {"n": 2, "handed_over": 1.0}
    rows = {row["question"]: row for row in figures["rows"]}
    assert rows["How do I reset my password?"]["cited"][0] == "reset"
    assert rows["How do I reset my password?"]["correct"] is True
    wrong = rows["the password reset link I got is no longer valid"]
    assert wrong["answered"] and wrong["correct"] is False and wrong["cited"][0] == "reset"
    assert all(not r["answered"] and r["correct"] is None for r in figures["rows"][4:])
    # The live data dir is never touched: everything went to a temp dir.
    assert not (tmp_path / ".deskpilot").exists()


def test_an_llm_provider_is_evaluated_through_its_api(files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    search = ("tool", "search_knowledge", json.dumps({"query": "refund"}))
    turns = [search, ("text", "Yes: within 14 days of the first charge (Refund policy).")]
    queries = write_jsonl(tmp_path / "one.jsonl", [QUESTIONS[2]])
    with FakeOpenAI(turns) as fake:
        config = tmp_path / "deskpilot.toml"
        config.write_text(f'[agent]\nprovider = "openai-compatible"\nbase_url = "{fake.url}"\n'
                          'model = "m"\n', encoding="utf-8")
        figures = _eval({**files, "queries": queries}, "--config", str(config))
    assert figures["provider"] == "openai-compatible"
    # The LLM named the article it used: that is its citation.
    assert figures["in_scope"] == {"n": 1, "answered": 1.0, "correct_among_answered": 1.0}
    assert [path for path, _ in fake.requests] == ["/v1/chat/completions"] * 2


def test_a_follow_up_is_asked_after_the_messages_before_it(files: dict[str, Path],
                                                           tmp_path: Path) -> None:
    follow_up = {"query": "how long do I have for that?", "article_id": "refunds"}
    queries = write_jsonl(tmp_path / "follow_ups.jsonl", [
        {**follow_up, "before": ["Can I get a refund of the first charge?"]}, follow_up])
    figures = _eval({**files, "queries": queries}, "--rows")
    in_conversation, alone = figures["rows"]
    assert in_conversation["before"] == ["Can I get a refund of the first charge?"]
    assert in_conversation["cited"][:1] == ["refunds"] and in_conversation["correct"]
    assert alone["before"] == [] and alone["cited"][:1] != ["refunds"]


def test_a_bad_before_is_named(files: dict[str, Path]) -> None:
    files["queries"].write_text('{"query": "and then?", "article_id": "reset", "before": "hi"}\n')
    result = runner.invoke(app, ["eval", "answers", "--articles", str(files["articles"]),
                                 "--queries", str(files["queries"])])
    assert result.exit_code == 1 and "'before' must be a list" in result.output


def test_split_and_limit_choose_the_questions(files: dict[str, Path]) -> None:
    assert _eval(files, "--limit", "2")["in_scope"]["n"] == 2


@pytest.mark.parametrize(("args", "message"), [
    ([], "give exactly one of --articles FILE or --connector NAME"),
    (["--articles", "A", "--connector", "demo"], "give exactly one of"),
    (["--articles", "missing.jsonl"], "missing.jsonl: file not found"),
    (["--articles", "A", "--split", "half"], "--split: 'half' is not one of"),
    (["--connector", "nope"], "no enabled connector 'nope'"),
])
def test_bad_arguments_get_one_clear_line(files: dict[str, Path], args: list[str],
                                          message: str) -> None:
    args = [str(files["articles"]) if a == "A" else a for a in args]
    result = runner.invoke(app, ["eval", "answers", "--queries", str(files["queries"]), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_a_bad_line_is_named(files: dict[str, Path]) -> None:
    files["queries"].write_text('{"query": "ok", "article_id": "reset"}\nnot json\n')
    result = runner.invoke(app, ["eval", "answers", "--articles", str(files["articles"]),
                                 "--queries", str(files["queries"])])
    assert result.exit_code == 1 and "queries.jsonl:2: not JSON" in result.output


def test_an_empty_file_is_named(files: dict[str, Path], tmp_path: Path) -> None:
    # Was: "asked 0 questions" and {"answered": null, ...}, exit code 0.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    for args, message in (
        (["--articles", str(files["articles"]), "--queries", str(empty)], "no questions"),
        (["--articles", str(empty), "--queries", str(files["queries"])], "no articles"),
        (["--articles", str(files["articles"]), "--queries", str(files["queries"]),
          "--oos", str(empty)], "no out-of-scope questions"),
    ):
        result = runner.invoke(app, ["eval", "answers", *args])
        assert result.exit_code == 1 and f"empty.jsonl: {message}" in result.output, result.output


def test_a_help_center_that_indexes_nothing_is_named_not_scored(
        files: dict[str, Path], tmp_path: Path) -> None:
    # Was: every article failed to sync (or there were none) and the eval printed its figures,
    # "answered 0 %", with exit code 0.
    empty = tmp_path / "empty-help-center"
    empty.mkdir()
    config = tmp_path / "deskpilot.toml"
    config.write_text(f'[connectors.mine]\ntype = "local"\npath = "{empty}"\n')
    result = runner.invoke(app, ["eval", "answers", "--config", str(config), "--connector",
                                 "mine", "--queries", str(files["queries"]), "--json"])
    assert result.exit_code == 1, result.output
    assert "the sync of 'mine' indexed nothing to answer from" in result.output
    assert "Traceback" not in result.output
