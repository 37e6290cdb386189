"""bench/long_articles.py: manual sections grouped into long articles, questions mapped to them."""

from __future__ import annotations

from pathlib import Path

from deskpilot.knowledge.evaluation import read_articles, read_questions
from deskpilot.knowledge.jsonl import read_jsonl, write_jsonl
from tests.conftest import load_bench


def test_sections_become_headed_parts_of_long_articles(tmp_path: Path) -> None:
    data = tmp_path / "manual"
    data.mkdir()
    write_jsonl(data / "articles.jsonl", [
        {"id": f"s{n}", "title": f"Section {n}", "body_html": f"<p>Text of section {n}.</p>"}
        for n in range(5)])
    write_jsonl(data / "queries.jsonl", [
        {"query": "one", "article_ids": ["s1", "s2"]},  # sections of two long articles
        {"query": "two", "article_ids": ["s0", "s4"]},
        {"query": "three", "article_id": "s3"}])

    report = load_bench("long_articles").build(tmp_path / "out", sections=2, data=data)

    assert report == {"articles": 3, "queries": 3, "sections_per_article": 2}
    articles = read_jsonl(tmp_path / "out" / "articles.jsonl")
    assert [a["id"] for a in articles] == ["long-0", "long-1", "long-2"]
    assert articles[1] == {"id": "long-1", "title": "Section 2", "body_html":
                           "<h2>Section 2</h2><p>Text of section 2.</p>"
                           "<h2>Section 3</h2><p>Text of section 3.</p>"}
    queries = read_jsonl(tmp_path / "out" / "queries.jsonl")
    assert [q["article_ids"] for q in queries] == [["long-0", "long-1"], ["long-0", "long-2"],
                                                  ["long-1"]]
    # What eval retrieval and eval answers read.
    assert len(read_articles(tmp_path / "out" / "articles.jsonl")) == 3
    assert len(read_questions(tmp_path / "out" / "queries.jsonl")) == 3
