"""`kalshi config check`, `kalshi exchange status`, `kalshi balance`: thin commands over the client (`kalshi config
market|global` live in `commands_config`)."""

from __future__ import annotations

import typer

from kalshi_trading.cli.render import echo, emit_json, env_badge, style, table, usd

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
exchange_app = typer.Typer(help="Exchange-wide information.", no_args_is_help=True)


@config_app.command("check")
def config_check(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Check environment, base URL, key (loads and signs), the store (KALSHI_STORE) and that the exchange answers.

    Example:  kalshi config check
    """
    from kalshi_trading.config import load_private_key
    from kalshi_trading.errors import ConfigError, KalshiError

    app_ctx = ctx.obj
    s = app_ctx.settings
    checks: list[tuple[str, bool, str]] = [("environment", True, s.env_label)]
    if s.env_file:
        checks.append(("env file", True, str(s.env_file)))
    key_id, key_path, password = app_ctx.credentials()
    checks.append(("key id", True, _mask(key_id)))
    key = load_private_key(key_path, password, key_id)  # raises ConfigError with the fix
    checks.append(("key file", True, str(key_path)))
    checks.append(("key signs", _signs(key), "RSA-PSS SHA-256 signature verifies"))
    for warning in s.warnings:
        checks.append(("warning", False, warning))
    from kalshi_trading.cli.commands_notify import notify_checks

    checks += notify_checks(s)  # the notification channels, secrets masked
    store = app_ctx.store  # a KALSHI_STORE that names no supported store is a ConfigError (exit 3) here
    answer = store.check()
    checks.append(("store", True, store.url.masked))
    checks.append(("store answers", answer.ok, answer.detail if answer.problem is None else str(answer.problem)))
    failure: KalshiError | None = answer.problem
    try:
        status = app_ctx.client.get_exchange_status()
        checks.append(("base URL", True, app_ctx.client.base_url))
        checks.append(("exchange reachable", True,
                       f"exchange_active={status.exchange_active} trading_active={status.trading_active}"))
        balance = app_ctx.client.get_balance()
        checks.append(("authenticated read", True, f"balance {usd(balance.balance)}"))
    except ConfigError:
        raise
    except KalshiError as exc:
        failure = exc  # the exchange's failure is the exit status, before the store's
        checks.append(("exchange reachable", False, str(exc)))
    checks = _hide(key_id, checks)
    if json_output:
        ok = failure is None and all(passed for name, passed, _ in checks if name != "warning")
        emit_json({"environment": s.env, "ok": ok,
                   "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in checks]})
    else:
        echo(f"{env_badge(s.env_label)} configuration")
        echo(table([(n, style("ok", fg="green") if ok else style("FAIL", fg="red"), d) for n, ok, d in checks],
                   ["check", "result", "detail"]))
    if failure is not None:
        raise failure


def _mask(key_id: str) -> str:
    from kalshi_trading.config import mask

    return mask(key_id)


def _hide(key_id: str, checks: list[tuple[str, bool, str]]) -> list[tuple[str, bool, str]]:
    """The key id never appears whole: not even inside a path (the simulator names key files after it)."""
    if not key_id:
        return checks
    return [(name, ok, detail.replace(key_id, _mask(key_id))) for name, ok, detail in checks]


def _signs(key) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    message = b"1700000000000GET/trade-api/v2/portfolio/balance"
    try:
        key.public_key().verify(key.sign(message, pss, hashes.SHA256()), message, pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@exchange_app.command("status")
def exchange_status(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Whether the exchange and trading are active.

    Example:  kalshi exchange status --json
    """
    app_ctx = ctx.obj
    status = app_ctx.client.get_exchange_status()
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), **_status_dict(status)})
        return
    echo(f"{env_badge(env)} exchange status")
    echo(table([("exchange active", _yes(status.exchange_active)), ("trading active", _yes(status.trading_active)),
                ("estimated resume", str(status.estimated_resume_time or "-"))], ["", ""]))


def _status_dict(status) -> dict:
    from kalshi_trading.cli.render import to_jsonable

    return to_jsonable(status)


def _yes(flag: bool) -> str:
    return style("yes", fg="green") if flag else style("no", fg="red")


def balance(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Available cash and portfolio value.

    Example:  kalshi balance --json
    """
    app_ctx = ctx.obj
    bal = app_ctx.client.get_balance()
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "balance": bal.balance, "portfolio_value": bal.portfolio_value,
                   "updated": bal.updated})
        return
    echo(f"{env_badge(env)} balance")
    echo(table([("cash available", usd(bal.balance)), ("portfolio value", usd(bal.portfolio_value))],
               ["", ""], colalign=("left", "right")))


def register(app: typer.Typer) -> None:
    from kalshi_trading.cli.commands_config import register_config

    register_config(config_app)  # `kalshi config market|global`: the store's runtime configuration
    app.add_typer(config_app, name="config")
    app.add_typer(exchange_app, name="exchange")
    app.command("balance")(balance)
