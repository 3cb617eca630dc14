"""systemd unit files that run the bot, the pipeline or the dashboard unattended (`kalshi deploy systemd`).

What a unit holds, and why:

- `Restart=on-failure` after `RestartSec=10`, at most `StartLimitBurst=5` starts in `StartLimitIntervalSec=900`
  (then systemd gives up and the unit shows failed); `RestartPreventExitStatus=2 3 5`: a usage or configuration
  error and a risk halt (a HALTED bot waits for a person's `kalshi auto resume`) are not retried.  A restarted bot
  reconciles with the exchange as at any start.
- Secrets never in the unit: `EnvironmentFile=` names a file of settings (mode 0600, read by systemd as root; a
  template with `--write-env`), and the private key is a systemd credential (`LoadCredential=kalshi-private-key:
  PATH`): the app reads `$CREDENTIALS_DIRECTORY/kalshi-private-key` when KALSHI_PRIVATE_KEY_PATH is not set.
- Hardening: `NoNewPrivileges=yes`, `ProtectSystem=strict` with the data directory the only writable path
  (`ReadWritePaths=`; logs go to `<data dir>/logs`), `PrivateTmp=yes`, `ProtectHome=` `yes` unless the program or a
  file it reads lives under /home or /root (then `read-only`), `UMask=0077`.  A system unit runs as a dynamic user
  (`DynamicUser=yes`, data in `StateDirectory=kalshi-trading`, i.e. /var/lib/kalshi-trading) unless `--run-as`
  names an account; a user unit (`--user`) runs as you, its data in your data directory.
- `KALSHI_LOG_FORMAT=json` for the journal (one JSON object per log line).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from kalshi_trading.errors import StorageError, UsageError

WHATS = ("auto", "pipeline", "dashboard")
SYSTEM_DATA = Path("/var/lib/kalshi-trading")
SYSTEM_ETC = Path("/etc/kalshi-trading")
SYSTEM_UNITS = Path("/etc/systemd/system")
CREDENTIAL = "kalshi-private-key"  # config.CREDENTIAL_KEY: the name the app looks for
NO_RETRY = "2 3 5"  # usage, configuration, risk (README's exit codes)
_UNSAFE = re.compile(r"[\s\"'\\$%;]|[\x00-\x1f\x7f]")
DESCRIPTIONS = {"auto": "trading bot (kalshi auto)", "pipeline": "signal pipeline (kalshi pipeline run)",
                "dashboard": "web dashboard (kalshi dashboard)"}

ENV_TEMPLATE = """\
# kalshi-trading settings for the systemd unit (its EnvironmentFile=).  Keep this file mode 0600: it holds secrets.
# Edit, then restart the unit.  Every setting: README "Configuration".
KALSHI_ENV=demo
KALSHI_API_KEY_ID=
# The private key is not set here: the unit hands it over as a systemd credential (LoadCredential=); set
# KALSHI_PRIVATE_KEY_PATH only if your systemd cannot load credentials.
# KALSHI_PRIVATE_KEY_PASSWORD=
# KALSHI_STORE=postgresql://user:password@host/kalshi
# KALSHI_TELEGRAM_BOT_TOKEN=
# KALSHI_TELEGRAM_CHAT_ID=
# KALSHI_WEBHOOK_URL=
"""


@dataclass(frozen=True)
class UnitPlan:
    """Everything a unit file says (paths absolute, checked by `plan`)."""

    what: str
    user: bool
    python: Path
    data_dir: Path
    env_file: Path
    key_file: Path
    args: tuple[str, ...]
    run_as: str | None = None
    bot: str = "default"

    @property
    def name(self) -> str:
        suffix = "" if self.bot == "default" else f"-{self.bot}"
        return f"kalshi-{self.what}{suffix}.service"


def _checked(path: Path, what: str) -> Path:
    """An absolute path a unit can hold without quoting (no spaces, quotes, %, $, control characters)."""
    path = Path(os.path.abspath(path.expanduser()))
    if _UNSAFE.search(str(path)):
        raise UsageError(f"{what} {str(path)!r} holds a space, quote, %, $ or control character a unit file would "
                         "need to escape; use a plain path")
    return path


def plan(what: str, *, user: bool, config: Path | None, data_dir: Path | None, env_file: Path | None,
         key_file: Path | None, run_as: str | None = None, bot: str = "default", metrics_port: int | None = None,
         home: Path | None = None, python: Path | None = None) -> UnitPlan:
    """Check the choices and fill in the defaults (see the module docstring)."""
    if what not in WHATS:
        raise UsageError(f"--what must be one of {', '.join(WHATS)}, not {what!r}")
    if user and run_as:
        raise UsageError("--run-as applies to a system unit: a --user unit runs as you")
    if run_as is not None and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", run_as):
        raise UsageError(f"--run-as {run_as!r} is not a user name")
    if what == "auto" and config is None:
        raise UsageError("an unattended bot needs its markets and limits: give --config bot.toml")
    if metrics_port is not None and what == "dashboard":
        raise UsageError("--metrics-port applies to auto and pipeline (the dashboard serves /metrics itself)")
    home = home or Path.home()
    etc = home / ".config" / "kalshi-trading" if user else SYSTEM_ETC
    data = data_dir or (home / ".local" / "share" / "kalshi-trading" if user else SYSTEM_DATA)
    args: list[str] = {"auto": ["auto", "--yes"], "pipeline": ["pipeline", "run"],
                       "dashboard": ["dashboard", "--host", "127.0.0.1"]}[what]
    if config is not None:
        if not config.is_file():
            raise UsageError(f"--config {config} is not a file")
        args += ["--config", str(_checked(config, "--config"))]
    if what == "auto" and bot != "default":
        args += ["--bot", bot]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    env = _checked(env_file or etc / "kalshi.env", "--env-file")
    return UnitPlan(what, user, _checked(python or Path(sys.executable), "the Python interpreter"),
                    _checked(data, "--data-dir"), env, _checked(key_file or env.parent / "private-key.pem",
                                                                "--key-file"), tuple(args), run_as, bot)


def _under_home(paths: list[Path]) -> bool:
    return any(p == Path("/root") or Path("/root") in p.parents or Path("/home") in p.parents for p in paths)


def render(p: UnitPlan) -> str:
    """The unit file's text."""
    reads = [p.python] + [Path(a) for a in p.args if a.startswith("/")]
    protect_home = "read-only" if _under_home(reads + [p.data_dir]) else "yes"
    who = [] if p.user else ([f"User={p.run_as}"] if p.run_as else ["DynamicUser=yes"])
    state = ["StateDirectory=kalshi-trading"] if not p.user and p.data_dir == SYSTEM_DATA else []
    lines = [
        "[Unit]",
        f"Description=kalshi-trading {DESCRIPTIONS[p.what]}",
        "After=network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=900",
        "StartLimitBurst=5",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={p.python} -m kalshi_trading {' '.join(p.args)}",
        *who,
        *state,
        f"WorkingDirectory={p.data_dir}",
        f"EnvironmentFile={p.env_file}",
        f"Environment=KALSHI_DATA_DIR={p.data_dir}",
        f"Environment=KALSHI_LOG_DIR={p.data_dir}/logs",
        "Environment=KALSHI_LOG_FORMAT=json",
        "Environment=PYTHONUNBUFFERED=1",
        f"LoadCredential={CREDENTIAL}:{p.key_file}",
        "Restart=on-failure",
        "RestartSec=10",
        f"RestartPreventExitStatus={NO_RETRY}",
        "TimeoutStopSec=60",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ProtectHome={protect_home}",
        f"ReadWritePaths={p.data_dir}",
        "PrivateTmp=yes",
        "UMask=0077",
        "",
        "[Install]",
        f"WantedBy={'default.target' if p.user else 'multi-user.target'}",
    ]
    return "\n".join(lines) + "\n"


