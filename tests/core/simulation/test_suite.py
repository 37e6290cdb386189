"""`deskpilot test SUITE.yaml`: the starter suite on the demo help center, exit codes, JUnit XML,
pass^k with a scripted model whose answers vary between runs, and bad suites."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from deskpilot.core.agent.scripted import ScriptedModel
from deskpilot.core.cli import build_app
from deskpilot.core.config import load_settings
from deskpilot.core.simulation.platform import SimulationServices
from deskpilot.core.simulation.suite import Suite, junit_xml, load_suite, run_suite

pytestmark = pytest.mark.slow
runner = CliRunner()
app = build_app()
REPO = Path(__file__).resolve().parents[3]
STARTER = REPO / "examples" / "demo-suite.yaml"
ARTICLES = """{"id": "reset", "title": "Reset your password", "url": "https://help.example/reset", \
"body_html": "<p>Open the sign-in page and click Forgot password. We email you a reset link \
that is valid for one hour.</p>"}
"""


def _suite(tmp_path: Path, text: str) -> Path:
    (tmp_path / "articles.jsonl").write_text(ARTICLES, encoding="utf-8")
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_starter_suite_passes_on_the_demo_help_center(tmp_path: Path) -> None:
    junit = tmp_path / "out" / "junit.xml"
    result = runner.invoke(app, ["test", str(STARTER), "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    assert "demo help center: 6/6 tests passed" in result.output
    root = ElementTree.parse(junit).getroot()
    assert root.get("tests") == "6" and root.get("failures") == "0"
    assert not (tmp_path / ".deskpilot").exists()  # a temp data dir, never the live one


FAILING = """name: failing
articles: articles.jsonl
tests:
  - name: answers from the article
    turns:
      - customer: How do I reset my password?
        expect: {cites: reset, contains: reset link, calls_tool: search_knowledge}
  - name: expects what does not happen
    turns:
      - customer: How do I reset my password?
        expect:
          hands_over: true
          not_contains: [reset link]
          cites: https://help.example/other
          not_calls_tool: search_knowledge
"""


def test_a_failing_test_fails_the_command_and_the_junit_says_why(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = runner.invoke(app, ["test", str(_suite(tmp_path, FAILING)), "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    assert "PASS  answers from the article" in result.output
    assert "FAIL  expects what does not happen" in result.output
    assert "failing: 1/2 tests passed" in result.output
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["answers from the article"].find("failure") is None
    failure = cases["expects what does not happen"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("1 of 1 runs failed")
    lines = failure.text.splitlines()
    assert lines == [
        "run 1: turn 1: does not cite 'https://help.example/other' (cited: eval/reset)",
        "run 1: turn 1: does not hand over",
        "run 1: turn 1: contains 'reset link'",
        "run 1: turn 1: calls search_knowledge",
    ]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[SimulationServices]:
    from deskpilot.core.agent.evaluation import load_articles
    from deskpilot.knowledge.evaluation import build_index

    (tmp_path / "articles.jsonl").write_text(ARTICLES, encoding="utf-8")
    settings = load_settings(None, data_dir=tmp_path / "data", database={"url": None},
                             index={"backend": "embedded"})
    base = SimulationServices(settings)
    base.migrate()
    build_index(load_articles(tmp_path / "articles.jsonl"), base.embedder, base.index, False)
    chat = SimulationServices(settings, base.plugins)
    chat.share(base, frozenset())
    yield chat
    base.close()


VARYING = Suite.model_validate({"name": "varying", "tests": [
    {"name": "mentions the link", "turns": [
        {"customer": "How do I reset my password?",
         "expect": {"contains": "reset link", "calls_tool": "search_knowledge"}}]},
    {"name": "always searches", "turns": [
        {"customer": "How do I reset my password?", "expect": {"calls_tool": "search_knowledge"}}]},
]})


def test_pass_k_needs_every_run_to_pass(platform: SimulationServices) -> None:
    # Right on the 1st, 3rd, 5th... answer, wrong on the others: passes once, not three times.
    model = ScriptedModel([("search_knowledge", {"query": "reset password"})],
                          ["We email you a reset link.", "Try turning it off and on."])
    results = asyncio.run(run_suite(platform, VARYING, repeat=3, model=model))
    first, second = results
    # Runs in order: test 1 gets replies 1, 2, 3; test 2 replies 4, 5, 6.
    assert [run.passed for run in first.runs] == [True, False, True]
    assert not first.passed
    assert [run.passed for run in second.runs] == [True, True, True] and second.passed
    assert first.runs[1].failures == ["turn 1: does not contain 'reset link'"]
    root = ElementTree.fromstring(junit_xml(VARYING, results, 3))
    assert root.get("failures") == "1"
    assert root.find("testsuite/properties/property").get("value") == "3"
    failure = root.find("testsuite/testcase[@name='mentions the link']/failure")
    assert failure is not None and failure.get("message").startswith("1 of 3 runs failed")
    # Always right: pass^3 holds.
    steady = ScriptedModel([("search_knowledge", {"query": "reset password"})],
                           "We email you a reset link.")
    assert all(r.passed for r in asyncio.run(run_suite(platform, VARYING, 3, steady)))


def test_repeat_on_the_command_line(tmp_path: Path) -> None:
    path = _suite(tmp_path, FAILING.split("  - name: expects")[0])
    result = runner.invoke(app, ["test", str(path), "--repeat", "2"])
    assert result.exit_code == 0, result.output
    assert "PASS  answers from the article  (2/2 runs)" in result.output
    assert "in all 2 runs (pass^2 1.00)" in result.output


def test_pass_k_on_the_command_line_with_an_llm_that_varies(tmp_path: Path) -> None:
    # The configured LLM (the fake OpenAI API, in its wire format) is right in runs 1 and 3 and
    # wrong in run 2: pass^3 fails, the command exits 1 and the JUnit says 1 of 3 runs failed.
    from tests.core.agent.fake_openai import FakeOpenAI

    search = ("tool", "search_knowledge", json.dumps({"query": "reset password"}))
    right = ("text", "Click Forgot password: we email you a reset link.")
    wrong = ("text", "Try turning it off and on again.")
    path = _suite(tmp_path, """name: llm
