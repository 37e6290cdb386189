"""Saved simulation reports as the dashboard reads them: a report is parsed once per version of
its file, a rewritten one is read again, and one run is found without reading the others."""

from __future__ import annotations

import json
import os
from pathlib import Path

from deskpilot.core.simulation.report import SCHEMA, saved_report, saved_reports


def _write(folder: Path, created_at: str, tickets: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    path.write_text(json.dumps({"schema": SCHEMA, "created_at": created_at,
                                "summary": {"tickets": tickets}, "rows": []}))
    return path


def test_a_rewritten_report_is_read_again(tmp_path: Path) -> None:
    first = _write(tmp_path / "run-a", "2026-12-01T10:00:00+00:00", 3)
    _write(tmp_path / "run-b", "2026-12-02T10:00:00+00:00", 5)
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{not json")
    assert [(name, r["summary"]["tickets"]) for name, r in saved_reports(tmp_path)] == [
        ("run-b", 5), ("run-a", 3)]
    _write(tmp_path / "run-a", "2026-12-01T10:00:00+00:00", 30)
    stat = first.stat()  # the same second on a coarse clock: the size still differs
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert saved_report(tmp_path, "run-a")["summary"]["tickets"] == 30
    assert dict(saved_reports(tmp_path))["run-a"]["summary"]["tickets"] == 30


def test_only_a_run_folder_by_name_is_a_report(tmp_path: Path) -> None:
    reports = tmp_path / "simulations"
    _write(reports / "run-a", "2026-12-01T10:00:00+00:00", 3)
    _write(tmp_path / "outside", "2026-12-01T10:00:00+00:00", 1)
    assert saved_report(reports, "run-a") is not None
    for name in ("", ".", "..", "../outside", "run-a/../run-a", "missing"):
        assert saved_report(reports, name) is None, name
