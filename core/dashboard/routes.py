"""The dashboard's pages under `/admin` (HTML; not part of the JSON API's schema)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from deskpilot._dashboard import DashboardPage
from deskpilot._errors import ClientError
from deskpilot.core.dashboard.auth import (
    CSRF_FIELD,
    LoginRequired,
    Operator,
    check_login_csrf,
    end_session,
    matching_key,
    require_operator,
    set_login_csrf,
    start_session,
)
from deskpilot.core.dashboard.charts import Series, bar_chart, rate_chart
from deskpilot.core.dashboard.figures import rates

if TYPE_CHECKING:
    from deskpilot.core.services import Services

HERE = Path(__file__).parent
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                         autoescape=True, undefined=jinja2.StrictUndefined)
#: The dashboard's own pages (nav order); plugin pages follow.
PAGES = {"": "Overview", "sync": "Sync", "conversations": "Conversations", "rates": "Rates",
         "gaps": "Knowledge gaps", "simulations": "Simulations", "cost": "Cost"}
# No script at all; styles and images from this server only; never framed.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# A simulation's report.html is self-contained: its own inline stylesheet, still no script.
REPORT_HEADERS = {**HEADERS, "Content-Security-Policy": "default-src 'none'; "
                  "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
                  "base-uri 'none'; form-action 'none'"}
Days = Annotated[int, Query(ge=1, le=365, description="how many days back")]
CONVERSATIONS = 200  # listed at most, newest first
OperatorDep = Annotated[Operator, Depends(require_operator)]
RATE_SERIES = (("deflection_rate", "Deflection", "#1b6e3a"),
               ("handover_rate", "Hand-over", "#b3261e"),
               ("positive_feedback_rate", "Positive feedback", "#1f4fa3"),
               ("low_confidence_rate", "Low-confidence answers", "#8a5a00"))


def _page(status: int, body: str) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


class Dashboard:
    def __init__(self, services: Services, plugin_pages: list[DashboardPage]) -> None:
        self.services = services
        self.plugin_pages = {p.name: p for p in plugin_pages if p.name not in PAGES}
        self._templates: dict[str, jinja2.Template] = {}
        self.nav = [*PAGES.items(), *((p.name, p.title) for p in self.plugin_pages.values())]

    def template(self, page: DashboardPage) -> jinja2.Template:
        if page.name not in self._templates:  # a plugin's file, in the dashboard's environment
            self._templates[page.name] = ENV.from_string(page.template.read_text("utf-8"))
        return self._templates[page.name]

    async def render(self, operator: Operator | None, template: str | jinja2.Template,
                     current: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        def csrf_field() -> Markup:
            token = operator.csrf_token if operator else ""
            return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)

        # The month's model spend against `[agent] monthly_budget` (a banner when one is set).
        banner = (await self.services.run_blocking(self.services.budget_status)
                  if operator is not None else None)
        page = template if isinstance(template, jinja2.Template) else ENV.get_template(template)
        return _page(status_code, page.render(nav=self.nav if operator else [], current=current,
                                         csrf_field=csrf_field, budget=banner,
                                         signed_in=operator is not None
                                         and operator.nonce is not None, **context))


def router(services: Services) -> APIRouter:
    dashboard = Dashboard(services, services.plugins.dashboard_pages())
    routes = APIRouter(prefix="/admin", tags=["dashboard"], include_in_schema=False)

    async def form(request: Request, operator: Operator) -> dict[str, str]:
        data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        operator.check_csrf(data.get(CSRF_FIELD))
        return data

    @routes.get("/dashboard.css")
    async def stylesheet() -> FileResponse:
        return FileResponse(HERE / "dashboard.css", media_type="text/css",
                            headers={"Cache-Control": "public, max-age=300"})

    @routes.get("/favicon.svg")
    async def favicon() -> FileResponse:
        return FileResponse(HERE / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @routes.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        return _login_form(request, 200)

    @routes.post("/login")
    async def login(request: Request) -> Response:
        data = await request.form()
        check_login_csrf(request, data.get(CSRF_FIELD))
        given = data.get("token")
        key = matching_key(request, given.strip()) if isinstance(given, str) else None
        if key is None:
            return _login_form(request, 401, "That is not the admin token.")
        response = RedirectResponse("/admin", status_code=303)
        start_session(response, request, key)
        return response

    @routes.post("/logout")
    async def logout(request: Request, operator: OperatorDep) -> Response:
        await form(request, operator)
        response = RedirectResponse("/admin/login", status_code=303)
        end_session(response)
        return response

    @routes.get("")
    async def overview(operator: OperatorDep) -> HTMLResponse:
        from deskpilot.knowledge.runs import failed_documents, recent_runs

        figures = await services.run_blocking(rates, services.engine, 30)
        runs = await services.run_blocking(recent_runs, services.engine, None, 1)
        waiting = await services.run_blocking(failed_documents, services.engine)
        return await dashboard.render(operator, "overview.html", "", figures=figures,
                                      chart=_chart(figures), runs=runs, waiting=len(waiting))

    @routes.get("/sync")
    async def sync(operator: OperatorDep) -> HTMLResponse:
        from deskpilot.knowledge.runs import failed_documents, recent_runs

        runs = await services.run_blocking(recent_runs, services.engine, None, 20)
        waiting = await services.run_blocking(failed_documents, services.engine)
        connectors = sorted(set(runs) | set(services.settings.connectors))
        return await dashboard.render(operator, "sync.html", "sync", runs=runs,
                                      waiting=waiting, connectors=connectors)

    @routes.get("/conversations")
    async def conversations(
        operator: OperatorDep,
        q: Annotated[str | None, Query(max_length=200, description="words to find")] = None,
        days: Days = 30,
        show: Annotated[Literal["all", "thumbs_down", "handed_over", "low_confidence"],
                        Query(description="only these conversations")] = "all",
    ) -> HTMLResponse:
        from datetime import datetime, timedelta

        from deskpilot.core.conversations import Conversation, load_conversations

        wanted = {
            "all": lambda c: True,
            "thumbs_down": lambda c: c.feedback("negative") > 0,
            "handed_over": lambda c: c.handed_over,
            "low_confidence": lambda c: any(t.low_confidence for t in c.turns),
        }[show]

        def find() -> list[Conversation]:
            found = load_conversations(services.engine,
                                       since=datetime.now() - timedelta(days=days),
                                       search=(q or "").strip(),
                                       limit=CONVERSATIONS if show == "all" else None)
            return [c for c in found if wanted(c)][:CONVERSATIONS]

        return await dashboard.render(operator, "conversations.html", "conversations",
                                      conversations=await services.run_blocking(find),
                                      q=q or "", days=days, show=show)

    @routes.get("/conversations/{thread_id}")
    async def conversation(operator: OperatorDep, thread_id: str) -> HTMLResponse:
        from deskpilot.core.conversations import load_conversations, transcript

        found = await services.run_blocking(
            lambda: load_conversations(services.engine, thread_id=thread_id))
        if not found:
            raise ClientError(404, f"no conversation {thread_id}")
        messages = await services.run_blocking(transcript, services.engine, thread_id)
        usage = await services.run_blocking(services.budget.conversation, thread_id)
        return await dashboard.render(operator, "transcript.html", "conversations",
                                      conversation=found[0], messages=messages, usage=usage,
                                      currency=services.settings.agent.currency)

    @routes.get("/cost")
    async def cost(operator: OperatorDep, days: Days = 30) -> HTMLResponse:
        from datetime import timedelta

        from deskpilot._time import utcnow
        from deskpilot.core.conversations import titles

        budget = services.budget
        by_day = await services.run_blocking(budget.by_day, days)
        months = await services.run_blocking(budget.by_month, 12)
        costliest = await services.run_blocking(budget.by_conversation, 20)
        names = await services.run_blocking(titles, services.engine, [u.key for u in costliest])
        # Every day of the window on the chart, the days without a call at 0.
        spent = {u.key: u.cost for u in by_day}
        first = utcnow().date() - timedelta(days=days - 1)
        labels = [(first + timedelta(days=n)).isoformat() for n in range(days)]
        currency = services.settings.agent.currency
        chart = bar_chart(f"Estimated model cost per day (UTC), last {days} days",
                          labels, [spent.get(d, 0.0) for d in labels], currency)
        return await dashboard.render(operator, "cost.html", "cost", by_day=by_day,
                                      months=months, costliest=costliest, titles=names,
                                      chart=chart, days=days, currency=currency,
                                      priced=sorted(services.settings.agent.prices))

    @routes.get("/rates")
    async def rate_page(operator: OperatorDep, days: Days = 30) -> HTMLResponse:
        figures = await services.run_blocking(rates, services.engine, days)
        return await dashboard.render(operator, "rates.html", "rates", figures=figures,
                                      chart=_chart(figures), days=days)

    @routes.get("/gaps")
    async def gaps(operator: OperatorDep, days: Days = 30) -> HTMLResponse:
        from deskpilot.core.gaps import gap_report

        report = await services.run_blocking(lambda: gap_report(services, days=days), cpu=True)
        return await dashboard.render(operator, "gaps.html", "gaps", report=report, days=days)

    def simulation_reports() -> list[tuple[str, dict[str, Any]]]:
        from deskpilot.core.simulation.commands import simulations_dir
        from deskpilot.core.simulation.report import saved_reports

        return saved_reports(simulations_dir(services.settings.data_dir))

    @routes.get("/simulations")
    async def simulations(operator: OperatorDep) -> HTMLResponse:
        reports = await services.run_blocking(simulation_reports)
        return await dashboard.render(operator, "simulations.html", "simulations",
                                      reports=reports)

    async def report_folder(name: str) -> Path:
        from deskpilot.core.simulation.commands import simulations_dir
        from deskpilot.core.simulation.report import saved_report

        # Only a report's folder: a name is never a path of its own.
        folder = simulations_dir(services.settings.data_dir)
        if await services.run_blocking(saved_report, folder, name) is None:
            raise ClientError(404, f"no simulation report {name!r}")
        return folder / name

    @routes.get("/simulations/{name}/report.html")
    async def simulation_html(operator: OperatorDep, name: str) -> Response:
        path = await report_folder(name) / "report.html"
        if not path.is_file():
            raise ClientError(404, f"simulation {name} has no report.html")
        return FileResponse(path, media_type="text/html", headers=REPORT_HEADERS)

    @routes.get("/simulations/{name}/report.json")
    async def simulation_json(operator: OperatorDep, name: str) -> Response:
        return FileResponse(await report_folder(name) / "report.json",
                            media_type="application/json", headers=HEADERS)

    async def plugin_page(operator: Operator, page: DashboardPage, query: Mapping[str, str],
                          status_code: int = 200, **extra: Any) -> HTMLResponse:
        context = await services.run_blocking(page.context, services, query)
        return await dashboard.render(operator, dashboard.template(page), page.name,
                                      status_code=status_code, page=page,
                                      **{**context, **extra})

    def add_plugin_page(page: DashboardPage) -> None:
        @routes.get(f"/{page.name}", name=f"dashboard_{page.name}")
        async def show(request: Request, operator: OperatorDep) -> HTMLResponse:
            return await plugin_page(operator, page, dict(request.query_params))

        @routes.post(f"/{page.name}/{{action}}", name=f"dashboard_{page.name}_action")
        async def act(request: Request, operator: OperatorDep, action: str) -> HTMLResponse:
            data = await form(request, operator)
            run = page.actions.get(action)
            if run is None:
                raise ClientError(404, f"page {page.name} has no action {action!r}")
            try:
                notice = await services.run_blocking(run, services, data, cpu=True)
            except ClientError as exc:
                return await plugin_page(operator, page, {}, status_code=exc.status_code,
                                         error=exc.message)
            return await plugin_page(operator, page, {}, notice=notice)

    for page in dashboard.plugin_pages.values():
        add_plugin_page(page)
    return routes


def _chart(figures: dict[str, Any]) -> Markup:
    days = [row["day"] for row in figures["per_day"]]
    return rate_chart(f"Rates per day, last {figures['days']} days", days, [
        Series(label, [row[key] for row in figures["per_day"]], colour)
        for key, label, colour in RATE_SERIES])


def _login_form(request: Request, status_code: int, error: str | None = None) -> HTMLResponse:
    """The sign-in form, with a fresh login CSRF token in a hidden field and in its cookie."""
    token = secrets.token_urlsafe(18)

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)

    response = _page(status_code, ENV.get_template("login.html").render(
        nav=[], current="login", csrf_field=csrf_field, budget=None, signed_in=False,
        error=error))
    set_login_csrf(response, request, token)
    return response


async def login_page(request: Request, exc: Exception) -> Response:
    """LoginRequired: the login form for a page, 401 and the message for anything else."""
    assert isinstance(exc, LoginRequired)
    if request.method == "GET":
        return _login_form(request, 401,
                           None if "authorization" not in request.headers else exc.message)
    return _page(401, f"<!doctype html><title>401</title><p>{escape(exc.message)}</p>")

