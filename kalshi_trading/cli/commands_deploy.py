"""`kalshi deploy systemd`: unit files that run the bot, the pipeline or the dashboard unattended (`ops/deploy.py`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.render import echo, style
from kalshi_trading.config import default_data_dir

deploy_app = typer.Typer(help="Deployment files: systemd units that run the bot, the pipeline or the dashboard "
                              "unattended.", no_args_is_help=True)


@deploy_app.command("systemd")
def systemd(
    user: bool = typer.Option(False, "--user", help="A user unit (runs as you, systemctl --user) instead of a system "
                                                    "unit."),
    what: str = typer.Option("auto", "--what", help="auto (the bot), pipeline or dashboard."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the unit here (default: ~/.config/systemd/user "
                                                           "with --user, else /etc/systemd/system)."),
    config: Optional[Path] = typer.Option(None, "--config", help="The bot's or the pipeline's configuration file "
                                                                 "(required for auto)."),
    bot: str = typer.Option("default", "--bot", help="With --what auto: the bot's name (the unit is "
                                                     "kalshi-auto-NAME)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="The one writable directory (default: "
                                                                     "/var/lib/kalshi-trading, or your data "
                                                                     "directory with --user)."),
    env_file: Optional[Path] = typer.Option(None, "--env-file", help="The settings file the unit reads (default "
                                                                     "/etc/kalshi-trading/kalshi.env, or "
                                                                     "~/.config/kalshi-trading/kalshi.env)."),
    key_file: Optional[Path] = typer.Option(None, "--key-file", help="The private key systemd passes as a "
                                                                     "credential (default: private-key.pem beside "
                                                                     "the env file)."),
    run_as: Optional[str] = typer.Option(None, "--run-as", help="A system unit's account (default: a dynamic "
                                                                "user)."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", parser=ranges.whole(1, 65_535),
                                               help="Serve /metrics on 127.0.0.1:PORT (auto, pipeline)."),
    write_env: bool = typer.Option(False, "--write-env", help="Also write a settings template at --env-file (mode "
                                                              "0600; an existing file is left alone)."),
    force: bool = typer.Option(False, "--force", help="Replace a unit file that exists and differs."),
) -> None:
    """Write a systemd unit (restart on failure with a back-off, secrets in a 0600 EnvironmentFile and the key as a
    credential, hardened: NoNewPrivileges, ProtectSystem=strict, only the data directory writable) and print how to
    enable it.  Nothing is enabled or started.

    Example:  kalshi deploy systemd --user --config bot.toml --write-env
    Example:  sudo kalshi deploy systemd --what pipeline --config pipeline.toml
    """
    from kalshi_trading.ops import deploy
    from kalshi_trading.store.base import check_bot_name

    check_bot_name(bot)
    home = Path.home()
    if user and data_dir is None:  # a user unit keeps your data directory (KALSHI_DATA_DIR, else the default)
        data_dir = Path(os.environ.get("KALSHI_DATA_DIR") or default_data_dir(os.environ))
    plan = deploy.plan(what.strip().lower(), user=user, config=config, data_dir=data_dir, env_file=env_file,
                       key_file=key_file, run_as=run_as, bot=bot, metrics_port=metrics_port, home=home)
    standard = home / ".config" / "systemd" / "user" if user else deploy.SYSTEM_UNITS
    target = out if out is not None else standard
    unit, changed = deploy.write_unit(plan, target, force=force)
    echo(f"{'wrote' if changed else 'unchanged'} {unit}")
    if user:
        plan.data_dir.mkdir(parents=True, exist_ok=True)
    if write_env:
        wrote = deploy.write_env_template(plan.env_file)
        echo(f"{'wrote a settings template' if wrote else 'left alone the existing'} {plan.env_file} (mode 0600)")
    if deploy.loose_mode(plan.env_file):
        echo(style(f"warning: {plan.env_file} is readable by group or others: chmod 600 {plan.env_file}",
                   fg="yellow", err=True), err=True)
    installed = target.resolve() == standard.resolve()
    echo("next:")
    for n, step in enumerate(deploy.next_steps(plan, unit, installed), start=1):
        echo(f"  {n}. {step}")


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
