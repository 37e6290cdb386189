"""bench/long_articles.py: manual sections grouped into long articles, questions mapped to them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from deskpilot.knowledge.evaluation import read_articles, read_questions
from tests.conftest import REPO


def _load_bench() -> ModuleType:
    bench = REPO / "bench" / "long_articles.py"
    spec = importlib.util.spec_from_file_location("long_articles", bench)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_sections_become_headed_parts_of_long_articles(tmp_path: Path) -> None:
    data = tmp_path / "manual"
    data.mkdir()
    _write(data / "articles.jsonl", [
        {"id": f"s{n}", "title": f"Section {n}", "body_html": f"<p>Text of section {n}.</p>"}
        for n in range(5)])
    _write(data / "queries.jsonl", [
        {"query": "one", "article_ids": ["s1", "s2"]},  # sections of two long articles
        {"query": "two", "article_ids": ["s0", "s4"]},
        {"query": "three", "article_id": "s3"}])

    report = _load_bench().build(tmp_path / "out", sections=2, data=data)

    assert report == {"articles": 3, "queries": 3, "sections_per_article": 2}
    articles = [json.loads(line) for line in (tmp_path / "out" / "articles.jsonl").open()]
    assert [a["id"] for a in articles] == ["long-0", "long-1", "long-2"]
    assert articles[1] == {"id": "long-1", "title": "Section 2", "body_html":
                           "<h2>Section 2</h2><p>Text of section 2.</p>"
                           "<h2>Section 3</h2><p>Text of section 3.</p>"}
    queries = [json.loads(line) for line in (tmp_path / "out" / "queries.jsonl").open()]
    assert [q["article_ids"] for q in queries] == [["long-0", "long-1"], ["long-0", "long-2"],
                                                  ["long-1"]]
    # What eval retrieval and eval answers read.
    assert len(read_articles(tmp_path / "out" / "articles.jsonl")) == 3
    assert len(read_questions(tmp_path / "out" / "queries.jsonl")) == 3
