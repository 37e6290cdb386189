"""Builds `deskpilot eval drafts` input from StackFAQ: tickets with a real reply, and knowledge
that does not hold that reply.

    python bench/draft_tickets.py OUT_DIR [--per-article N]
    deskpilot eval drafts --tickets OUT_DIR/tickets.jsonl --articles OUT_DIR/articles.jsonl

Tickets: the held-out half of ../shared/data/stackfaq (eval retrieval's fixed split: articles
whose id ends in an odd number), each question as a ticket whose real reply is the text of the
article that answers it — as if an agent had answered with it. Knowledge: the other half's
articles only, so no ticket's own answer can be drafted from (it is left out of the knowledge);
a draft has to find what related articles say. Prints what it wrote as JSON. The files are
derived from the shared data: write them outside the repository.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from deskpilot.knowledge.evaluation import in_split
from deskpilot.knowledge.jsonl import read_jsonl, write_jsonl
from deskpilot.knowledge.text import html_to_text

STACKFAQ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stackfaq"


def build(out: Path, per_article: int | None = None, data: Path = STACKFAQ) -> dict[str, int]:
    articles = read_jsonl(data / "articles.jsonl")
    queries = read_jsonl(data / "queries.jsonl")
    by_id = {a["id"]: a for a in articles}
    asked: dict[str, list[str]] = defaultdict(list)
    for query in queries:
        if in_split(query, "held-out"):
            asked[query["article_id"]].append(query["query"])
    knowledge = [a for a in articles if a["id"] not in asked]
    tickets = [{"id": f"{article_id}-{n}", "description": text,
                "reply": html_to_text(by_id[article_id]["body_html"])}
               for article_id, texts in sorted(asked.items())
               for n, text in enumerate(texts[:per_article], 1)]
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "tickets.jsonl", tickets)
    write_jsonl(out / "articles.jsonl", knowledge)
    return {"tickets": len(tickets), "ticket_articles": len(asked), "knowledge_articles":
            len(knowledge)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-article", type=int, default=None,
                        help="At most this many questions of each held-out article.")
    args = parser.parse_args()
    print(json.dumps(build(args.out, args.per_article)))


if __name__ == "__main__":
    main()
