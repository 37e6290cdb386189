"""What `deskpilot simulate` and `deskpilot test` do (core/cli.py declares their options):
a mistake the user can fix is a `UsageError`, which the CLI prints as one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskpilot.core.config import Settings
    from deskpilot.core.simulation.run import CapturingServices

#: Where report directories go when `--out` is not given (the dashboard lists them there).
SIMULATIONS = "simulations"


class UsageError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def simulations_dir(data_dir: Path) -> Path:
    """`<data_dir>/simulations`: one directory per run, named by its UTC start time."""
    return Path(data_dir) / SIMULATIONS


@contextmanager
def scratch_platform(scratch_settings: Callable[[Path], Settings]) -> Iterator[CapturingServices]:
    """A platform whose data dir, database and embedded index are a temp dir
    (`scratch_settings(tmp)`): nothing the run writes reaches the live ones."""
    import tempfile

    from deskpilot.core.config import ConfigError
    from deskpilot.core.simulation.run import CapturingServices

    with tempfile.TemporaryDirectory(prefix="deskpilot-simulation-") as tmp:
        try:
            services = CapturingServices(scratch_settings(Path(tmp)))
            services.connectors  # noqa: B018 - building them validates their options
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        try:
            yield services
        finally:
            services.close()


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since: {value!r} is not a date (YYYY-MM-DD or an ISO 8601 time)"
                         ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_report(directory: Path) -> dict[str, Any]:
    from deskpilot.core.simulation.report import SCHEMA

    path = directory / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise UsageError(f"--compare: {path}: no report there") from None
    except ValueError as exc:
        raise UsageError(f"--compare: {path}: not JSON ({exc})") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise UsageError(f"--compare: {path}: not a {SCHEMA} report")
    return report


def run_simulation(
    live: Settings, scratch_settings: Callable[[Path], Settings],
    progress_bar: Callable[[], AbstractContextManager[Any]], *,
    tickets: Path | None, connector: str | None, articles: Path | None, limit: int | None,
    since: str | None, out: Path | None, compare: Path | None, threshold: float | None,
    wrong_below: float | None,
) -> tuple[Path, dict[str, Any]]:
    """Replay, write DIR/report.json and DIR/report.html; the directory and the report."""
    import asyncio

    from deskpilot.core.simulation.html import render
    from deskpilot.core.simulation.run import DEFAULT_THRESHOLD, DEFAULT_WRONG_BELOW, simulate

    if (tickets is None) == (connector is None):
        raise UsageError("give exactly one of --tickets FILE or --connector NAME")
    for path in (tickets, articles):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: file not found")
    compared = read_report(compare) if compare is not None else None
    when = parse_since(since)
    configured = live.connectors.get(connector) if connector else None
    if connector is not None and (configured is None or not configured.enabled):
        raise UsageError(f"--connector: no enabled connector {connector!r} in the config "
                         f"(configured: {', '.join(sorted(live.connectors)) or 'none'})")
    directory = out or simulations_dir(live.data_dir) / datetime.now(UTC).strftime(
        "%Y%m%dT%H%M%SZ")
    with scratch_platform(scratch_settings) as services, progress_bar() as bar:
        task = bar.add_task("simulate", total=None) if bar else None

        def progress(done: int, total: int) -> None:
            if bar:
                bar.update(task, completed=done, total=total)

        try:
            report = asyncio.run(simulate(
                services, tickets_path=tickets, connector=connector, articles_path=articles,
                limit=limit, since=when,
                threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                wrong_below=DEFAULT_WRONG_BELOW if wrong_below is None else wrong_below,
                progress=progress))
        except ValueError as exc:  # bad JSON lines or fields
            raise UsageError(f"cannot simulate: {exc}".splitlines()[0], code=1) from None
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False),
                                           encoding="utf-8")
    (directory / "report.html").write_text(
        render(report, compared, str(compare) if compare else ""), encoding="utf-8")
    return directory, report


def run_tests(
    scratch_settings: Callable[[Path], Settings], suite_path: Path, *, repeat: int,
    junit: Path | None,
) -> tuple[Any, list[Any]]:
    """Load the suite, build its knowledge on a scratch platform, run it (each test `repeat`
    times) and write the JUnit XML; the suite and the results."""
    import asyncio

    from deskpilot.core.agent.evaluation import load_articles
    from deskpilot.core.simulation.platform import SimulationServices
    from deskpilot.core.simulation.suite import junit_xml, load_suite, run_suite
    from deskpilot.knowledge.evaluation import build_index

    if not suite_path.is_file():
        raise UsageError(f"{suite_path}: file not found")
    try:
        suite = load_suite(suite_path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if suite.articles is not None and not suite.articles.is_file():
        raise UsageError(f"{suite_path}: articles: {suite.articles}: file not found")
    with scratch_platform(scratch_settings) as base:
        base.migrate()
        try:
            if suite.articles is not None:
                build_index(load_articles(suite.articles), base.embedder, base.index, False)
            else:  # the knowledge the agent answers from in production
                for name in list(base.connectors):
                    base.sync(name)
        except ValueError as exc:
            raise UsageError(f"{suite.articles}: {exc}".splitlines()[0], code=1) from None
        platform = SimulationServices(base.settings, base.plugins)
        platform.share(base, frozenset())
        results = asyncio.run(run_suite(platform, suite, repeat))
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(junit_xml(suite, results, repeat))
    return suite, results
