"""The `deskpilot` command line: the core's commands, and those plugins add
(`register_commands`). `build_app()` puts them together; `main()` runs them."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from deskpilot._errors import ClientError
from deskpilot.core.config import CONFIG_ENV, ConfigError, PluginSettings, Settings, load_settings

if TYPE_CHECKING:
    from deskpilot.core.plugins import PluginHost
    from deskpilot.core.services import Services

HELP = "Deskpilot: a self-hostable AI support agent for your helpdesk."


def _typer(**options: Any) -> typer.Typer:
    # Plain help (rich_markup_mode=None): rich's renderer costs a third of a second per call.
    return typer.Typer(rich_markup_mode=None, **options)


app = _typer()  # the core's top-level commands
config_app = _typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = _typer(help="Manage the database schema.", no_args_is_help=True)
sync_app = _typer(help="Sync knowledge from the connectors.")
eval_app = _typer(help="Measure how well Deskpilot would do.", no_args_is_help=True)
index_app = _typer(help="Maintain the vector index.", no_args_is_help=True)
plugin_app = _typer(help="Start a plugin package of your own.", no_args_is_help=True)
#: Groups plugins may add commands to (`register(app, group=...)`).
GROUPS = {"config": config_app, "db": db_app, "eval": eval_app, "index": index_app}

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: $DESKPILOT_CONFIG).",
                 show_default=False),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where state lives (default: ./.deskpilot).", show_default=False
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command with `error: message` on stderr (exit code 2: the user's to fix)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# What an operator who copied config.example.toml beside them would call it.
LOCAL_CONFIG = Path("deskpilot.toml")


def settings_from(config: Path | None, data_dir: Path | None = None, **overrides: Any) -> Settings:
    if config is None and not os.environ.get(CONFIG_ENV) and LOCAL_CONFIG.is_file():
        # Config is found by name only, never by where the command runs: say so rather than
        # serve the embedded defaults beside a file that looks like the configuration.
        typer.echo(f"note: ./{LOCAL_CONFIG} is not read; pass --config {LOCAL_CONFIG} "
                   f"(or set {CONFIG_ENV}) to use it", err=True)
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))


def services_from(settings: Settings, plugins: PluginHost | None = None) -> Services:
    """Services with the plugins' settings and the configured connectors validated (their
    options are the plugins' own)."""
    from deskpilot.core.services import Services

    try:
        services = Services(settings, plugins)
        services.connectors  # noqa: B018 - building them validates their options
    except ConfigError as exc:
        message = str(exc)
        fail(message if settings.source and message.startswith(str(settings.source))
             else f"{settings.source or 'config'}: {message}")
    return services


@contextmanager
def open_platform(config: Path | None = None, data_dir: Path | None = None, *,
                  migrate: bool = True) -> Iterator[Services]:
    """The platform for one command (`deskpilot.cli.open_platform`): settings loaded and
    checked (a mistake ends the command with one line naming file and key), the embedded
    database upgraded when `migrate` (as `serve` does), everything closed at the end."""
    services = services_from(settings_from(config, data_dir))
    try:
        if migrate and services.settings.database.url is None:
            services.migrate()
        yield services
    finally:
        services.close()


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from config).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Start the server (API, chat, scheduled syncs)."""
    import uvicorn

    from deskpilot.core.app import create_app
    from deskpilot.core.logs import configure_logging

    settings = settings_from(config, data_dir)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    configure_logging(settings.server.log_level, settings.server.log_format)
    services = services_from(settings)
    uvicorn.run(
        create_app(services=services, serving=True),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
    )


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the config and print the effective settings, secrets redacted."""
    settings = settings_from(config)
    services = services_from(settings)
    plugin_settings = [(claim.section, services.settings_for(claim.model))
                       for claim in services.plugins.settings_claims]
    typer.echo(json.dumps(settings.redacted(plugin_settings), indent=2))
    where = settings.source or "defaults and environment"
    typer.echo(f"config OK ({where})", err=True)


