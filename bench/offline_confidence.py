"""Calibrates the offline model's confidence bars: how often it answers in-scope questions
about the demo help center, and how often it (wrongly) answers out-of-scope ones.

    python bench/offline_confidence.py [--oos N]

Indexes the demo connector into a temp data dir with the real embedder and Searcher, then
prints JSON: per set, the accept rate under the current MIN_SCORE / MIN_TERM_COVERAGE and the
top-score distribution. Out-of-scope questions are CLINC150's `oos_train` + `oos_val`
(../shared/data); `oos_test` stays unseen by calibration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from deskpilot import Audience, SearchFilter
from deskpilot.core.agent.offline import MIN_SCORE, MIN_TERM_COVERAGE, term_coverage
from deskpilot.core.config import Settings
from deskpilot.core.services import Services

CLINC150 = Path(__file__).resolve().parents[2] / "shared" / "data" / "clinc150"
OOS = [CLINC150 / "oos_train.jsonl", CLINC150 / "oos_val.jsonl"]
IN_SCOPE = [
    "How do I reset my password?", "I lost my phone with my 2FA app", "How can I get a refund?",
    "Where do I download my invoices?", "my payment failed", "how to roll back a deployment",
    "set up a custom domain", "what are the API rate limits", "how do I invite a teammate",
    "my SSL certificate is stuck pending", "How do I export all my data?",
    "Can I change my email address?", "How do I restore a backup?",
    "configure SAML single sign-on", "my build failed", "delete my account",
    "how do I create an API key", "what plans do you offer", "is acme cloud down right now",
    "where do I set environment variables", "how do I report a security issue",
    "do you sign a DPA for GDPR", "what happens when I hit my usage limit",
    "how do I update my credit card", "how do I contact support",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oos", type=int, default=200, help="out-of-scope questions to try")
    args = parser.parse_args()
    out_of_scope = [json.loads(line)["text"] for path in OOS for line in path.open()][: args.oos]
    public = SearchFilter(audience=Audience.PUBLIC)
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Settings(data_dir=Path(tmp)))
        services.migrate()
        services.sync("demo")
        report: dict[str, object] = {"min_score": MIN_SCORE, "min_term_coverage": MIN_TERM_COVERAGE}
        for name, questions in (("in_scope", IN_SCOPE), ("out_of_scope", out_of_scope)):
            scores, accepted = [], 0
            for question in questions:
                hits = services.searcher.search(question, 4, filter=public, per_document=True)
                top = hits[0] if hits else None
                score = top.score if top else 0.0
                coverage = term_coverage(question, f"{top.title} {top.text}") if top else 0.0
                scores.append(score)
                accepted += score >= MIN_SCORE and coverage >= MIN_TERM_COVERAGE
            quartiles = statistics.quantiles(scores, n=4)
            report[name] = {
                "questions": len(questions), "answered": round(accepted / len(questions), 3),
                "top_score_min": round(min(scores), 3),
                "top_score_quartiles": [round(q, 3) for q in quartiles],
            }
        services.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
