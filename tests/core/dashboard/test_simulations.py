"""Simulation reports on the dashboard and in the gap report: a real `deskpilot simulate` run
written where the dashboard looks (`<data_dir>/simulations`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deskpilot.core.cli import build_app
from tests.core.dashboard.conftest import ADMIN, Site

pytestmark = pytest.mark.slow
BEARER = {"Authorization": f"Bearer {ADMIN}"}
RUN = "20261201T120000Z"
ARTICLES = [
    {"id": "refunds", "title": "Refund policy", "url": "https://help.example/refunds",
     "body_html": "<p>Refunds are possible within 14 days of purchase. Open Billing, choose "
                  "the payment and press Request refund.</p>"},
]
TICKETS = [
    ("t1", "Can I get a refund for a purchase from last week?",
     "Yes, within 14 days: open Billing, choose the payment and press Request refund."),
    ("t2", "Do you accept payment in bitcoin?", "No, we only take cards and bank transfers."),
    ("t3", "I want to talk to a person about my contract", "Sure, I have called you back."),
]


def _write_inputs(root: Path) -> tuple[Path, Path]:
    articles = root / "articles.jsonl"
    articles.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    tickets = root / "tickets.jsonl"
    tickets.write_text("".join(json.dumps({
        "id": i, "subject": q[:40], "description": q, "status": "solved",
        "updated_at": "2026-11-20T10:00:00Z",
        "comments": [{"author_role": "agent", "body": reply, "public": True}]}) + "\n"
        for i, q, reply in TICKETS))
    return articles, tickets


@pytest.fixture(scope="module")
def report(site: Site) -> dict[str, Any]:
    articles, tickets = _write_inputs(site.config.parent)
    out = site.data_dir / "simulations" / RUN
    result = CliRunner().invoke(build_app(), [
        "simulate", "--tickets", str(tickets), "--articles", str(articles), "--out", str(out),
        "--config", str(site.config)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text())


def test_the_simulations_page_lists_the_run_with_its_figures(site: Site,
                                                             report: dict[str, Any]) -> None:
    client = TestClient(site.app, headers=BEARER)
    page = client.get("/admin/simulations").text
    row = re.search(rf'<tr data-run="{RUN}">(.*?)</tr>', page, re.S).group(1)
    rows = report["rows"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    outcomes = [r["outcome"] for r in rows]
    assert cells[1:5] == [str(len(rows)), str(outcomes.count("answered")),
                          str(outcomes.count("handed_over")), str(outcomes.count("unanswered"))]
    threshold = report["settings"]["threshold"]
    deflected = sum(r["outcome"] == "answered" and r["confidence"] >= threshold for r in rows)
    assert cells[5].startswith(f"{deflected / len(rows) * 100:.1f} %")
    html = client.get(f"/admin/simulations/{RUN}/report.html")
    assert html.status_code == 200 and "<svg" in html.text
    assert "script-src" not in html.headers["content-security-policy"]
    assert client.get(f"/admin/simulations/{RUN}/report.json").json() == report
    for name in ("nope", "..", "%2e%2e", "..%2Fsimulations"):
        assert client.get(f"/admin/simulations/{name}/report.json").status_code == 404
    assert TestClient(site.app).get(f"/admin/simulations/{RUN}/report.html").status_code == 401


def test_the_newest_simulations_gaps_join_the_report(site: Site, report: dict[str, Any]) -> None:
    result = CliRunner().invoke(build_app(), ["gaps", "--json", "--config", str(site.config),
                                              "--data-dir", str(site.data_dir)])
    assert result.exit_code == 0, result.output
    simulated = {e["question"]: e["reasons"] for t in json.loads(result.output)["topics"]
                 for e in t["examples"] if e["origin"] == "simulation"}
    wrong_below = report["settings"]["wrong_below"]
    wanted = {}
    for row in report["rows"]:
        if row["outcome"] == "handed_over":
            wanted[row["question"]] = ["handed_over"]
        elif row["outcome"] == "unanswered":
            wanted[row["question"]] = ["low_confidence"]
        elif row["similarity"] is not None and row["similarity"] < wrong_below:
            wanted[row["question"]] = ["estimated_wrong"]
    assert simulated == wanted
    assert wanted["I want to talk to a person about my contract"] == ["handed_over"]
    assert wanted["Do you accept payment in bitcoin?"] == ["low_confidence"]


def test_the_simulation_pages_in_chromium(site: Site, report: dict[str, Any], base: str,
                                          browser: Any) -> None:
    page = browser.new_page(extra_http_headers=BEARER)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}/admin/simulations")
    page.click(f'tr[data-run="{RUN}"] >> text=report')
    page.wait_for_url(f"{base}/admin/simulations/{RUN}/report.html")
    assert page.locator("svg").count() >= 1
    assert problems == []
    page.close()