def write_unit(p: UnitPlan, out: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Write the unit into `out`; (path, changed).  A different existing file is replaced only with `force`."""
    text = render(p)
    path = out / p.name
    try:
        out.mkdir(parents=True, exist_ok=True)
        if path.exists():
            if path.read_text(encoding="utf-8") == text:
                return path, False
            if not force:
                raise UsageError(f"{path} exists and differs; add --force to replace it")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        hint = " (a system unit goes to /etc/systemd/system: run as root, or use --user or --out DIR)"
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}{hint}", path=path) from None
    return path, True


def write_env_template(path: Path) -> bool:
    """The settings template at `path`, mode 0600; an existing file is never touched (False)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(ENV_TEMPLATE)
    os.chmod(path, 0o600)
    return True


def loose_mode(path: Path) -> bool:
    """True when `path` exists and its group or others may read it."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def next_steps(p: UnitPlan, unit: Path, installed: bool) -> list[str]:
    """What to run to enable the unit."""
    ctl = "systemctl --user" if p.user else "sudo systemctl"
    journal = f"journalctl {'--user ' if p.user else ''}-u {p.name} -f"
    steps = []
    if not installed:
        target = "~/.config/systemd/user/" if p.user else f"{SYSTEM_UNITS}/"
        steps.append(f"copy {unit} to {target}")
    steps += [
        f"put your settings in {p.env_file} (mode 0600: chmod 600 {p.env_file})",
        f"put your private key at {p.key_file} (mode 0600); systemd hands it to the process as a credential",
        f"{ctl} daemon-reload && {ctl} enable --now {p.name}",
        f"follow it: {journal}" + ("; keep it running after you log out: loginctl enable-linger" if p.user else ""),
    ]
    return steps
