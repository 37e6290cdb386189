"""JSON Lines for the eval and simulation commands: read, a bad line is a ValueError naming the
file and the line, never a bare JSONDecodeError; written, one object a line (benches' inputs).
Standard library only (the CLI kit re-exports it, and quick commands import nothing heavy)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_jsonl(path: Path, what: str | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, blank lines skipped. With `what` ("articles"),
    a file without any is a ValueError: "<path>: no articles"."""
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            records.append(record)
    if what is not None and not records:
        raise ValueError(f"{path}: no {what}")
    return records


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """`records` as a JSON Lines file at `path` (non-ASCII text kept as it is, not escaped)."""
    with Path(path).open("w", encoding="utf-8") as file:
        file.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return path
