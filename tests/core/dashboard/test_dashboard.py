"""`/admin` over HTTP: who may see it, CSRF, and figures that agree with the database."""

from __future__ import annotations

import re
import tempfile
from datetime import date

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlmodel import Session

from deskpilot.core.app import create_app
from deskpilot.core.config import Settings
from deskpilot.core.dashboard.auth import SESSION_COOKIE
from deskpilot.knowledge.tables import SyncFailure
from tests.core.dashboard.conftest import ADMIN, Site
from tests.core.dashboard.figures import expected

pytestmark = pytest.mark.slow
PAGES = ["/admin", "/admin/sync", "/admin/conversations", "/admin/rates", "/admin/gaps",
         "/admin/simulations", "/admin/cost", "/admin/snippets", "/admin/escalations"]
BEARER = {"Authorization": f"Bearer {ADMIN}"}


def _login(client: TestClient, token: str) -> Response:
    """Sign in as a browser does: the form (its CSRF token and cookie), then the POST."""
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"token": token, "csrf": _csrf(form.text)},
                       follow_redirects=False)


def _signed_in(site: Site) -> TestClient:
    client = TestClient(site.app)
    assert _login(client, ADMIN).status_code == 303
    return client


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9A-Za-z_-]+)"', page).group(1)


def _snippet_status(site: Site, snippet_id: int) -> str:
    with site.services.engine.connect() as conn:
        return conn.execute(text("SELECT status FROM answer_snippet WHERE id = :id"),
                            {"id": snippet_id}).scalar_one()


def test_every_page_refuses_a_request_without_the_admin_token(site: Site) -> None:
    anonymous = TestClient(site.app)
    for path in PAGES:
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert 'action="/admin/login"' in response.text  # the login form, not the page
        assert "Conversations" not in response.text
        assert anonymous.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anonymous.get(path, headers=BEARER).status_code == 200, path
    refused = anonymous.post("/admin/snippets/approve", data={"snippet_id": "1"})
    assert refused.status_code == 401
    forged = TestClient(site.app, cookies={SESSION_COOKIE: "9999999999.nonce.deadbeef"})
    assert forged.get("/admin").status_code == 401
    wrong = _login(anonymous, "guess")
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.headers.get("set-cookie", "")


