"""The `deskpilot` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from core.config import ConfigError, Settings, load_settings

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
    typer.Option("--data-dir", help="Where state lives (default: ./.deskpilot).", show_default=False),
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
    from core.services import Services

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

    from core.app import create_app
    from core.logs import configure_logging

    settings = settings_from(config, data_dir)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    configure_logging(settings.server.log_level, settings.server.log_format)
    services = services_from(settings)
    uvicorn.run(
        create_app(services=services),
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
    from core.plugins import load_plugins

    settings = settings_from(config)
    rows = load_plugins(settings.plugins).describe()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        line = f"{row['name']:<14} {row['version'] or '-':<10} {row['status']:<7} {', '.join(row['hooks'])}"
        typer.echo(line)
        if row["error"]:
            typer.echo(f"{'':<14} error: {row['error']}")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending migrations to the configured database."""
    from core import store

    settings = settings_from(config, data_dir)
    engine = store.make_engine(settings.database_url)
    try:
        store.upgrade(engine)
    except Exception as exc:
        fail(f"database upgrade failed: {type(exc).__name__}: {exc}".splitlines()[0], code=1)
    typer.echo(f"database at revision {store.current_revision(engine)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
