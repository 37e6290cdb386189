"""The `deskpilot` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from deskpilot.core.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="deskpilot",
    help="Deskpilot: a self-hostable AI support agent for your helpdesk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

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


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, data_dir: Path | None = None, **overrides: Any) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def services_from(settings: Settings) -> Any:
    """Services with the configured connectors validated (their options are the plugins' own)."""
    from deskpilot.core.services import Services

    services = Services(settings)
    try:
        services.connectors  # noqa: B018 - building them validates their options
    except ConfigError as exc:
        fail(f"{settings.source or 'config'}: {exc}")
    return services


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
    services_from(settings)
    typer.echo(json.dumps(settings.redacted(), indent=2))
    where = settings.source or "defaults and environment"
    typer.echo(f"config OK ({where})", err=True)


@app.command()
def plugins(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List plugins with their version, hooks and load errors."""
    from deskpilot.core.plugins import load_plugins

    settings = settings_from(config)
    rows = load_plugins(settings.plugins).describe()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        hooks = ", ".join(row["hooks"])
        typer.echo(f"{row['name']:<14} {row['version'] or '-':<10} {row['status']:<7} {hooks}")
        if row["error"]:
            typer.echo(f"{'':<14} error: {row['error']}")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending migrations to the configured database."""
    from deskpilot.core import store

    settings = settings_from(config, data_dir)
    engine = store.make_engine(settings.database_url)
    try:
        store.upgrade(engine)
    except Exception as exc:
        fail(f"database upgrade failed: {type(exc).__name__}: {exc}".splitlines()[0], code=1)
    typer.echo(f"database at revision {store.current_revision(engine)}")


sync_app = typer.Typer(help="Sync knowledge from the connectors.")
eval_app = typer.Typer(help="Measure how well Deskpilot would do.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")
app.add_typer(eval_app, name="eval")
index_app = typer.Typer(help="Maintain the vector index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _migrated(settings: Settings) -> Any:
    services = services_from(settings)
    if settings.database.url is None:  # the embedded SQLite upgrades itself, as in serve
        services.migrate()
    return services


def _progress_bar() -> Any:
    """A rich progress bar on a terminal, nothing otherwise (logs, CI)."""
    from contextlib import nullcontext

    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("documents"), console=Console(stderr=True), transient=True)


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
    from deskpilot.knowledge.locks import SyncLocked
    from deskpilot.knowledge.sync import UnknownConnector

    services = _migrated(settings_from(config, data_dir))
    failed = False
    try:
        for name in [connector] if connector else list(services.connectors):
            with _progress_bar() as bar:
                task = bar.add_task(f"sync {name}", total=None) if bar else None
                advance = (lambda n, t=task: bar.advance(t, n)) if bar else None
                run = sync_anywhere(services, name, full, advance)
            failed |= run["status"] != "succeeded"
            typer.echo(
                f"{name}: {run['status']} in {run['duration_seconds']} s — added {run['added']}, "
                f"updated {run['updated']}, deleted {run['deleted']}, unchanged {run['skipped']}, "
                f"failed {run['failed']}" + (f" ({run['error']})" if run["error"] else "")
            )
    except (UnknownConnector, SyncLocked, ServerUnavailable, ServerError) as exc:
        fail(str(exc).strip("'\""), code=1)
    finally:
        services.close()
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
    """The last sync runs per connector: counts, duration, status, failures."""
    from deskpilot.knowledge.sync import recent_runs

    services = _migrated(settings_from(config, data_dir))
    try:
        runs = recent_runs(services.engine, connector, limit)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        typer.echo("no sync runs yet")
    for name, rows in sorted(runs.items()):
        typer.echo(name)
        for run in rows:
            typer.echo(
                f"  #{run['id']:<4} {run['started_at'][:19]}  {run['status']:<9} "
                f"{run['duration_seconds'] if run['duration_seconds'] is not None else '-':>7} s  "
                f"+{run['added']} ~{run['updated']} -{run['deleted']} ={run['skipped']} "
                f"!{run['failed']}" + (f"  {run['error']}" if run["error"] else "")
            )
        for failure in rows[0]["failures"][:10]:
            typer.echo(f"        {failure['document']}: {failure['error']}")


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
    services = _migrated(settings_from(config, data_dir))
    try:
        passages = search_anywhere(services, query, k, audience)  # type: ignore[arg-type]
    except (ServerUnavailable, ServerError) as exc:
        fail(str(exc), code=1)
    finally:
        services.close()
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


@eval_app.command("retrieval")
def eval_retrieval(
    articles: Annotated[Path, typer.Option(help="Articles JSONL {id, title, body_html}.")],
    queries: Annotated[Path, typer.Option(help="Queries JSONL {query, article_id}.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Cut-off for MRR.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line, no progress.")
                       ] = False,
    config: ConfigOption = None,
) -> None:
    """Recall@1, recall@5 and MRR@k of the search on a set of articles and questions."""
    from deskpilot.knowledge.evaluation import evaluate_retrieval

    for path in (articles, queries):
        if not path.is_file():
            fail(f"{path}: file not found")
    services = services_from(settings_from(config))
    try:
        figures = evaluate_retrieval(articles, queries, k=k, embedder=services.embedder,
                                     progress=not as_json)
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON lines or fields
        fail(f"cannot evaluate: {type(exc).__name__}: {exc}".splitlines()[0], code=1)
    typer.echo(json.dumps(figures))


@eval_app.command("triage")
def eval_triage(
    train: Annotated[Path, typer.Option(help="Labelled past tickets, JSONL.")],
    test: Annotated[Path, typer.Option(help="Tickets to predict, JSONL.")],
    text_field: Annotated[str, typer.Option(help="Field holding the ticket text.")] = "text",
    label_field: Annotated[str | None, typer.Option(
        help="Field holding the label (default: the one field besides the text).")] = None,
    abstain_label: Annotated[str | None, typer.Option(
        help="Score an abstention as this label (e.g. the test set's out-of-scope label).")
    ] = None,
    max_missed: Annotated[float | None, typer.Option(
        help="Abstention budget (default: automation.triage_max_missed from the config).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
    config: ConfigOption = None,
) -> None:
    """Train triage on TRAIN as it learns from past tickets, predict TEST: accuracy, macro F1
    and abstain rate. Progress goes to stderr."""
    from deskpilot.plugins.triage_eval import evaluate_triage

    for path in (train, test):
        if not path.is_file():
            fail(f"{path}: file not found")
    settings = settings_from(config)
    services = services_from(settings)
    if max_missed is None:
        max_missed = settings.automation.triage_max_missed
    try:
        figures = evaluate_triage(train, test, text_field, label_field, abstain_label,
                                  embedder=services.embedder, max_missed=max_missed)
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON lines or missing fields
        fail(f"cannot evaluate: {type(exc).__name__}: {exc}".splitlines()[0], code=1)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:<14} {value:.4f}" if isinstance(value, float) else f"{key:<14} {value}")


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


@app.command()
def escalations(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    status: Annotated[str | None, typer.Option(
        help="Only these: pending, delivered or failed.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List conversations handed to a person, newest first, and whether the helpdesk has them."""
    from deskpilot.plugins.escalation_outbox import EscalationOutbox, to_json
    from deskpilot.plugins.escalation_table import EscalationStatus

    if status is not None and status not in set(EscalationStatus):
        fail(f"--status must be one of: {', '.join(EscalationStatus)}")
    services = _migrated(settings_from(config, data_dir))
    rows = [to_json(r) for r in EscalationOutbox(services).list(
        EscalationStatus(status) if status else None)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = row["ticket_ref"] or row["last_error"] or ""
        typer.echo(f"{row['created_at'][:19]}  {row['status']:<9} {row['attempts']:>2}x  "
                   f"{row['connector'] or '-':<10} {row['thread_id']}  {where}")
    if not rows:
        typer.echo("no escalations", err=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
