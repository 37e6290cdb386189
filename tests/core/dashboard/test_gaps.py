"""`deskpilot gaps --json` on the conversations the site held through /chatkit, and the
dashboard's Gaps page beside it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deskpilot.core.cli import build_app
from deskpilot.core.gaps import cluster
from tests.core.dashboard.conftest import ADMIN, Site
from tests.core.dashboard.figures import expected

pytestmark = pytest.mark.slow


def _gaps(site: Site, *args: str) -> dict:
    result = CliRunner().invoke(build_app(), ["gaps", "--json", "--config", str(site.config),
                                              "--data-dir", str(site.data_dir), *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _wanted(site: Site) -> dict[str, set[str]]:
    """Each gap question and its reasons, from the database."""
    truth = expected(site.services.engine)
    wanted: dict[str, set[str]] = {}
    for thread in truth["threads"].values():
        for answer in thread["answers"]:
            reasons = wanted.setdefault(answer["question"], set())
            if not answer["sourced"]:
                reasons.add("low_confidence")
            if answer["vote"] == "negative":
                reasons.add("thumbs_down")
        if thread["handed_over"]:
            wanted.setdefault(thread["questions"][0], set()).add("handed_over")
    return {q: r for q, r in wanted.items() if r}


def test_gaps_are_the_unsourced_thumbed_down_and_handed_over_questions(site: Site) -> None:
    wanted = _wanted(site)
    report = _gaps(site)
    found = {e["question"]: set(e["reasons"]) for t in report["topics"] for e in t["examples"]}
    assert found == wanted
    assert report["questions"] == len(wanted) == 4
    assert "How do I get a refund for my purchase?" not in found  # sourced and thumbed up


def test_similar_questions_share_a_topic_with_an_outline_from_their_solved_tickets(
        site: Site) -> None:
    report = _gaps(site)
    by_question = {e["question"]: t for t in report["topics"] for e in t["examples"]}
    payment = by_question["Can I pay with a bank transfer?"]
    assert by_question["Do you take wire transfers as payment?"] is payment
    assert payment["count"] == 2
    wanted = _wanted(site)
    reasons = [r for q in ("Can I pay with a bank transfer?",
                           "Do you take wire transfers as payment?") for r in wanted[q]]
    assert payment["reasons"] == {name: reasons.count(name) for name in (
        "low_confidence", "thumbs_down", "handed_over", "estimated_wrong")}
    assert payment["trend"]["later"] == 2 and payment["trend"]["direction"] == "rising"
    assert sum(day["count"] for day in payment["trend"]["per_day"]) == 2
    outline = payment["outline"]
    assert {s["tickets"][0] for s in outline["sections"]} == {"help:501", "help:502"}
    assert any("IBAN" in point for s in outline["sections"] for point in s["points"])
    student = by_question["Is there a student discount?"]
    assert student["reasons"]["handed_over"] == 1
    assert [s["tickets"] for s in student["outline"]["sections"]] == [["help:503"]]
    assert by_question["I forgot my password, how do I reset it?"] not in (payment, student)
    assert report["topics"][0] is payment  # largest first
    assert _gaps(site, "--days", "1")["questions"] == 4


def test_the_gaps_page_shows_the_same_topics(site: Site) -> None:
    report = _gaps(site)
    page = TestClient(site.app).get("/admin/gaps", headers={"Authorization": f"Bearer {ADMIN}"})
    assert page.status_code == 200
    for topic in report["topics"]:
        assert f'data-count="{topic["count"]}"' in page.text
        for example in topic["examples"]:
            assert f'href="/admin/conversations/{example["thread_id"]}"' in page.text
    assert "From help:501" in page.text


def test_clustering_joins_only_what_is_similar_enough() -> None:
    vectors = np.asarray([[1, 0, 0], [0.96, 0.28, 0], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = cluster(vectors)
    assert labels[0] == labels[1] != labels[2]
    assert cluster(vectors[:1]) == [0] and cluster(vectors[:0]) == []


def test_bad_days_are_refused_clearly(site: Site) -> None:
    result = CliRunner().invoke(build_app(), ["gaps", "--days", "0", "--data-dir",
                                              str(site.data_dir)])
    assert result.exit_code == 2 and "--days" in result.output


def test_without_json_gaps_prints_each_topic_with_its_examples_and_outline(site: Site) -> None:
    report = _gaps(site)
    result = CliRunner().invoke(build_app(), ["gaps", "--config", str(site.config),
                                              "--data-dir", str(site.data_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for topic in report["topics"]:
        [heading] = [line for line in lines if line.startswith(
            f"{topic['count']:>4}  {topic['title']}  (")]
        assert f"{topic['trend']['direction']}: {topic['trend']['earlier']} → " in heading
        for example in topic["examples"][1:]:
            assert f"        - {example['question']}" in lines
        for section in topic["outline"]["sections"]:
            assert (f"        ## {section['heading']}  (from {', '.join(section['tickets'])})"
                    in lines)
    assert "      suggested article:" in lines
