"""`deskpilot test SUITE.yaml`: scripted customer conversations with assertions per turn, run
through the real chat (agent, tools, handoff rules, triage) on a throw-away platform.

    name: Demo help center            # optional
    articles: articles.jsonl          # optional, relative to the suite: the knowledge to answer
                                      # from (default: the configured connectors, synced)
    tests:
      - name: a password reset is answered from its article
        turns:
          - customer: How do I reset my password?
            expect:
              cites: reset-password           # a document id, "source/document_id" or URL
              hands_over: false
              contains: reset link            # one text or a list; case-insensitive
              not_contains: [refund]
              calls_tool: search_knowledge    # one name or a list
              not_calls_tool: escalate_to_human
              triage: account                 # triage's category for this message

With `--repeat K` every test runs K times, each in a new conversation; it passes^k when all K
runs pass (a model whose answers vary must get it right every time, not once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deskpilot.core.simulation.conversation import Conversation, TurnResult

if TYPE_CHECKING:
    from agents.models.interface import Model

    from deskpilot.core.simulation.platform import SimulationServices


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cites: list[str] = []
    hands_over: bool | None = None
    contains: list[str] = []
    not_contains: list[str] = []
    calls_tool: list[str] = []
    not_calls_tool: list[str] = []
    triage: str | None = None

    _lists = field_validator("cites", "contains", "not_contains", "calls_tool",
                             "not_calls_tool", mode="before")(_listed)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1)
    expect: Expect = Expect()


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    turns: list[Turn] = Field(min_length=1)


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "deskpilot"
    articles: Path | None = None
    tests: list[Case] = Field(min_length=1)


def load_suite(path: Path) -> Suite:
    """The suite in a YAML file; a ValueError naming the file and the bad key otherwise."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {str(exc).splitlines()[0]}") from None
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "the file"
        raise ValueError(f"{path}: {where}: {problem['msg']}") from None
    names = [case.name for case in suite.tests]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{path}: test names must differ: {', '.join(dupes)}")
    if suite.articles is not None and not suite.articles.is_absolute():
        suite.articles = Path(path).parent / suite.articles
    return suite


def _cites(turn: TurnResult, wanted: str) -> bool:
    ids = {d.split("/", 1)[-1] for d in turn.cited_documents}
    return wanted in turn.cited_urls or wanted in turn.cited_documents or wanted in ids


def check(expect: Expect, turn: TurnResult, triage: dict[str, Any] | None) -> list[str]:
    """What the turn got wrong, one line each (empty: it passed)."""
    failures = []
    for wanted in expect.cites:
        if not _cites(turn, wanted):
            failures.append(f"does not cite {wanted!r} (cited: "
                            f"{', '.join(turn.cited_documents or turn.cited_urls) or 'nothing'})")
    if expect.hands_over is not None and turn.handed_over != expect.hands_over:
        failures.append("hands over" if turn.handed_over else "does not hand over")
    reply = turn.reply.lower()
    failures += [f"does not contain {text!r}" for text in expect.contains
                 if text.lower() not in reply]
    failures += [f"contains {text!r}" for text in expect.not_contains if text.lower() in reply]
    failures += [f"does not call {name} (called: {', '.join(turn.tools) or 'no tool'})"
                 for name in expect.calls_tool if name not in turn.tools]
    failures += [f"calls {name}" for name in expect.not_calls_tool if name in turn.tools]
    if expect.triage is not None:
        got = (triage or {}).get("category")
        if str(got).lower() != expect.triage.lower():
            failures.append(f"triage says {got!r}, not {expect.triage!r}")
    return failures


@dataclass
class Run:
    failures: list[str] = field(default_factory=list)  # "turn N: ..." lines
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class CaseResult:
    name: str
    runs: list[Run]

    @property
    def passed(self) -> bool:
        """pass^k: every run passed."""
        return all(run.passed for run in self.runs)


async def run_suite(platform: SimulationServices, suite: Suite, repeat: int = 1,
                    model: Model | None = None) -> list[CaseResult]:
    """Run every test `repeat` times, each in a new conversation on `platform`. `model`: another
    model to test the agent with instead of the configured one."""
    from deskpilot.core.chat.runtime import build_chat

    build_agent = None
    if model is not None:
        from deskpilot.core.agent import build_customer_agent

        def build_agent(services: Any, context: Any) -> Any:
            return build_customer_agent(services, context).clone(model=model)

    runtime = build_chat(platform, build_agent)
    results = []
    for number, case in enumerate(suite.tests):
        runs = []
        for attempt in range(repeat):
            started = time.perf_counter()
            platform.begin()
            conversation = Conversation(runtime, platform, f"test-{number}-{attempt}")
            run = Run()
            for index, turn in enumerate(case.turns, 1):
                said = await conversation.say(turn.customer)
                triage = (platform.triage(turn.customer)
                          if turn.expect.triage is not None else None)
                run.failures += [f"turn {index}: {failure}"
                                 for failure in check(turn.expect, said, triage)]
            run.seconds = round(time.perf_counter() - started, 3)
            runs.append(run)
        results.append(CaseResult(case.name, runs))
    return results


def junit_xml(suite: Suite, results: list[CaseResult], repeat: int) -> bytes:
    """JUnit XML: one testcase per test, failed unless all `repeat` runs passed."""
    failed = sum(not r.passed for r in results)
    seconds = sum(run.seconds for r in results for run in r.runs)
    root = ElementTree.Element("testsuites", tests=str(len(results)), failures=str(failed),
                               time=f"{seconds:.3f}")
    element = ElementTree.SubElement(root, "testsuite", name=suite.name,
                                     tests=str(len(results)), failures=str(failed), errors="0",
                                     skipped="0", time=f"{seconds:.3f}")
    properties = ElementTree.SubElement(element, "properties")
    ElementTree.SubElement(properties, "property", name="repeat", value=str(repeat))
    for result in results:
        case = ElementTree.SubElement(
            element, "testcase", classname=suite.name, name=result.name,
            time=f"{sum(run.seconds for run in result.runs):.3f}")
        if not result.passed:
            bad = [(i, run) for i, run in enumerate(result.runs, 1) if not run.passed]
            failure = ElementTree.SubElement(
                case, "failure", type="AssertionError",
                message=f"{len(bad)} of {repeat} runs failed: {bad[0][1].failures[0]}")
            failure.text = "\n".join(f"run {i}: {line}" for i, run in bad
                                     for line in run.failures)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
