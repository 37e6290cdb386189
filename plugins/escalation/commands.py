"""`deskpilot escalations`: conversations handed to a person, and whether the helpdesk has them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from deskpilot.cli import ConfigOption, DataDirOption, fail, open_platform

commands = typer.Typer()


@commands.command()
def escalations(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    status: Annotated[str | None, typer.Option(
        help="Only these: pending, delivered or failed.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List conversations handed to a person, newest first, and whether the helpdesk has them."""
    from .outbox import EscalationOutbox, to_json
    from .tables import EscalationStatus

    if status is not None and status not in set(EscalationStatus):
        fail(f"--status must be one of: {', '.join(EscalationStatus)}")
    with open_platform(config, data_dir) as platform:
        rows = [to_json(r) for r in EscalationOutbox(platform).list(
            EscalationStatus(status) if status else None)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = row["ticket_ref"] or row["last_error"] or ""
        typer.echo(f"{row['created_at'][:19]}  {row['status']:<9} {row['attempts']:>2}x  "
                   f"{row['connector'] or '-':<10} {row['thread_id']}  {where}  "
                   f"answering: {row['owner']}")
    if not rows:
        typer.echo("no escalations", err=True)
