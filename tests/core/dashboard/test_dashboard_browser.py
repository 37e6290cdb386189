"""The dashboard in headless Chromium over real HTTP: sign in, every page without a console
error, without a request leaving this server and without a serious axe-core finding, a
transcript found by search, a snippet edited and approved (public at once) and another
rejected, sign out."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.core.chat.widget_pages import serious_accessibility_violations
from tests.core.dashboard.conftest import ADMIN, Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _snippets(site: Site) -> dict[int, tuple[str, str, str | None]]:
    with site.services.engine.connect() as conn:
        return {row.id: (row.status, row.answer, row.published_hash) for row in conn.execute(
            text("SELECT id, status, answer, published_hash FROM answer_snippet"))}


def test_an_operator_works_through_the_dashboard(site: Site, base: str, browser: Any) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url)
            if not r.url.startswith((base, "data:")) else None)

    page.goto(f"{base}/admin/login")
    assert serious_accessibility_violations(page) == []
    page.fill("#token", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("svg.chart").count() == 1
    for label in ["Sync", "Conversations", "Rates", "Knowledge gaps", "Simulations", "Cost",
                  "Snippets", "Escalations", "Overview"]:
        page.click(f"nav >> text={label}")
        page.wait_for_load_state()
        assert page.locator('nav a[aria-current="page"]').inner_text() == label
        assert serious_accessibility_violations(page) == [], label
    page.goto(f"{base}/admin/gaps")
    assert page.locator("section.topic").count() >= 2
    assert "From help:501" in page.content()

    page.goto(f"{base}/admin/conversations")
    page.fill("#q", "wire")
    page.click("form[role=search] button")
    page.click("#conversations a")
    assert page.locator("h1").inner_text() == "Do you take wire transfers as payment?"
    assert page.locator(".feedback.negative").count() == 1

    before = _snippets(site)
    pending = sorted(i for i, (status, _, _) in before.items() if status == "pending")
    assert len(pending) >= 2
    approve, reject = pending[:2]
    page.goto(f"{base}/admin/snippets")
    card = page.locator(f"#snippet-{approve}")
    card.locator("textarea[name=answer]").fill("Choose Invoice at checkout and pay by bank "
                                                "transfer to the IBAN on the invoice.")
    card.locator("button", has_text="Approve").click()
    page.wait_for_load_state()
    assert f"Snippet {approve} approved" in page.locator(".notice").inner_text()
    page.locator(f"#snippet-{reject}").locator("button", has_text="Reject").click()
    page.wait_for_load_state()
    assert f"Snippet {reject} rejected" in page.locator(".notice").inner_text()
    after = _snippets(site)
    assert after[approve][0] == "approved" and after[approve][2] is not None  # published
    assert after[approve][1].startswith("Choose Invoice at checkout and pay by bank transfer")
    assert after[reject][0] == "rejected" and after[reject][2] is None
    public = site.services.search("pay by bank transfer to the IBAN", k=3)
    assert any(p.title == before_question(site, approve) for p in public)

    page.click("text=Sign out")
    page.wait_for_url(f"{base}/admin/login")
    page.goto(f"{base}/admin/snippets")
    assert page.locator("#token").count() == 1  # signed out: the login form again
    assert elsewhere == []
    # The one failed load is the signed-out page itself (401), which Chromium logs as such.
    assert failed == [f"401 {base}/admin/snippets"]
    assert problems == ["console error: Failed to load resource: the server responded with a "
                        "status of 401 (Unauthorized)"]
    page.close()


def before_question(site: Site, snippet_id: int) -> str:
    with site.services.engine.connect() as conn:
        return conn.execute(text("SELECT question FROM answer_snippet WHERE id = :id"),
                            {"id": snippet_id}).scalar_one()
