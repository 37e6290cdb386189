"""Chooses the offline model's answer-or-hand-over rule on tuning data only.

    python bench/answer_confidence.py [--cache /tmp/answer-features.json]

In scope: the tuning halves of stackfaq and smarttv (eval retrieval's fixed split) and the demo
help center's paraphrased questions (bench/data/demo_questions.jsonl). Out of scope: CLINC150
`oos_train` + `oos_val`, asked of each of the three help centers. `oos_test` and the held-out
halves stay unseen: measure them once with `deskpilot eval answers`.

For every question it records what the customer search tool returns (the real embedder, index
and Searcher; cached in --cache, never committed), then scores every rule of a grid with
`deskpilot.core.agent.offline.answer_rule` and `close_call` (with each knowledge base's
calibrated λ) and prints JSON: the chosen rule — of those answering at most MAX_OOS_ANSWERED of
the out-of-scope questions on each help center, the one whose smallest margin over the targets
(TARGET_ANSWERED, TARGET_CORRECT), on each half of each set's articles, is largest — and its
figures per set and fold, with the share of answers that quote the runner-up on a close call.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from deskpilot import Audience, SearchFilter
from deskpilot.core.agent.extractive import Source, select
from deskpilot.core.agent.offline import AnswerRule, answer_rule, close_call
from deskpilot.core.config import Settings
from deskpilot.core.services import Services
from deskpilot.knowledge.evaluation import article_number, build_index, in_split

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEMO_QUESTIONS = Path(__file__).resolve().parent / "data" / "demo_questions.jsonl"
OOS = [DATA / "clinc150" / "oos_train.jsonl", DATA / "clinc150" / "oos_val.jsonl"]
RESULTS = 4  # what the search tool hands the model (plugins/knowledge_search.py)
# The targets (issue 13: stackfaq 95 % / smarttv 80 % correct among answered, 90 % / 70 %
# answered; the demo's own, set beside them). A rule is judged by its smallest margin over them
# on every fold of every set (then the next smallest, …): a help center it has not seen is
# another set of articles, so each tuning set is split in two by its articles, and the rule
# must hold on the harder fold, not on the average. Out of scope: a hard bar on each help center
# (oos_test's target is 95 % handed over).
MAX_OOS_ANSWERED = 0.02
TARGET_CORRECT = {"stackfaq": 0.95, "smarttv": 0.80, "demo": 0.85}
TARGET_ANSWERED = {"stackfaq": 0.90, "smarttv": 0.70, "demo": 0.80}
GRID = {
    "min_cosine": [0.25, 0.3, 0.35, 0.4, 0.45],
    "close_lead": [0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5],
    "min_lead": [0.0, 0.05, 0.1, 0.125, 0.15, 0.2, 0.25],
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def _rows(searcher: Any, questions: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    public = SearchFilter(audience=Audience.PUBLIC)
    rows = []
    for question, expected in questions:
        # Exactly the tool's search: the BM25 share is normalized over the candidates, so the
        # fused scores depend on how many are asked for.
        hits = searcher.search(question, RESULTS, filter=public, per_document=True)
        rows.append({"question": question, "expected": expected,
                     "passages": [{"title": h.title, "url": h.url, "text": h.text,
                                   "score": h.score, "document_id": h.document_id}
                                  for h in hits]})
    return rows


def _weight(services: Services) -> float:
    calibration = services.index.calibration
    return calibration.lexical_weight if calibration else 0.0


def collect(cache: Path) -> dict[str, Any]:
    """Every set's search results and each knowledge base's λ (`lexical_weight@name`), cached
    set by set (a long run that stops keeps its work)."""
    sets: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() \
        else {}
    oos = [(r["text"], []) for path in OOS for r in _jsonl(path)]

    def keep(name: str, rows: Any) -> None:
        sets[name] = rows
        cache.write_text(json.dumps(sets))

    with tempfile.TemporaryDirectory() as tmp:
        if "oos@demo" not in sets:
            services = Services(Settings(data_dir=Path(tmp) / "demo"))
            services.migrate()
            services.sync("demo")
            keep("demo", _rows(services.searcher, [
                (q["query"], q["article_ids"]) for q in _jsonl(DEMO_QUESTIONS)]))
            keep("oos@demo", _rows(services.searcher, oos))
            keep("lexical_weight@demo", _weight(services))
            services.close()
        for name in ("stackfaq", "smarttv"):
            if f"oos@{name}" in sets:
                continue
            services = Services(Settings(data_dir=Path(tmp) / name))
            build_index(_jsonl(DATA / name / "articles.jsonl"), services.embedder, services.index)
            services.index.calibrate()  # as a sync does: the knowledge base's own λ
            queries = [q for q in _jsonl(DATA / name / "queries.jsonl") if in_split(q, "tuning")]
            keep(name, _rows(services.searcher, [
                (q["query"], q.get("article_ids") or [q["article_id"]]) for q in queries]))
            keep(f"oos@{name}", _rows(services.searcher, oos))
            keep(f"lexical_weight@{name}", _weight(services))
            services.close()
    return sets


def _sources(row: dict[str, Any]) -> list[Source]:
    return [Source(p["title"], p["url"], p["text"], p["score"]) for p in row["passages"]]


def _fold(expected: list[str]) -> int:
    """Which half of its set's tuning articles a question belongs to (tuning ids end in an even
    number: the next bit splits them); questions of articles without a number: fold 0."""
    number = article_number(expected[0]) if expected else None
    return number // 2 % 2 if number is not None else 0


def features(sets: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per question what any rule needs: its sources, its knowledge base's λ, and whether the
    answer would cite a right source, quoting the best source alone and on a close call (the
    excerpts depend on the rule only through that)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in sets.items():
        if name.startswith("lexical_weight@"):
            continue
        weight = sets[f"lexical_weight@{name.split('@')[-1]}"]
        out[name] = []
        for row in rows:
            sources = _sources(row)
            correct = {}
            # An out-of-scope question has no right source: only whether it is answered counts.
            for runner_up in (False, True) if not name.startswith("oos@") else ():
                cited = {e.source.title for e in select(row["question"], sources,
                                                        runner_up=runner_up)}
                ids = {p["document_id"] for p in row["passages"] if p["title"] in cited}
                correct[runner_up] = bool(ids & set(row["expected"]))
            out[name].append({"sources": sources, "lexical_weight": weight,
                              "correct": correct, "fold": _fold(row["expected"])})
    return out


def _figures(rule: AnswerRule, rows: list[dict[str, Any]], in_scope: bool) -> dict[str, Any]:
    answered = [r for r in rows if answer_rule(r["sources"], r["lexical_weight"], rule)]
    figures: dict[str, Any] = {"n": len(rows), "answered": round(len(answered) / len(rows), 3)}
    if answered and in_scope:
        close = [close_call(r["sources"], r["lexical_weight"], rule) for r in answered]
        figures["correct_among_answered"] = round(
            sum(r["correct"][c] for r, c in zip(answered, close, strict=True)) / len(answered), 3)
        figures["close_calls_among_answered"] = round(sum(close) / len(answered), 3)
    return figures


def score(rule: AnswerRule, table: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each set's figures, and each in-scope set's per fold (`name#fold`)."""
    figures = {}
    for name, rows in table.items():
        in_scope = not name.startswith("oos@")
        figures[name] = _figures(rule, rows, in_scope)
        folds = sorted({r["fold"] for r in rows}) if in_scope else []
        for fold in folds if len(folds) > 1 else []:
            figures[f"{name}#{fold}"] = _figures(
                rule, [r for r in rows if r["fold"] == fold], in_scope)
    return figures


