"""The README's command examples run, in order, against a simulator, so the documentation cannot drift."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal as D
from pathlib import Path

from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest
from tests.cli.test_commands import env  # noqa: F401  (fixture)
from tests.backtest.streams import write_market
from tests.e2e.conftest import cent_market, client_for

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> list[str]:
    """Every `kalshi` line of every block marked `<!-- readme-examples`, in the README's order."""
    lines = []
    for part in README.read_text().split("<!-- readme-examples")[1:]:
        block = part.split("```sh", 1)[1].split("```", 1)[0]
        lines += [line.strip() for line in block.strip().splitlines() if line.strip().startswith("kalshi ")]
    return lines


def test_readme_has_the_two_commands_and_ci_runs_the_second():
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    setup_run, setup_test = blocks[0].strip(), blocks[1].strip()
    assert "pip install" in setup_run and "kalshi demo" in setup_run
    assert "pytest" in setup_test
    ci = (README.parent / ".ci" / "run").read_text()
    assert setup_test in ci


def test_every_readme_example_runs(sim, env, tmp_path):  # noqa: F811
    ticker = cent_market(sim)
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(5), D("0.60")))
    me = client_for(sim.base_url, sim.demo_account)
    runner = CliRunner()
    order_id = None
    examples = readme_examples()
    assert len(examples) > 20
    for line in examples:
        if order_id is None and "ORDER_ID" in line:
            order_id = next(me.iter_orders(ticker=ticker, status="resting")).order_id
        line = (line.replace("TICKER", ticker).replace("ORDER_ID", order_id or "")
                .replace("OUT.csv", str(tmp_path / "out.csv")).replace("LOTS.csv", str(tmp_path / "lots.csv")))
        args = shlex.split(line)[1:]
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, f"{line}\n{result.output}"
    assert (tmp_path / "out.csv").read_text().startswith("created_time")


def test_demo_runs_on_the_simulator(sim, env):  # noqa: F811
    result = CliRunner().invoke(app, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "[SIM]" in result.stdout and "cancelled" in result.stdout


def test_demo_refuses_other_environments(env, tmp_path):  # noqa: F811
    key = tmp_path / "k.pem"
    from tests.conftest import write_key
    from cryptography.hazmat.primitives.asymmetric import rsa

    write_key(key, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    result = CliRunner().invoke(app, ["demo"], env={**env, "KALSHI_ENV": "demo", "KALSHI_API_KEY_ID": "k",
                                                    "KALSHI_PRIVATE_KEY_PATH": str(key)})
    assert result.exit_code == 2 and "only runs against the simulator" in result.stderr


def test_readme_bot_config_example_is_valid():
    from kalshi_trading.auto.botconfig import SCHEMA_DOC, parse_config

    text = README.read_text()
    assert SCHEMA_DOC.strip() in text  # the README shows exactly what `kalshi auto --help-config` prints
    example = text.split("```toml", 1)[1].split("```", 1)[0]
    config = parse_config(example, "toml", "README")
    assert config.strategy == "mm" and config.market("KXBTCD-26JAN0117-T100000").enabled is False


def test_readme_reference_names_every_command():
    import typer.main

    group = typer.main.get_command(app)
    text = README.read_text()
    for name, command in group.commands.items():
        assert f"`kalshi {name}" in text, name
        lines = [line for line in text.splitlines() if f"kalshi {name}" in line]
        for sub in getattr(command, "commands", {}) or {}:
            assert any(sub in line for line in lines), (name, sub)


def test_the_readme_strategy_runs_in_kalshi_auto_sim_and_in_a_backtest(tmp_path, monkeypatch):
    """The README's worked strategy, saved as the file it names, runs with the commands under it."""
    import sys

    after = README.read_text().split("<!-- readme-strategy", 1)[1]
    code = after.split("```python", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in after.split("```sh", 1)[1].split("```", 1)[0].splitlines()
                if line.strip().startswith("kalshi ")]
    assert 15 <= len(code.strip().splitlines()) <= 25 and commands[0].startswith("kalshi auto --sim --strategy")
    (tmp_path / "join_touch.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the strategy's module is found in the current directory
    monkeypatch.delitem(sys.modules, "join_touch", raising=False)
    sim_env = {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "NO_COLOR": "1"}
    write_market(tmp_path / "recordings", 3000)  # what `kalshi record ... --out recordings` would have left
    outputs = []
    for line in commands:
        result = CliRunner().invoke(app, shlex.split(line)[1:], env=sim_env)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        outputs.append(result.stdout)
    assert "strategy join on" in outputs[0]
    placed = int(re.search(r"orders placed (\d+)", outputs[0]).group(1))
    assert placed >= 1  # it quoted
    assert "join" in outputs[1]  # the journal shows the bot's orders tagged with the strategy's name
    assert "join_touch:JoinTouch" in outputs[2]  # the same strategy, replayed on a recording
    assert int(re.search(r"orders placed / amended / cancelled\s+(\d+)", outputs[2]).group(1)) >= 1
