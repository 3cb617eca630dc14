"""With `kalshi sim serve` running, plain sim commands talk to it instead of failing on its lock."""

import json
from decimal import Decimal as D

from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.sim.runtime import running_server, start_embedded


def test_commands_use_a_running_simulator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = start_embedded(tmp_path / "sim", seed=3, participants=False, balance=D("250"))
    try:
        assert running_server(tmp_path) == server.base_url
        env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
               "NO_COLOR": "1", "HOME": str(tmp_path)}
        result = CliRunner().invoke(app, ["balance", "--json"], env=env)
        assert result.exit_code == 0, result.output
        assert D(json.loads(result.stdout)["balance"]) == D("250")  # the serving exchange's demo account
    finally:
        server.stop()
    assert running_server(tmp_path) is None  # the stopped server removed its file


def test_stale_server_file_is_ignored(tmp_path):
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "server.json").write_text(json.dumps({"base_url": "http://127.0.0.1:1/trade-api/v2",
                                                              "pid": 2 ** 22 + 12345}))
    assert running_server(tmp_path) is None
