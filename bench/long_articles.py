"""Builds a help center of long articles from the Smart TV manual, to check that retrieval and
answers hold on a layout neither tuning set has.

    python bench/long_articles.py OUT_DIR [--sections N]
    deskpilot eval retrieval --articles OUT_DIR/articles.jsonl --queries OUT_DIR/queries.jsonl
    deskpilot eval answers --articles OUT_DIR/articles.jsonl --queries OUT_DIR/queries.jsonl

Articles: every N (default 6) consecutive sections of ../shared/data/smarttv as one article
titled after its first section, each section under an <h2> of its title — the shape of a
help center whose articles cover a topic each. Queries: the manual's questions, each naming the
articles that hold its answering sections. Nothing is tuned on it: it is a check. Prints what
it wrote as JSON. The files are derived from the shared data: write them outside the
repository.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deskpilot.knowledge.evaluation import answering_ids, read_articles, read_questions
from deskpilot.knowledge.jsonl import write_jsonl

SMARTTV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "smarttv"


def build(out: Path, sections: int = 6, data: Path = SMARTTV) -> dict[str, int]:
    manual = read_articles(data / "articles.jsonl")
    articles, article_of = [], {}
    for start in range(0, len(manual), sections):
        group = manual[start : start + sections]
        article_id = f"long-{start // sections}"
        articles.append({"id": article_id, "title": group[0]["title"], "body_html": "".join(
            f"<h2>{section['title']}</h2>{section['body_html']}" for section in group)})
        article_of.update((section["id"], article_id) for section in group)
    queries = [{"query": query["query"],
                "article_ids": sorted({article_of[i] for i in answering_ids(query)})}
               for query in read_questions(data / "queries.jsonl")]
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "articles.jsonl", articles)
    write_jsonl(out / "queries.jsonl", queries)
    return {"articles": len(articles), "queries": len(queries), "sections_per_article": sections}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sections", type=int, default=6,
                        help="Consecutive manual sections per article.")
    args = parser.parse_args()
    if args.sections < 1:
        parser.error("--sections must be at least 1")
    print(json.dumps(build(args.out, args.sections)))


if __name__ == "__main__":
    main()
