"""`deskpilot snippets list|show|approve|reject`: review answer snippets from solved tickets."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

import deskpilot
from deskpilot.cli import ConfigOption, DataDirOption, fail, open_platform

commands = typer.Typer()
snippets = typer.Typer(help="Review answer snippets: how solved tickets reach customers.",
                       no_args_is_help=True)
commands.add_typer(snippets, name="snippets")

IdArgument = Annotated[int, typer.Argument(help="The snippet's id (see `deskpilot snippets list`).",
                                           show_default=False)]
ByOption = Annotated[str | None, typer.Option(
    help="Who reviewed it (default: your user name).", show_default=False)]


def _reviewer(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return "cli"


def _show(data: dict[str, Any]) -> None:
    typer.echo(f"#{data['id']}  {data['status']}  (phrased by {data['phrased_by']}; "
               f"{'public' if data['published'] else 'not public'})")
    typer.echo(f"Q: {data['question']}\nA: {data['answer']}")
    for source in data.get("sources", []):
        typer.echo(f"  from {source['connector']}:{source['ticket_id']}: {source['answer']}")


def _publish(platform: Any) -> str:
    from .queue import SnippetQueue

    try:
        SnippetQueue(platform).publish()
    except deskpilot.ClientError as exc:
        if exc.status_code != 503:
            raise
        return "the running server updates the public index within seconds"
    return "the public index is up to date"


@snippets.command("list")
def list_(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    status: Annotated[str | None, typer.Option(
        help="Only these: pending, approved or rejected.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List answer snippets, oldest first; pending ones wait for your review."""
    from .queue import SnippetQueue, to_json
    from .tables import SnippetStatus

    if status is not None and status not in set(SnippetStatus):
        fail(f"--status must be one of: {', '.join(SnippetStatus)}")
    with open_platform(config, data_dir) as platform:
        rows = [to_json(s) for s in SnippetQueue(platform).list(
            SnippetStatus(status) if status else None)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"#{row['id']:<5} {row['status']:<9} {len(row['tickets']):>2} ticket(s)  "
                   f"{row['question']}")
    if not rows:
        typer.echo("no answer snippets", err=True)


@snippets.command()
def show(
    snippet_id: IdArgument,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a snippet and the (redacted) resolution of each solved ticket it came from."""
    from .queue import SnippetQueue, to_json

    with open_platform(config, data_dir) as platform:
        try:
            data = to_json(SnippetQueue(platform).get(snippet_id), full=True)
        except deskpilot.ClientError as exc:
            fail(exc.message)
    typer.echo(json.dumps(data, indent=2)) if as_json else _show(data)


@snippets.command()
def approve(
    snippet_id: IdArgument,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    by: ByOption = None,
    question: Annotated[str | None, typer.Option(
        help="Approve with this question instead.", show_default=False)] = None,
    answer: Annotated[str | None, typer.Option(
        help="Approve with this answer instead.", show_default=False)] = None,
) -> None:
    """Approve a snippet: the customer agent may answer from it."""
    from .queue import SnippetQueue

    with open_platform(config, data_dir) as platform:
        try:
            SnippetQueue(platform).approve(snippet_id, _reviewer(by), question, answer)
        except deskpilot.ClientError as exc:
            fail(exc.message)
        typer.echo(f"approved #{snippet_id}; {_publish(platform)}")


@snippets.command()
def reject(
    snippet_id: IdArgument,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    by: ByOption = None,
) -> None:
    """Reject a snippet: never public (withdrawn if it was)."""
    from .queue import SnippetQueue

    with open_platform(config, data_dir) as platform:
        try:
            SnippetQueue(platform).reject(snippet_id, _reviewer(by))
        except deskpilot.ClientError as exc:
            fail(exc.message)
        typer.echo(f"rejected #{snippet_id}; {_publish(platform)}")
