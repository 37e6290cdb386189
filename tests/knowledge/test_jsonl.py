"""JSON Lines written for the benches read back as they were, text unescaped."""

from __future__ import annotations

from pathlib import Path

from deskpilot.knowledge.jsonl import read_jsonl, write_jsonl


def test_written_records_read_back_one_per_line(tmp_path: Path) -> None:
    records = [{"id": "a-1", "title": "Passwort zurücksetzen"}, {"id": 2, "tags": ["x", "y"]}]

    path = write_jsonl(tmp_path / "out.jsonl", records)

    assert read_jsonl(path) == records
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "zurücksetzen" in lines[0]  # not "zur\u00fccksetzen"
