"""`report.json`: what a simulation found, per ticket and in sum. Its schema (`SCHEMA`) is stable:
the operator dashboard lists these reports, so a change of meaning gets a new schema version.

    {
      "schema": "deskpilot.simulation/1",
      "created_at": "2026-12-01T17:02:11+00:00",
      "settings": {"provider", "model", "source", "threshold", "wrong_below", "limit",
                   "since", "articles"},
      "summary": {                       # summarize(rows, ...): recomputable from the rows
        "tickets": 120, "answered": 71, "handed_over": 30, "unanswered": 19,
        "deflection": {"threshold": 0.3, "rate": 0.55, "wrong_answer_rate": 0.12},
        "curve": [{"threshold": 0.0, "deflection": 0.59, "wrong_answer_rate": 0.14}, ...],
        "handoffs": {"asked or by the agent": 20, "rule:billing": 10},
        "triage": {"labelled": 120, "correct": 90, "abstained": 12, "accuracy": 0.75},
        "similarity": {"n": 71, "mean": 0.61, "p10": 0.31, "p25": 0.5, "median": 0.63,
                       "p75": 0.74, "p90": 0.84,           # knowledge.distribution; None
                       "histogram": [0, 1, 3, ...]},       # when n is 0; 10 bins over [0, 1)
        "worst": ["1042", ...],          # answered tickets, least like the human's reply first
        "cost": {"input_tokens", "output_tokens", "currency", "per_1000_conversations"} | null
      },
      "rows": [{                         # one per replayed ticket
        "ticket_id", "subject", "question", "human_reply", "answer",
        "outcome": "answered" | "handed_over" | "unanswered",
        "handoff": {"reason", "rule"} | null,
        "confidence": 0.71,              # best search score returned, less the KB's λ (≥ 0)
        "cited": ["source/document_id"], "cited_urls": [...], "tools": ["search_knowledge"],
        "similarity": 0.66 | null,       # cosine of answer and human reply (embedder)
        "triage": {"label", "predicted", "abstained", "correct"} | null   # null: no label
      }]
    }

An **answered** ticket got a reply citing at least one source and no handoff; **unanswered**
means the agent replied without a source (it offered a person). Deflection at a threshold
counts answered tickets whose confidence reaches it; an answer is **estimated wrong** when its
similarity to the human's reply is below `wrong_below` (rows without a human reply are left
out of that rate).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from deskpilot.knowledge.distribution import distribution

SCHEMA = "deskpilot.simulation/1"
#: Thresholds of the deflection curve.
CURVE = [round(i * 0.05, 2) for i in range(21)]
#: Answered tickets listed as the worst cases.
WORST = 10


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def deflection_at(rows: list[dict[str, Any]], threshold: float, wrong_below: float
                  ) -> dict[str, Any]:
    deflected = [r for r in rows if r["outcome"] == "answered" and r["confidence"] >= threshold]
    judged = [r for r in deflected if r["similarity"] is not None]
    wrong = [r for r in judged if r["similarity"] < wrong_below]
    return {"threshold": threshold, "rate": _rate(len(deflected), len(rows)),
            "wrong_answer_rate": _rate(len(wrong), len(judged))}


def summarize(rows: list[dict[str, Any]], *, threshold: float, wrong_below: float,
              cost: dict[str, Any] | None = None) -> dict[str, Any]:
    outcomes = [r["outcome"] for r in rows]
    handoffs: dict[str, int] = {}
    for r in rows:
        if r["outcome"] == "handed_over":
            rule = (r["handoff"] or {}).get("rule")
            key = f"rule:{rule}" if rule else "asked or by the agent"
            handoffs[key] = handoffs.get(key, 0) + 1
    labelled = [r["triage"] for r in rows if r["triage"] is not None]
    # Answered tickets compared with a human reply, least like it first.
    answered = sorted((r for r in rows if r["outcome"] == "answered"
                       and r["similarity"] is not None), key=lambda r: r["similarity"])
    similarities = [r["similarity"] for r in answered]
    return {
        "tickets": len(rows),
        "answered": outcomes.count("answered"),
        "handed_over": outcomes.count("handed_over"),
        "unanswered": outcomes.count("unanswered"),
        "deflection": deflection_at(rows, threshold, wrong_below),
        "curve": [{"threshold": t, "deflection": point["rate"],
                   "wrong_answer_rate": point["wrong_answer_rate"]}
                  for t in CURVE for point in [deflection_at(rows, t, wrong_below)]],
        "handoffs": handoffs,
        "triage": {
            "labelled": len(labelled),
            "correct": sum(bool(t["correct"]) for t in labelled),
            "abstained": sum(bool(t["abstained"]) for t in labelled),
            "accuracy": _rate(sum(bool(t["correct"]) for t in labelled), len(labelled)),
        },
        "similarity": distribution(similarities, digits=4),
        "worst": [r["ticket_id"] for r in answered[:WORST]],
        "cost": cost,
    }


def saved_reports(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """The reports in `directory` (`<data_dir>/simulations`, a folder per run), newest first:
    (the folder's name, its report.json). Folders without a readable report of this schema
    are left out. Read-only: a report is parsed once per version of its file, and shared."""
    found = [(path.parent.name, report) for path in Path(directory).glob("*/report.json")
             if (report := _report_at(path)) is not None]
    return sorted(found, key=lambda pair: str(pair[1].get("created_at", "")), reverse=True)


def saved_report(directory: Path, name: str) -> dict[str, Any] | None:
    """The report of the run folder `name` in `directory`, if it is one (a name, never a path
    of its own), without reading every other report."""
    if not name or name != Path(name).name or name.startswith("."):
        return None
    return _report_at(Path(directory) / name / "report.json")


def _report_at(path: Path) -> dict[str, Any] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any] | None:
    """The report in the file as it was at (mtime_ns, size): a rewritten file is read again."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("schema") == SCHEMA else None