def test_the_login_form_is_csrf_protected_too(site: Site) -> None:
    """Another site cannot sign a browser in: the form's token must be the login cookie's."""
    client = TestClient(site.app)
    form = client.get("/admin/login")
    cookie = form.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin/login" in cookie
    for data in ({"token": ADMIN}, {"token": ADMIN, "csrf": "forged"}):
        refused = client.post("/admin/login", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    # The right token without its cookie (a cross-site form: no SameSite=Strict cookie) fails.
    stranger = TestClient(site.app)
    refused = stranger.post("/admin/login", data={"token": ADMIN, "csrf": _csrf(form.text)},
                            follow_redirects=False)
    assert refused.status_code == 403
    # The form a protected page answers with works as well.
    assert _csrf(client.get("/admin/sync").text)
    assert client.post("/admin/login", data={"token": ADMIN, "csrf": _csrf(
        client.get("/admin/sync").text)}, follow_redirects=False).status_code == 303


def test_without_an_admin_token_the_dashboard_is_off() -> None:
    app = create_app(Settings(data_dir=tempfile.mkdtemp(), connectors={}))
    response = TestClient(app).get("/admin")
    assert response.status_code == 403
    assert "server.admin_token" in response.json()["detail"]


def test_login_sets_a_strict_httponly_session_and_logout_ends_it(site: Site) -> None:
    client = TestClient(site.app)
    response = _login(client, ADMIN)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
    page = client.get("/admin")
    assert page.status_code == 200
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.post("/admin/logout", data={"csrf": "nope"}).status_code == 403
    client.post("/admin/logout", data={"csrf": _csrf(page.text)})
    assert client.get("/admin").status_code == 401


def test_a_form_without_the_sessions_csrf_token_is_refused(site: Site) -> None:
    client = _signed_in(site)
    page = client.get("/admin/snippets")
    snippet_id = int(re.search(r'name="snippet_id" value="(\d+)"', page.text).group(1))
    for form in ({"snippet_id": snippet_id}, {"snippet_id": snippet_id, "csrf": "0" * 64}):
        refused = client.post("/admin/snippets/approve", data=form)
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
    assert _snippet_status(site, snippet_id) == "pending"
    # Another session's token is no good either.
    other = _csrf(_signed_in(site).get("/admin/snippets").text)
    assert client.post("/admin/snippets/reject", data={"snippet_id": snippet_id,
                                                       "csrf": other}).status_code == 403
    assert _snippet_status(site, snippet_id) == "pending"
    bad = client.post("/admin/snippets/approve", data={"snippet_id": "x", "csrf": _csrf(page.text)})
    assert bad.status_code == 422 and "snippet_id" in bad.text


def _figure(page: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', page).group(1).strip()


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "—"


def test_the_rates_are_the_databases(site: Site) -> None:
    truth = expected(site.services.engine)
    threads = truth["threads"].values()
    handed = sum(t["handed_over"] for t in threads)
    answers = [a for t in threads for a in t["answers"]]
    low = sum(not a["sourced"] for a in answers)
    # The site as built; which answers cite a source is the offline model's to say.
    assert (len(threads), handed, len(answers)) == (5, 1, 5) and 1 <= low < len(answers)
    page = TestClient(site.app).get("/admin/rates", headers=BEARER).text
    assert _figure(page, "conversations") == str(len(threads))
    assert _figure(page, "deflection_rate") == _pct(len(threads) - handed, len(threads))
    assert _figure(page, "handover_rate") == _pct(handed, len(threads))
    assert _figure(page, "low_confidence_rate") == _pct(low, len(answers))
    up, down = truth["up"], truth["down"]
    assert _figure(page, "positive_feedback_rate").startswith(_pct(up, up + down))
    assert f"({up} up, {down} down)" in page
    # The chart's point for today (every conversation began today) says the same.
    today = date.today().isoformat()
    deflection = round((len(threads) - handed) / len(threads) * 100, 1)
    assert f"<title>Deflection {today}: {deflection}%</title>" in page


def test_conversations_search_and_transcript(site: Site) -> None:
    client = TestClient(site.app, headers=BEARER)
    listing = client.get("/admin/conversations", params={"q": "WIRE transfer"}).text
    linked = re.findall(r'href="/admin/conversations/(thr_[0-9a-f]+)"', listing)
    assert linked == [site.threads[3]]
    everything = client.get("/admin/conversations").text
    assert set(re.findall(r'href="/admin/conversations/(thr_[0-9a-f]+)"', everything)) == set(
        site.threads)
    truth = expected(site.services.engine)["threads"]
    for show, holds in [
        ("thumbs_down", lambda t: any(a["vote"] == "negative" for a in t["answers"])),
        ("handed_over", lambda t: t["handed_over"]),
        ("low_confidence", lambda t: any(not a["sourced"] for a in t["answers"])),
    ]:
        listing = client.get("/admin/conversations", params={"show": show}).text
        assert set(re.findall(r'href="/admin/conversations/(thr_[0-9a-f]+)"', listing)) == {
            thread_id for thread_id, thread in truth.items() if holds(thread)}, show
    assert client.get("/admin/conversations", params={"show": "some"}).status_code == 422
    transcript = client.get(f"/admin/conversations/{site.threads[1]}").text
    assert "I forgot my password" in transcript and "thumbs down" in transcript
    assert 'href="https://help.example/password"' in transcript
    handed = client.get(f"/admin/conversations/{site.threads[4]}").text
    assert "handed over to a person" in handed and "Assistant (hand-over)" in handed
    assert client.get("/admin/conversations/thr_missing").status_code == 404
    assert client.get("/admin/rates", params={"days": 0}).status_code == 422


def test_sync_and_escalation_pages_show_the_database(site: Site) -> None:
    client = TestClient(site.app, headers=BEARER)
    with site.services.engine.connect() as conn:
        run_id, status = conn.execute(text(
            "SELECT id, status FROM sync_run WHERE connector = 'help' ORDER BY id DESC")).first()
        escalations = conn.execute(text("SELECT thread_id, status FROM escalation")).all()
    sync = client.get("/admin/sync").text
    assert f"#{run_id}" in sync and f'class="status {status}"' in sync
    # A document waiting to be fetched again, as the sync engine records one.
    with Session(site.services.engine) as session:
        session.add(SyncFailure(connector="help", kind="article", external_id="gone",
                                url="javascript:alert(1)", status=503, error="HTTP 503",
                                attempts=2))
        session.commit()
    sync = client.get("/admin/sync").text
    assert "article gone" in sync and "HTTP 503" in sync and "<td>2</td>" in sync
    assert "javascript:" not in sync  # a link only to http(s)
    page = client.get("/admin/escalations").text
    assert [e.thread_id for e in escalations] == [site.threads[4]]
    assert f'href="/admin/conversations/{site.threads[4]}"' in page
    assert f'<span data-status="{escalations[0].status}">1</span>' in page
    assert client.get("/admin/escalations", params={"status": "lost"}).status_code == 422


@pytest.mark.parametrize("input_tokens, shown", [
    (40_000, "Model spend this month: 0.40 of 0.50 EUR"),
    (60_000, "Monthly model budget reached: 0.60 of 0.50 EUR"),
])
def test_the_budget_banner_shows_the_months_spend(input_tokens: int, shown: str) -> None:
    settings = Settings(data_dir=tempfile.mkdtemp(), connectors={},
                        server={"admin_token": ADMIN},
                        agent={"monthly_budget": 0.5, "currency": "EUR", "over_budget": "handover",
                               "prices": {"gpt-test": {"input": 10, "output": 30}}})
    app = create_app(settings)
    services = app.state.services
    services.migrate()
    services.budget.record("gpt-test", input_tokens=input_tokens, output_tokens=0)
    page = TestClient(app).get("/admin", headers=BEARER).text
    banner = re.search(r'<div class="banner[^>]*id="budget-banner">(.*?)</div>', page, re.S)
    assert shown in " ".join(banner.group(1).split())
    assert ("hands conversations over to a person" in page) == (input_tokens == 60_000)
    services.close()


def test_the_cost_page_is_the_recorded_model_usage(site: Site) -> None:
    budget = site.services.budget
    calls = [(site.threads[0], 1200, 300), (site.threads[0], 800, 100), (site.threads[2], 500, 50),
             (None, 4000, 900)]  # the last: a draft note, outside any conversation
    for thread_id, tokens_in, tokens_out in calls:
        budget.record("gpt-4.1-mini", input_tokens=tokens_in, output_tokens=tokens_out,
                      conversation_id=thread_id, workflow="test")
    with site.services.engine.connect() as conn:
        per_thread = dict(conn.execute(text(
            "SELECT conversation_id, SUM(cost) FROM model_usage WHERE conversation_id IS NOT "
            "NULL GROUP BY conversation_id")).all())
        month = conn.execute(text("SELECT SUM(cost), SUM(input_tokens) FROM model_usage")).one()
    client = TestClient(site.app, headers=BEARER)
    page = client.get("/admin/cost").text
    rows = re.findall(r'<tr data-key="(thr_[0-9a-f]+)"><td><a [^>]*>([^<]*)</a>.*?'
                      r"<td data-cost>([0-9.]+)</td>", page, re.S)
    assert [(key, float(cost)) for key, _, cost in rows] == sorted(
        ((k, round(v, 4)) for k, v in per_thread.items()), key=lambda kv: -kv[1])
    assert rows[0][1] == "How do I get a refund for my purchase?"  # its title
    this_month = date.today().strftime("%Y-%m")
    months = re.search(rf'<tr data-key="{this_month}">(.*?)</tr>', page, re.S).group(1)
    assert f"<td>{month[1]}</td>" in months and f"{month[0]:.4f}" in months
    transcript = client.get(f"/admin/conversations/{site.threads[0]}").text
    assert "2 call(s), 2000 input and 400 output tokens" in transcript
