from typer.testing import CliRunner

from deskpilot.core.cli import build_app
from deskpilot.knowledge.index import open_index
from deskpilot.knowledge.settings import IndexSettings


def test_index_optimize_runs_and_refuses_a_held_index(tmp_path):
    runner = CliRunner()
    app = build_app()
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["index", "optimize", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "optimized 0 points" in result.output

    held = open_index(IndexSettings(), data_dir, 384)  # as a running server would hold it
    try:
        result = runner.invoke(app, ["index", "optimize", "--data-dir", str(data_dir)])
        assert result.exit_code == 2
        assert "open in another process" in result.output
    finally:
        held.close()
