"""`deskpilot eval triage`: how well triage would do, trained as production trains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deskpilot.cli import ConfigOption, fail, open_platform

from .settings import TriageSettings

commands = typer.Typer()


@commands.command("triage")
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
    from .evaluation import evaluate_triage

    for path in (train, test):
        if not path.is_file():
            fail(f"{path}: file not found")
    with open_platform(config, migrate=False) as platform:
        if max_missed is None:
            max_missed = platform.settings_for(TriageSettings).triage_max_missed
        try:
            figures = evaluate_triage(train, test, text_field, label_field, abstain_label,
                                      embedder=platform.embedder, max_missed=max_missed)
        except ValueError as exc:  # bad JSON lines or missing fields, named by the reader
            fail(f"cannot evaluate: {exc}".splitlines()[0], code=1)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:<14} {value:.4f}" if isinstance(value, float) else f"{key:<14} {value}")
