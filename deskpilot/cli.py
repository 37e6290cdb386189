"""What a plugin's commands use (hook `register_commands`): the options every command shares,
the platform for a command, the way to end one with an error, and the JSON Lines reader the
`eval` commands share (a bad line is a ValueError naming the file and line).

    import typer
    from deskpilot.cli import ConfigOption, DataDirOption, fail, open_platform

    commands = typer.Typer()

    @commands.command()
    def orders(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
        with open_platform(config, data_dir) as platform:
            ...
"""

from deskpilot.core.cli import ConfigOption, DataDirOption, fail, open_platform
from deskpilot.knowledge.jsonl import read_jsonl

__all__ = ["ConfigOption", "DataDirOption", "fail", "open_platform", "read_jsonl"]
