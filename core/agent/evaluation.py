"""`deskpilot eval answers`: the real customer agent over a set of questions, scored.

The knowledge is indexed into the platform's (throw-away) data dir: an articles JSONL file
(`{id, title, body_html, url?}`, as `eval retrieval` reads it) or a configured connector
synced the usual way. Each question then runs through `build_customer_agent` and the
Agents SDK Runner with whichever provider is configured, exactly as a chat turn does.

Per question: **answered** when the reply cites at least one source (a `url_citation`, or,
for an LLM that writes plain text, the title or URL of a passage the tools returned appearing
in it); **correct** when a cited source is one of the question's answering articles.
Figures: the answered rate and the correct rate among answered questions (in scope), and
the hand-over rate on out-of-scope questions (`--oos`, `{text}` or `{query}` lines).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents import Runner

from deskpilot.core.agent import build_customer_agent
from deskpilot.knowledge.evaluation import Split, build_index, in_split

if TYPE_CHECKING:
    from deskpilot.core.services import Services

# Articles without a URL get one, so that citations name them like any other source.
EVAL_URL = "https://eval.invalid/articles/{id}"


@dataclass
class Row:
    question: str
    in_scope: bool
    answered: bool
    correct: bool | None  # None for out-of-scope questions
    expected: list[str]
    cited: list[str] = field(default_factory=list)
    answer: str = ""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file; a bad line is a ValueError naming it."""
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            records.append(record)
    return records


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _question(record: dict[str, Any]) -> str:
    text = record.get("query", record.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a line has no question text (query or text): {record!r:.80}")
    return text


def _expected(record: dict[str, Any]) -> list[str]:
    ids = record.get("article_ids") or [record.get("article_id")]
    if not all(isinstance(i, str) for i in ids):
        raise ValueError(f"a question names no article_id / article_ids: {record!r:.80}")
    return ids


def load_articles(path: Path) -> list[dict[str, Any]]:
    """Articles JSONL records, each with a URL (made up when it has none)."""
    records = read_jsonl(path)
    for record in records:
        if "id" not in record:
            raise ValueError(f"an article line has no id: {record!r:.80}")
        record.setdefault("url", EVAL_URL.format(id=record["id"]))
    return records


def _passages(result: Any) -> list[dict[str, Any]]:
    """Every passage the run's tools returned (tool outputs in the search tools' JSON)."""
    found: list[dict[str, Any]] = []
    for item in result.new_items:
        if item.type != "tool_call_output_item":
            continue
        try:
            found += json.loads(item.output)["passages"]
        except (TypeError, ValueError, KeyError):
            continue
    return found


def cited_documents(result: Any) -> list[str]:
    """The document ids the final answer cites, in citation order."""
    passages = _passages(result)
    by_url = {p.get("url"): p["document_id"] for p in passages if p.get("url")}
    cited: list[str] = []
    messages = [item.raw_item for item in result.new_items if item.type == "message_output_item"]
    annotations = [a for m in messages[-1:] for part in m.content
                   for a in getattr(part, "annotations", None) or []]
    for annotation in annotations:
        url = getattr(annotation, "url", None)
        if url in by_url and by_url[url] not in cited:
            cited.append(by_url[url])
    if not annotations:
        text = str(result.final_output or "")
        for p in passages:
            named = p["title"] in text or (p.get("url") and p["url"] in text)
            if named and p["document_id"] not in cited:
                cited.append(p["document_id"])
    return cited


async def _ask(services: Services, question: str) -> tuple[str, list[str]]:
    result = await Runner.run(build_customer_agent(services), question,
                              run_config=services.run_config("deskpilot eval answers"))
    return str(result.final_output or ""), cited_documents(result)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


async def evaluate_answers(
    services: Services,
    queries_path: Path,
    *,
    articles_path: Path | None = None,
    connector: str | None = None,
    oos_path: Path | None = None,
    split: Split = "all",
    rows: bool = False,
    progress: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """Index the knowledge into `services` (its data dir should be a throw-away one), ask every
    question of `split` (and every out-of-scope one) and return the figures."""
    log: Callable[[str], None] = _log if progress else (lambda _: None)
    questions = [q for q in read_jsonl(queries_path) if in_split(q, split)]
    asked = [(_question(q), _expected(q)) for q in questions][:limit]
    out_of_scope = [_question(q) for q in read_jsonl(oos_path)][:limit] if oos_path else []
    started = time.perf_counter()
    services.migrate()
    if articles_path is not None:
        build_index(load_articles(articles_path), services.embedder, services.index, progress)
    if connector is not None:
        services.sync(connector)
    results: list[Row] = []
    total = len(asked) + len(out_of_scope)
    for i, (question, expected, in_scope) in enumerate(
        [(q, e, True) for q, e in asked] + [(q, [], False) for q in out_of_scope], 1
    ):
        answer, cited = await _ask(services, question)
        answered = bool(cited)
        correct = (answered and bool(set(cited) & set(expected))) if in_scope else None
        results.append(Row(question, in_scope, answered, correct, expected, cited, answer))
        if i % 50 == 0:
            log(f"asked {i}/{total} questions")
    in_rows = [r for r in results if r.in_scope]
    answered = [r for r in in_rows if r.answered]
    oos_rows = [r for r in results if not r.in_scope]
    figures: dict[str, Any] = {
        "provider": services.settings.agent.provider,
        "split": split,
        "in_scope": {
            "n": len(in_rows),
            "answered": _rate(len(answered), len(in_rows)),
            "correct_among_answered": _rate(sum(bool(r.correct) for r in answered),
                                            len(answered)),
        },
    }
    if oos_path is not None:
        figures["out_of_scope"] = {
            "n": len(oos_rows),
            "handed_over": _rate(sum(not r.answered for r in oos_rows), len(oos_rows)),
        }
    if rows:
        figures["rows"] = [asdict(r) for r in results]
    log(f"asked {total} questions in {time.perf_counter() - started:.1f} s")
    return figures