@app.command()
def plugins(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    routes: Annotated[bool, typer.Option(
        "--routes", help="Also build the plugins' HTTP routes to list them (loads the web "
        "stack and checks the plugins' settings).")] = False,
) -> None:
    """List plugins: version, status, what each registered, and what was refused."""
    from deskpilot.core.plugins import load_plugins

    settings = settings_from(config)
    host = load_plugins(settings.plugins)  # loading only: no platform to build
    host.commands()
    if routes:
        host.routers(services_from(settings, host))
    rows = host.describe()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for warning in host.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for row in rows:
        hooks = ", ".join(row["hooks"])
        typer.echo(f"{row['name']:<16} {row['version'] or '-':<10} {row['status']:<7} {hooks}")
        for line in _registration_lines(row.get("registered") or {}):
            typer.echo(f"{'':<16} {line}")
        if row["error"]:
            typer.echo(f"{'':<16} error: {row['error']}")
        for problem in row["problems"]:
            typer.echo(f"{'':<16} {problem}")


def _registration_lines(registered: dict[str, Any]) -> list[str]:
    lines = []
    for kind in ("connectors", "embedders", "settings", "ticket_steps", "commands"):
        if registered.get(kind):
            lines.append(f"{kind.replace('_', ' ')}: {', '.join(registered[kind])}")
    if registered.get("tools"):
        lines.append("tools: " + ", ".join(f"{tool['name']} ({tool['audience']})"
                                           for tool in registered["tools"]))
    if isinstance(routes := registered.get("routes"), str):
        lines.append(f"routes: {routes}")
    elif routes:
        lines.append(f"routes: {', '.join(routes)}")
    if registered.get("migrations"):
        lines.append("tables: own migrations")
    return lines


@plugin_app.command("new")
def plugin_new(
    name: Annotated[str, typer.Argument(help="The plugin's name: lowercase, digits, '_'.")],
    kind: Annotated[str, typer.Option(
        "--kind", help="connector (a helpdesk), tool (a customer agent tool) or hooks "
        "(event hooks and settings).")] = "connector",
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to create deskpilot-NAME/.")] = Path("."),
) -> None:
    """Write a plugin package: pyproject.toml with the entry point, the plugin, a test using
    the contract kit, and a README saying how to install Deskpilot for development."""
    from deskpilot.core.plugin_template import TemplateError, write

    try:
        root = write(name, kind, directory)
    except TemplateError as exc:
        fail(str(exc))
    typer.echo(f"wrote {root}")
    typer.echo(f"next: cd {root} && pip install -e '.[test]' && pytest   (README.md: installing "
               "Deskpilot itself from a checkout or a wheel)")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending migrations to the configured database."""
    from deskpilot.core import store

    with open_platform(config, data_dir, migrate=False) as services:
        try:
            services.migrate()
        except Exception as exc:
            fail(f"database upgrade failed: {type(exc).__name__}: {exc}".splitlines()[0],
                 code=1)
        state = store.schema_state(services.engine, services.plugins.migrations)
    typer.echo(f"database at revision {state.pop(store.CORE)[0]}"
               + "".join(f"; {name} at {current}" for name, (current, _) in state.items()))


def _progress_bar(unit: str = "documents") -> Any:
    """A rich progress bar on a terminal, nothing otherwise (logs, CI)."""
    from contextlib import nullcontext

    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn(unit), console=Console(stderr=True), transient=True)


@contextmanager
def _run_report_said_once() -> Iterator[None]:
    """Leaves out the sync's log records of what its run report says (warnings, the error):
    `sync` prints the report itself, and each would be said twice."""
    def not_in_run_report(record: logging.LogRecord) -> bool:
        return not getattr(record, "in_run_report", False)

    sync_log = logging.getLogger("deskpilot.knowledge.sync")
    sync_log.addFilter(not_in_run_report)
    try:
        yield
    finally:
        sync_log.removeFilter(not_in_run_report)


@sync_app.callback(invoke_without_command=True)
def sync(
    ctx: typer.Context,
    connector: Annotated[str | None, typer.Option(help="Only this connector (default: all).")
                         ] = None,
    full: Annotated[bool, typer.Option(help="List everything again instead of resuming.")
                    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Sync now. Runs here, or on the running server when `serve` owns the index."""
    if ctx.invoked_subcommand is not None:
        return
    from deskpilot.core.local_server import ServerError, ServerUnavailable, sync_anywhere

    failed = False
    with open_platform(config, data_dir) as services, _run_report_said_once():
        for name in [connector] if connector else list(services.connectors):
            try:
                with _progress_bar() as bar:
                    task = bar.add_task(f"sync {name}", total=None) if bar else None
                    advance = (lambda n, t=task: bar.advance(t, n)) if bar else None
                    run = sync_anywhere(services, name, full, advance)
            except (ClientError, ServerUnavailable, ServerError) as exc:
                fail(str(exc).strip("'\""), code=1)
            failed |= run["status"] != "succeeded"
            typer.echo(f"{name}: {run['status']} in {run['duration_seconds']} s — "
                       f"{_counts(run)}" + (f" ({run['error']})" if run["error"] else ""))
            for warning in run["warnings"]:
                typer.echo(f"  warning: {warning}")
    if failed:
        raise typer.Exit(1)