def margins(figures: dict[str, dict[str, Any]]) -> tuple[float, ...] | None:
    """The rule's margins over the targets, smallest first (None: an out-of-scope bar fails):
    on each fold of a set with folds, on the set itself otherwise."""
    if any(f["answered"] > MAX_OOS_ANSWERED for n, f in figures.items() if n.startswith("oos@")):
        return None
    out = []
    for name, f in figures.items():
        base = name.split("#")[0]
        if name.startswith("oos@") or (f"{base}#0" in figures and "#" not in name):
            continue
        out += [f["answered"] - TARGET_ANSWERED[base],
                (f.get("correct_among_answered") or 0.0) - TARGET_CORRECT[base]]
    return tuple(sorted(round(m, 3) for m in out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/answer-features.json"))
    parser.add_argument("--scores-only", action="store_true",
                        help="score the rules on the sets cached so far, search nothing")
    args = parser.parse_args()
    sets = collect(args.cache) if not args.scores_only else json.loads(args.cache.read_text())
    table = features(sets)
    best: tuple[tuple[float, ...], AnswerRule, dict[str, Any]] | None = None
    for values in itertools.product(*GRID.values()):
        rule = AnswerRule(**dict(zip(GRID, values, strict=True)))
        figures = score(rule, table)
        merit = margins(figures)
        # Ties go to the grid's first rule: the smaller bars, the fewer two-section answers.
        if merit is not None and (best is None or merit > best[0]):
            best = (merit, rule, figures)
    if best is None:
        print(json.dumps({"chosen": None, "reason": "no rule of the grid keeps the oos bar"}))
        return
    weights = {k.split("@")[1]: v for k, v in sets.items() if k.startswith("lexical_weight@")}
    print(json.dumps({"chosen": best[1].__dict__, "lexical_weight": weights,
                      "smallest_margins": best[0][:4], "tuning": best[2]}))


if __name__ == "__main__":
    main()