articles: articles.jsonl
tests:
  - name: answers from the article
    turns:
      - customer: How do I reset my password?
        expect: {contains: reset link, calls_tool: search_knowledge}
""")
    junit = tmp_path / "junit.xml"
    with FakeOpenAI([search, right, search, wrong, search, right]) as fake:
        config = tmp_path / "deskpilot.toml"
        config.write_text(
            f'[agent]\nprovider = "openai-compatible"\nbase_url = "{fake.url}"\nmodel = "m"\n'
            "check_grounding = false\n", encoding="utf-8")
        result = runner.invoke(app, ["test", str(path), "--repeat", "3", "--junit", str(junit),
                                     "--config", str(config)])
        calls = [path for path, _ in fake.requests]
    assert result.exit_code == 1, result.output
    assert len(calls) == 6  # three runs, each a tool call and an answer
    assert "FAIL  answers from the article  (2/3 runs)" in result.output
    assert "run 2, turn 1: does not contain 'reset link'" in result.output
    assert "llm: 0/1 tests passed in all 3 runs (pass^3 0.00)" in result.output
    failure = ElementTree.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message", "").startswith("1 of 3 runs failed")


@pytest.mark.parametrize(("text", "message"), [
    ("tests: []\n", "tests: List should have at least 1 item"),
    ("tests:\n  - name: x\n    turns:\n      - customer: hi\n        expect: {cite: a}\n",
     "tests.0.turns.0.expect.cite: Extra inputs are not permitted"),
    ("tests:\n  - name: x\n    turns:\n      - {customer: hi}\n  - name: x\n    turns:\n"
     "      - {customer: hi}\n", "test names must differ: x"),
    ("tests: [\n", "not YAML"),
    ("articles: nowhere.jsonl\ntests:\n  - name: x\n    turns: [{customer: hi}]\n",
     "nowhere.jsonl: file not found"),
])
def test_a_bad_suite_gets_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    result = runner.invoke(app, ["test", str(_suite(tmp_path, text))])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_missing_suite_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "none.yaml: file not found" in result.output


def test_suite_articles_are_relative_to_the_suite(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, "articles: articles.jsonl\ntests:\n  - name: x\n"
                                        "    turns: [{customer: hi}]\n"))
    assert suite.articles == tmp_path / "articles.jsonl"


WRONG_TRIAGE = """name: wrong triage
articles: articles.jsonl
tests:
  - name: a password question is not billing, and is not handed over
    turns:
      - customer: How do I reset my password?
        expect: {triage: billing, hands_over: false}
  - name: asking for a person is not answered by the AI
    turns:
      - customer: I'd like to talk to a person
        expect: {hands_over: false}
"""


def test_wrong_triage_and_an_unexpected_handover_fail_with_what_happened(
        tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    suite = _suite(tmp_path, WRONG_TRIAGE)
    result = runner.invoke(app, ["test", str(suite), "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    assert "wrong triage: 0/2 tests passed" in result.output
    cases = {case.get("name"): case for case in ElementTree.parse(junit).iter("testcase")}
    triage = cases["a password question is not billing, and is not handed over"].find("failure")
    assert triage is not None
    [line] = triage.text.splitlines()
    assert line.startswith("run 1: turn 1: triage says ") and line.endswith(", not 'billing'")
    handed = cases["asking for a person is not answered by the AI"].find("failure")
    assert handed is not None and handed.text.splitlines() == ["run 1: turn 1: hands over"]