@sync_app.command("status")
def sync_status(
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
    limit: Annotated[int, typer.Option(help="Runs per connector.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The last sync runs per connector: counts per kind, duration, status, failures, and the
    documents waiting to be fetched again."""
    from deskpilot.knowledge.runs import failed_documents

    with open_platform(config, data_dir) as services:
        try:
            runs = services.sync_history(connector, limit)
        except ClientError as exc:
            fail(exc.message)
        waiting = failed_documents(services.engine, connector)
    if as_json:
        typer.echo(json.dumps({"runs": runs, "failed_documents": waiting}, indent=2))
        return
    if not runs:
        typer.echo("no sync runs yet")
    for name, rows in sorted(runs.items()):
        typer.echo(name)
        for run in rows:
            duration = run["duration_seconds"]
            typer.echo(f"  #{run['id']:<4} {run['started_at'][:19]}  {run['status']:<11} "
                       f"{duration if duration is not None else '-':>7} s  "
                       + (run["error"] or ""))
            for kind in ("articles", "tickets"):
                if any(run[kind].values()):
                    typer.echo(f"        {kind + ':':<10}{_kind_counts(run[kind])}")
            for warning in run["warnings"]:
                typer.echo(f"        warning: {warning}")
        for failure in rows[0]["failures"][:10]:
            typer.echo(f"        {failure['document']}: {failure['error']}")
        mine = [w for w in waiting if w["connector"] == name]
        if mine:
            typer.echo(f"  failed documents, fetched again with backoff ({len(mine)}):")
        for item in mine[:20]:
            typer.echo(f"        {item['kind']} {item['id']}: {item['error']} (attempt "
                       f"{item['attempts']}, next after {item['next_attempt_at'][:16]})")


def _kind_counts(counts: dict[str, int]) -> str:
    text = (f"indexed {counts['indexed']}, updated {counts['updated']}, deleted "
            f"{counts['deleted']}, unchanged {counts['unchanged']}, failed {counts['failed']}")
    return text + (f", nothing to index {counts['empty']}" if counts["empty"] else "")


def _counts(run: dict[str, Any]) -> str:
    """A run's counts per kind, in one line; totals when it counted no kind (older runs)."""
    parts = [f"{kind} {_kind_counts(run[kind])}" for kind in ("articles", "tickets")
             if any(run[kind].values())]
    totals = [run[key] for key in ("added", "updated", "deleted", "skipped", "failed")]
    if not parts and not any(totals):  # an incremental run the source listed nothing for
        return "no document added, changed or deleted"
    if not parts:
        parts = ["added {}, updated {}, deleted {}, unchanged {}, failed {}".format(*totals)]
    return "; ".join(parts)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many documents.")] = 5,
    audience: Annotated[str, typer.Option(
        help="public: what customers may read; internal: also internal notes.")] = "public",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Search the knowledge the way the agents do."""
    from deskpilot.core.local_server import ServerError, ServerUnavailable, search_anywhere

    if audience not in ("public", "internal"):
        fail(f"--audience must be public or internal, not {audience!r}")
    with open_platform(config, data_dir) as services:
        try:
            passages = search_anywhere(services, query, k, audience)  # type: ignore[arg-type]
        except (ServerUnavailable, ServerError) as exc:
            fail(str(exc), code=1)
    if as_json:
        typer.echo(json.dumps(passages, indent=2))
        return
    if not passages:
        typer.echo("no results")
    for hit in passages:
        where = hit["url"] or f"{hit['source']}/{hit['kind']}/{hit['document_id']}"
        typer.echo(f"{hit['score']:.3f}  {hit['title']}  <{where}>  [{hit['audience']}]")
        snippet = " ".join(hit["text"].split())
        typer.echo(f"       {snippet[:200]}{'…' if len(snippet) > 200 else ''}")


@app.command()
def gaps(
    days: Annotated[int, typer.Option(min=1, max=3650, help="How many days back.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Knowledge gaps: questions answered without a source, thumbed down or handed over, by
    topic, with a suggested article outline from the solved tickets that answered them."""
    from deskpilot.core.gaps import gap_report

    with open_platform(config, data_dir) as services:
        report = gap_report(services, days=days)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    if not report["topics"]:
        typer.echo(f"no knowledge gaps in the last {days} days")
    for topic in report["topics"]:
        reasons = ", ".join(f"{name.replace('_', ' ')} {count}"
                            for name, count in topic["reasons"].items() if count)
        trend = topic["trend"]
        typer.echo(f"{topic['count']:>4}  {topic['title']}  ({reasons}; {trend['direction']}: "
                   f"{trend['earlier']} → {trend['later']})")
        for example in topic["examples"][1:]:
            typer.echo(f"        - {example['question']}")
        sections = topic["outline"]["sections"]
        if sections:
            typer.echo("      suggested article:")
        for section in sections:
            typer.echo(f"        ## {section['heading']}  (from {', '.join(section['tickets'])})")
            for point in section["points"]:
                typer.echo(f"           {point}")


@eval_app.command("retrieval")
def eval_retrieval(
    articles: Annotated[Path, typer.Option(help="Articles JSONL {id, title, body_html}.")],
    queries: Annotated[Path, typer.Option(
        help="Queries JSONL {query, article_id} or {query, article_ids: [...]}.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Cut-off for MRR.")] = 10,
    split: Annotated[str, typer.Option(
        help="all, tuning (first article id even) or held-out (odd).")] = "all",
    method: Annotated[str, typer.Option(
        help="convex (the default search), or dense, sparse, rrf, dbsf.")] = "convex",
    compare: Annotated[str, typer.Option(
        help="Comma-separated methods also scored on the same index, e.g. dense,sparse.")
                       ] = "",
    lexical_weight: Annotated[float | None, typer.Option(
        min=0, help="Fix convex fusion's BM25 weight instead of calibrating it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line, no progress.")
                       ] = False,
    config: ConfigOption = None,
) -> None:
    """Recall@1, recall@5 and MRR@k of the search on a set of articles and questions.

    A question with several answering articles is a hit when any of them is in the top k.
    """
    from deskpilot.knowledge.evaluation import SPLITS, evaluate_retrieval
    from deskpilot.knowledge.index import METHODS, FusionConfig

    for path in (articles, queries):
        if not path.is_file():
            fail(f"{path}: file not found")
    if split not in SPLITS:
        fail(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    others = [name.strip() for name in compare.split(",") if name.strip()]
    for name in [method, *others]:
        if name not in METHODS:
            fail(f"unknown method {name!r}: use one of {', '.join(METHODS)}")
    fusion = FusionConfig(method=method, lexical_weight=lexical_weight)  # type: ignore[arg-type]
    compared = [FusionConfig(method=name) for name in others]  # type: ignore[arg-type]
    services = services_from(settings_from(config))
    try:
        figures = evaluate_retrieval(articles, queries, k=k, embedder=services.embedder,
                                     fusion=fusion, compare=compared,
                                     split=split,  # type: ignore[arg-type]
                                     progress=not as_json)
    except ValueError as exc:  # bad JSON lines or fields, named by the readers
        fail(f"cannot evaluate: {exc}".splitlines()[0], code=1)
    typer.echo(json.dumps(figures))


@eval_app.command("answers")
def eval_answers(
    queries: Annotated[Path, typer.Option(
        help="Questions JSONL {query, article_id} or {query, article_ids: [...]}; "
             "before: [...] asks the customer's earlier messages first.")],
    articles: Annotated[Path | None, typer.Option(
        help="Articles JSONL {id, title, body_html, url?} to answer from.")] = None,
    connector: Annotated[str | None, typer.Option(
        help="Or: answer from this configured connector's knowledge (synced into a temp dir).")
    ] = None,
    oos: Annotated[Path | None, typer.Option(
        help="Out-of-scope questions JSONL {text} or {query}: they should be handed over.")
    ] = None,
    split: Annotated[str, typer.Option(
        help="all, tuning or held-out: the queries' fixed split (eval retrieval's rule).")
    ] = "all",
    rows: Annotated[bool, typer.Option("--rows", help="Also every question's row.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many of each set.")
                     ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON, no progress.")
                       ] = False,
    config: ConfigOption = None,
) -> None:
    """Run the customer agent (the configured provider) over questions: the answered rate, the
    correct-source rate among answered questions and the hand-over rate on out-of-scope ones."""
    import asyncio

    from deskpilot.core.agent.evaluation import evaluate_answers
    from deskpilot.knowledge.evaluation import SPLITS

    if (articles is None) == (connector is None):
        fail("give exactly one of --articles FILE or --connector NAME")
    if split not in SPLITS:
        fail(f"--split: {split!r} is not one of {', '.join(SPLITS)}")
    for path in (queries, articles, oos):
        if path is not None and not path.is_file():
            fail(f"{path}: file not found")
    with _eval_platform(config, connector) as services:
        try:
            figures = asyncio.run(evaluate_answers(
                services, queries, articles_path=articles, connector=connector, oos_path=oos,
                split=split, rows=rows, progress=not as_json, limit=limit))  # type: ignore[arg-type]
        except ValueError as exc:  # bad JSON lines or fields
            fail(f"cannot evaluate: {exc}".splitlines()[0], code=1)
    typer.echo(json.dumps(figures, ensure_ascii=False))


def _scratch(config: Path | None) -> Any:
    """Settings for a throw-away platform in a temp dir: its own SQLite and embedded index."""
    return lambda tmp: settings_from(config, tmp, database={"url": None},
                                     index={"backend": "embedded"})


@contextmanager
def _eval_platform(config: Path | None, connector: str | None) -> Iterator[Services]:
    """A throw-away platform (`_scratch`) for `eval answers` and `eval drafts`; fails when
    `--connector` names no enabled connector."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as tmp:
        # Everything the run writes (database, index) goes to the temp dir, never the live one.
        services = services_from(_scratch(config)(Path(tmp)))
        try:
            if connector is not None and connector not in services.connectors:
                fail(f"--connector: no enabled connector {connector!r} in the config "
                     f"(configured: {', '.join(sorted(services.connectors)) or 'none'})")
            yield services
        finally:
            services.close()


@app.command()
def simulate(
    tickets: Annotated[Path | None, typer.Option(
        help="Solved tickets to replay: JSON Lines, one deskpilot.Ticket a line (README).")
    ] = None,
    connector: Annotated[str | None, typer.Option(
        help="Or: replay this configured connector's solved tickets.")] = None,
    articles: Annotated[Path | None, typer.Option(
        help="Articles JSONL {id, title, body_html, url?} to answer from (default: the "
             "configured connectors' knowledge, synced into a temp dir).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many tickets.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only tickets updated since this date (YYYY-MM-DD).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Where report.json and report.html go (default: "
             "<data_dir>/simulations/<UTC time>).", show_default=False)] = None,
    compare: Annotated[Path | None, typer.Option(
        help="A former run's directory, shown beside this one.")] = None,
    threshold: Annotated[float | None, typer.Option(
        # Written out, not imported: the offline model is too heavy to load for --help (a
        # test keeps the figure equal to simulation.run.DEFAULT_THRESHOLD).
        min=0, help="Confidence the deflection forecast is read at (default: the offline "
                    "model's answer bar, 0.35).", show_default=False)] = None,
    wrong_below: Annotated[float | None, typer.Option(
        min=0, max=1, help="Similarity to the human reply under which an answer counts as "
                           "probably wrong (default 0.5).", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Replay solved past tickets through the customer agent (tools, handoff rules, triage):
    forecast deflection, similarity to the team's replies, triage against the real labels.
    Writes DIR/report.json and DIR/report.html."""
    from deskpilot.core.simulation.commands import UsageError, run_simulation

    try:
        directory, report = run_simulation(
            settings_from(config), _scratch(config), lambda: _progress_bar("tickets"),
            tickets=tickets, connector=connector, articles=articles, limit=limit, since=since,
            out=out, compare=compare, threshold=threshold, wrong_below=wrong_below)
    except UsageError as exc:
        fail(str(exc), code=exc.code)
    summary = report["summary"]
    deflection = summary["deflection"]
    typer.echo(f"{summary['tickets']} tickets: deflection {deflection['rate']} at threshold "
               f"{deflection['threshold']} (estimated wrong answers "
               f"{deflection['wrong_answer_rate']}), triage accuracy "
               f"{summary['triage']['accuracy']}")
    typer.echo(f"wrote {directory / 'report.json'} and {directory / 'report.html'}")


@app.command("test")
def test_suite(
    suite: Annotated[Path, typer.Argument(help="The suite: YAML (README: Conversation tests).")],
    repeat: Annotated[int, typer.Option(
        min=1, help="Run each test K times: it passes only if all K pass (pass^k).")] = 1,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    config: ConfigOption = None,
) -> None:
    """Run scripted customer conversations through the agent with assertions per turn; exit
    code 1 when a test fails (for CI)."""
    from deskpilot.core.simulation.commands import UsageError, run_tests

    try:
        loaded, results = run_tests(_scratch(config), suite, repeat=repeat, junit=junit)
    except UsageError as exc:
        fail(str(exc), code=exc.code)
    for result in results:
        passed = sum(run.passed for run in result.runs)
        typer.echo(f"{'PASS' if result.passed else 'FAIL'}  {result.name}  "
                   f"({passed}/{repeat} runs)")
        for i, run in enumerate(result.runs, 1):
            for failure in run.failures:
                typer.echo(f"        run {i}, {failure}")
    good = sum(result.passed for result in results)
    typer.echo(f"{loaded.name}: {good}/{len(results)} tests passed"
               + (f" in all {repeat} runs (pass^{repeat} {good / len(results):.2f})"
                  if repeat > 1 else ""))
    if good < len(results):
        raise typer.Exit(1)


@eval_app.command("drafts")
def eval_drafts(
    tickets: Annotated[Path, typer.Option(
        help="Tickets JSONL {subject?, description | query, reply, requester?}: reply is what "
             "an agent really sent.")],
    articles: Annotated[Path | None, typer.Option(
        help="Articles JSONL {id, title, body_html, url?} to draft from.")] = None,
    connector: Annotated[str | None, typer.Option(
        help="Or: draft from this configured connector's knowledge (synced into a temp dir).")
    ] = None,
    rows: Annotated[bool, typer.Option(
        "--rows", help="Also every ticket: its draft beside the real reply.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many tickets.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON, no progress.")
                       ] = False,
    config: ConfigOption = None,
) -> None:
    """Draft a reply to every ticket (the configured provider) and compare it with the reply an
    agent really sent: semantic similarity and key sentences covered, as distributions, against
    the top article's first paragraph."""
    from deskpilot.core.agent.evaluation import evaluate_drafts

    if (articles is None) == (connector is None):
        fail("give exactly one of --articles FILE or --connector NAME")
    for path in (tickets, articles):
        if path is not None and not path.is_file():
            fail(f"{path}: file not found")
    with _eval_platform(config, connector) as services:
        try:
            figures = evaluate_drafts(services, tickets, articles_path=articles,
                                      connector=connector, rows=rows, progress=not as_json,
                                      limit=limit)
        except ValueError as exc:  # bad JSON lines or fields, no drafting plugin
            fail(f"cannot evaluate: {exc}".splitlines()[0], code=1)
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False))
        return
    typer.echo(draft_report(figures))


def draft_report(figures: dict[str, Any]) -> str:
    """`eval drafts` for people: the distributions, and with --rows each draft and real reply."""
    lines = [f"{figures['n']} tickets, provider {figures['provider']}, drafts by "
             + ", ".join(f"{k} ({v})" for k, v in figures["generated_by"].items())]
    for measure, label in (("similarity", "similarity to the real reply"),
                           ("key_sentences_covered",
                            f"key sentences covered (top {figures['key_sentences']}, "
                            f"at cosine {figures['covered_at']})")):
        lines.append(f"\n{label}:")
        lines.append(f"  {'':<9}{'mean':>7}{'p10':>7}{'p25':>7}{'median':>8}{'p75':>7}"
                     f"{'p90':>7}   histogram 0.0…1.0")
        for who in ("draft", "baseline"):
            d = figures[measure][who]
            if not d.get("n"):
                lines.append(f"  {who:<9}  (none)")
                continue
            lines.append(f"  {who:<9}{d['mean']:>7.3f}{d['p10']:>7.3f}{d['p25']:>7.3f}"
                         f"{d['median']:>8.3f}{d['p75']:>7.3f}{d['p90']:>7.3f}   "
                         + " ".join(f"{c:>3}" for c in d["histogram"]))
    lines.append(f"\ndraft more similar than the baseline: {figures['draft_more_similar']}"
                 " of tickets (baseline: the top article's first paragraph)")
    for n, row in enumerate(figures.get("rows", []), 1):
        lines += [f"\n#{n}  similarity {row['similarity']:.3f} (baseline "
                  f"{row['baseline_similarity']:.3f})", "ticket:", _indent(row["ticket"]),
                  "draft:", _indent(row["draft"]), "real reply:", _indent(row["reply"])]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


@index_app.command("optimize")
def index_optimize(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Build the embedded index's HNSW graphs and merge its segments.

    Worth it past ~20k chunks (filtered search p95 77 ms → 9 ms at 100k in bench/); takes
    minutes there and holds the CPU, so it is not run inside `serve`: stop the server first.
    """
    import time

    from deskpilot.knowledge.index.errors import IndexLocked

    services = services_from(settings_from(config, data_dir))
    try:
        index = services.index
    except IndexLocked as exc:
        fail(str(exc))
    try:
        if not hasattr(index, "optimize"):
            typer.echo("this index backend optimizes itself; nothing to do")
            return
        started = time.monotonic()
        index.optimize()
        typer.echo(f"optimized {index.count()} points in {time.monotonic() - started:.1f} s")
    finally:
        services.close()


def _argv_config(argv: Sequence[str]) -> str | None:
    """The config file a command line names (`--config X`, `-c X`, `--config=X`), if any."""
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return os.environ.get(CONFIG_ENV)


def _plugin_host(argv: Sequence[str]) -> PluginHost:
    """The plugins whose commands join the command line: those the named config allows (all
    installed ones when the config cannot be read: the command then reports why)."""
    from deskpilot.core.plugins import load_plugins

    try:
        plugin_settings = load_settings(_argv_config(argv)).plugins
    except ConfigError:
        plugin_settings = PluginSettings()
    return load_plugins(plugin_settings)


def build_app(argv: Sequence[str] = ()) -> typer.Typer:
    """The whole command line: the core's commands and groups, and every plugin's."""
    root = _typer(name="deskpilot", help=HELP, no_args_is_help=True,
                  pretty_exceptions_enable=False)
    root.add_typer(app)
    root.add_typer(sync_app, name="sync")
    root.add_typer(plugin_app, name="plugin")
    groups = {name: _typer(help=group.info.help, no_args_is_help=True)
              for name, group in GROUPS.items()}
    for name, group in groups.items():
        group.add_typer(GROUPS[name])
    for commands, group in _plugin_host(argv).commands():
        target = root if group is None else groups.get(group)
        if target is None:
            typer.echo(f"warning: a plugin's commands name no group {group!r}; "
                       f"groups: {', '.join(groups)}", err=True)
            continue
        target.add_typer(commands)
    for name, group in groups.items():
        root.add_typer(group, name=name)
    return root


def main() -> None:
    # What this process and its libraries (the embedded index) create is its owner's only.
    os.umask(0o077)
    try:
        build_app(sys.argv[1:])()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
