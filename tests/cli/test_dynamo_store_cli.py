"""`KALSHI_STORE=dynamodb://...` through the real CLI against the real simulator and moto's DynamoDB server: orders
placed and journalled on DynamoDB export the same trades CSV as SQLite; `kalshi config check` says whether the
endpoint answers; a dead endpoint or tables of a newer schema are exit 3 with one line, no order sent, and no AWS
secret printed or logged."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest, TimeInForce
from tests.e2e.conftest import cent_market, client_for
from tests.store.dynamo_server import DUMMY_CREDENTIALS, free_port, shared_server

SECRET = DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture
def dynamo():
    return shared_server().url()


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    account = sim.demo_account
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path / "data"),
            "KALSHI_API_KEY_ID": account.key_id, "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path), "KALSHI_STORE": None}


@pytest.fixture
def other(sim):
    c = client_for(sim.base_url, sim.create_account(D(1000)))
    yield c
    c.close()


def run(env: dict, *args: str, **overrides: str | None):
    return CliRunner().invoke(app, list(args), env={**env, **overrides})


def rest(client, ticker: str, side: BookSide, count: int, price: str, tif: TimeInForce = TimeInForce.GTC) -> None:
    client.create_order(OrderRequest(ticker=ticker, book_side=side, count=D(count), yes_price=D(price),
                                     time_in_force=tif))


def logged(tmp_path) -> str:
    return "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())


def test_orders_on_dynamodb_export_the_same_trades_as_sqlite(env, sim, other, dynamo, tmp_path):
    t = cent_market(sim)
    trades = [  # (the other account rests, the demo account's order through the CLI)
        ((BookSide.ASK, 3, "0.40"), ["yes", "3", "0.40"]),  # buys 3 YES (taker)
        ((BookSide.BID, 2, "0.45"), ["yes", "2", "0.45", "--sell"]),  # sells 2 YES
        ((BookSide.BID, 1, "0.40"), ["no", "1", "0.60"]),  # buys NO while long YES: a YES sale in the export
    ]
    for (side, count, price), order in trades:
        rest(other, t, side, count, price)
        result = run(env, "order", "limit", t, *order, "--yes", "--json", KALSHI_STORE=dynamo)
        assert result.exit_code == 0, result.output
    result = run(env, "order", "limit", t, "yes", "2", "0.30", "--yes", KALSHI_STORE=dynamo)  # rests: a maker fill
    assert result.exit_code == 0, result.output
    rest(other, t, BookSide.ASK, 2, "0.30", TimeInForce.IOC)

    assert run(env, "export-trades", "dynamo.csv", KALSHI_STORE=dynamo).exit_code == 0
    sqlite = f"sqlite://{tmp_path}/sqlite-store/"
    assert run(env, "export-trades", "sqlite.csv", KALSHI_STORE=sqlite).exit_code == 0
    exported = (tmp_path / "dynamo.csv").read_text()
    assert exported == (tmp_path / "sqlite.csv").read_text()
    lines = exported.splitlines()
    assert len(lines) == 5 and [line.split(",")[4:6] for line in lines[1:]] == [
        ["yes", "buy"], ["yes", "sell"], ["yes", "sell"], ["yes", "buy"]]
    history = json.loads(run(env, "history", "--json", KALSHI_STORE=dynamo).stdout)
    kinds = [e["kind"] for e in history["entries"]]
    assert kinds.count("fill") == 4 and kinds.count("order") == 8  # each order: its intent and its acceptance
    check = json.loads(run(env, "config", "check", "--json", KALSHI_STORE=dynamo).stdout)
    answers = {c["check"]: c for c in check["checks"]}
    assert answers["store answers"]["ok"] and "DynamoDB answers at" in answers["store answers"]["detail"]
    assert answers["store"]["detail"] == dynamo and check["ok"]
    assert SECRET not in logged(tmp_path)


def test_a_dynamodb_endpoint_that_does_not_answer_is_exit_3_and_no_order_is_sent(env, sim, tmp_path):
    shared_server()  # dummy credentials in this process
    dead = f"dynamodb://us-east-1?endpoint=http://127.0.0.1:{free_port()}&prefix=dead_"
    t = cent_market(sim)
    for args in (["order", "limit", t, "yes", "1", "0.05", "--yes"], ["sync"], ["history"], ["export-trades", "x.csv"],
                 ["config", "check"]):
        result = run(env, *args, KALSHI_STORE=dead)
        assert result.exit_code == 3, (args, result.output)
        assert "does not answer" in result.output and "Traceback" not in result.output, result.output
        assert SECRET not in result.output
    assert "FAIL" in run(env, "config", "check", KALSHI_STORE=dead).stdout
    assert json.loads(run(env, "orders", "--json").stdout)["orders"] == []  # the intent could not be taken
    assert run(env, "balance", KALSHI_STORE=dead).exit_code == 0  # reading the exchange needs no store
    assert SECRET not in logged(tmp_path)


def test_dynamodb_tables_of_a_newer_schema_are_exit_3(env, sim, dynamo):
    import boto3

    assert run(env, "history", KALSHI_STORE=dynamo).exit_code == 0  # creates the tables
    server = shared_server()
    prefix = dynamo.rpartition("prefix=")[2]
    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=server.endpoint).update_item(
        TableName=f"{prefix}sim_meta", Key={"name": {"S": "schema"}}, UpdateExpression="SET journal = :v",
        ExpressionAttributeValues={":v": {"N": "7"}})
    for args in (["history"], ["order", "limit", cent_market(sim), "yes", "1", "0.05", "--yes"], ["config", "check"]):
        result = run(env, *args, KALSHI_STORE=dynamo)
        assert result.exit_code == 3, (args, result.output)
        assert "newer than this program" in result.output and "Traceback" not in result.output


def test_the_bot_runs_on_dynamodb_and_its_state_is_read_back(env, sim, other, dynamo):
    t = cent_market(sim)
    rest(other, t, BookSide.BID, 50, "0.40")
    rest(other, t, BookSide.ASK, 50, "0.60")
    result = run(env, "auto", "--markets", t, "--feed", "poll", "--duration", "4", "--json", "--yes",
                 KALSHI_STORE=dynamo)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{"):])["markets"][0]["ticker"] == t
    out = run(env, "auto", "status", "--json", KALSHI_STORE=dynamo).stdout
    status = json.loads(out[out.index("{"):])
    assert "dynamodb://" in status["state_file"] and status["markets"] == [t] and status["risk_state"] == "active"
    assert [e["kind"] for e in status["events"]] == ["cancel_all"] and status["working_orders"] == []
    assert json.loads(run(env, "orders", "--json").stdout)["orders"] == []  # the clean exit cancelled the quotes
