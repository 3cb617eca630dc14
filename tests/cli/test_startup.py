"""`kalshi --help` stays light: heavy libraries load only in the commands that use them.

The root's help lists the commands from the summaries in `cli/main.py` (`COMMANDS`) without importing the
command modules; these tests keep that list true to the modules and the help free of everything else.
"""

import inspect
import subprocess
import sys

import typer
import typer.main
from typer.testing import CliRunner

from kalshi_trading.cli import main

HEAVY = ("requests", "cryptography", "numpy", "scipy", "websockets", "sqlite3", "kalshi_trading.api.client",
         "kalshi_trading.sim.engine", "kalshi_trading.trading.executor",
         # no longer imported for the root's help since commands are registered lazily:
         "json", "kalshi_trading.errors", "kalshi_trading.money", "kalshi_trading.ids", "kalshi_trading.cli.render",
         "kalshi_trading.cli.views", "kalshi_trading.cli.parsing", "kalshi_trading.cli.ranges",
         "kalshi_trading.cli.menu", "kalshi_trading.cli.sim_commands", "kalshi_trading.cli.commands_basic",
         "kalshi_trading.cli.commands_market", "kalshi_trading.cli.commands_orders",
         "kalshi_trading.cli.commands_portfolio", "kalshi_trading.cli.commands_watch",
         "kalshi_trading.cli.commands_auto", "kalshi_trading.cli.commands_demo")
# what the root's help may import of the project itself
OWN = {"kalshi_trading", "kalshi_trading.__main__", "kalshi_trading.cli", "kalshi_trading.cli.main"}


def _modules_after(*argv: str) -> list[str]:
    code = ("import sys, runpy; sys.argv = ['kalshi', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('kalshi_trading', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(repr(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's repr of a list of str


def test_help_imports_nothing_heavy():
    loaded = _modules_after("--help")
    assert sorted(m for m in HEAVY if m in loaded) == []
    assert {m for m in loaded if m.startswith("kalshi_trading")} <= OWN


def test_no_arguments_shows_the_same_light_help():
    loaded = _modules_after()
    assert {m for m in loaded if m.startswith("kalshi_trading")} <= OWN


def test_the_check_sees_a_command_module_when_one_is_used():
    """The checks above can fail: a command's own help imports its module."""
    loaded = _modules_after("balance", "--help")
    assert "kalshi_trading.cli.commands_basic" in loaded
    assert "kalshi_trading.cli.commands_orders" not in loaded  # only the module that owns the command


def _registered() -> dict[str, tuple[str, typer.main.TyperGroup | typer.core.TyperCommand]]:
    """Every root command as its module registers it: name -> (module, click command)."""
    found = {}
    for module in main.MODULES:
        for name, command in main._build_module(module).items():
            assert name not in found, f"{name} registered by {found[name][0]} and {module}"
            found[name] = (module, command)
    return found


def test_listed_commands_are_exactly_the_registered_ones():
    listed = {entry.name: entry.module for entry in main.COMMANDS}
    assert len(listed) == len(main.COMMANDS), "a name listed twice"
    assert listed == {name: module for name, (module, _) in _registered().items()}


def test_listed_summaries_are_what_the_commands_say():
    """The help shows each command's first help paragraph; the listing must show the same one."""
    registered = _registered()
    for entry in main.COMMANDS:
        command = registered[entry.name][1]
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert entry.summary == first, entry.name
        assert not command.hidden and not command.deprecated, entry.name  # the stand-in is neither
        assert not getattr(command, "rich_help_panel", None), entry.name  # nor in another panel (as Typer reads it)


def test_help_lists_every_command_in_order_with_its_summary():
    out = CliRunner().invoke(main.app, ["--help"], env={"NO_COLOR": "1", "COLUMNS": "400"})
    assert out.exit_code == 0
    lines = [line.strip("│ ") for line in out.output.splitlines()]
    rows = [line for line in lines if line.split(" ", 1)[0] in {entry.name for entry in main.COMMANDS}]
    assert [row.split(" ", 1)[0] for row in rows] == [entry.name for entry in main.COMMANDS]
    for row, entry in zip(rows, main.COMMANDS, strict=True):
        assert row.split(" ", 1)[1].strip() == entry.summary


def test_a_listed_command_runs_and_a_typo_is_still_a_usage_error():
    runner = CliRunner()
    group_help = runner.invoke(main.app, ["order", "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert group_help.exit_code == 0 and "limit" in group_help.output and "status" in group_help.output
    typo = runner.invoke(main.app, ["balanc"], env={"NO_COLOR": "1"})
    assert typo.exit_code == 2 and "Did you mean 'balance'" in typo.output


def test_walking_the_tree_loads_every_command():
    group = typer.main.get_command(main.app)
    assert set(group.commands) == {entry.name for entry in main.COMMANDS}
    assert group.list_commands(None) == [entry.name for entry in main.COMMANDS]
