"""Settings: built once at the edge from the process environment and a `.env` file, then passed down.

Process variables win over the `.env` file.  Every mistake is a `ConfigError` that names the
variable and the fix.  Nothing here talks to the network.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from kalshi_trading.errors import ConfigError

log = logging.getLogger(__name__)

ENVIRONMENTS = ("sim", "demo", "prod")
REST_BASES = {
    "prod": "https://external-api.kalshi.com/trade-api/v2",
    "demo": "https://external-api.demo.kalshi.co/trade-api/v2",
}
WS_BASES = {
    "prod": "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    "demo": "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
}
WS_PATH = "/trade-api/ws/v2"
# Hosts that reach real money; a non-prod environment must never point at them.
PROD_HOSTS = frozenset({"external-api.kalshi.com", "api.elections.kalshi.com", "trading-api.kalshi.com"})
RATE_TIERS = ("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
API_SUFFIX = "/trade-api/v2"

VARIABLES = (
    "KALSHI_ENV",
    "KALSHI_API_KEY_ID",
    "KALSHI_PRIVATE_KEY_PATH",
    "KALSHI_PRIVATE_KEY_PASSWORD",
    "KALSHI_API_BASE",
    "KALSHI_WS_BASE",
    "KALSHI_DATA_DIR",
    "KALSHI_LOG_DIR",
    "KALSHI_LOG_LEVEL",
    "KALSHI_LOG_RETENTION_DAYS",
    "KALSHI_RATE_TIER",
    "KALSHI_CONNECT_TIMEOUT",
    "KALSHI_READ_TIMEOUT",
)


def default_data_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(base) / "kalshi-trading"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated.  Secrets are kept out of `repr`."""

    env: str = "sim"
    api_key_id: str | None = None
    private_key_path: Path | None = None
    private_key_password: str | None = field(default=None, repr=False)
    api_base: str | None = None  # None in sim without KALSHI_API_BASE: the embedded exchange decides
    api_base_overridden: bool = False
    ws_base: str | None = None
    data_dir: Path = Path("data")
    log_dir: Path = Path("logs")
    log_level: str = "INFO"
    log_retention_days: int = 30
    rate_tier: str = "basic"
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    env_file: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def env_label(self) -> str:
        return self.env.upper()

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    @property
    def env_data_dir(self) -> Path:
        """Journal and bot state per environment, so simulated trades never mix with real ones."""
        return self.data_dir / self.env

    def ws_url(self, rest_base: str | None = None) -> str:
        """KALSHI_WS_BASE, else the environment's WebSocket host, else the REST base's host with /trade-api/ws/v2
        (an overridden REST base, e.g. the simulator, serves both on one port)."""
        if self.ws_base:
            return self.ws_base
        base = rest_base or self.api_base
        if not self.api_base_overridden and self.env in WS_BASES and (rest_base is None or rest_base == self.api_base):
            return WS_BASES[self.env]
        if base is None:
            raise ConfigError("no REST base to derive the WebSocket URL from", "KALSHI_WS_BASE",
                              "set KALSHI_WS_BASE or KALSHI_API_BASE")
        parts = urlsplit(base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{WS_PATH}"

    @property
    def masked_key_id(self) -> str:
        return mask(self.api_key_id)


def mask(secret: str | None) -> str:
    """All but the last 4 characters hidden."""
    if not secret:
        return "(none)"
    return "…" + secret[-4:] if len(secret) > 4 else "****"


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file strictly: a line that does not parse is an error naming the line."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "--env-file", "point --env-file at a readable file")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", ".env", "save the file as UTF-8 text") from None
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            raise ConfigError(
                f"{path}, line {line}: cannot parse {binding.original.string.strip()[:40]!r}",
                ".env",
                "write each setting as NAME=value (quote values with spaces)",
            )
        if binding.key is not None:
            values[binding.key] = binding.value or ""
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: Path | str | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build Settings from the environment, falling back to `.env` in `cwd` (or `env_file`)."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    file_values: dict[str, str] = {}
    used_file: Path | None = None
    if env_file is not None:
        used_file = Path(env_file)
        if not used_file.is_file():
            raise ConfigError(f"env file {used_file} does not exist", "--env-file", "give the path of an existing file")
        file_values = read_env_file(used_file)
    elif (cwd / ".env").is_file():
        used_file = cwd / ".env"
        file_values = read_env_file(used_file)

    def get(name: str) -> str | None:
        value = environ.get(name)
        if value is None or value == "":
            value = file_values.get(name)
        return value.strip() if value not in (None, "") else None

    warnings: list[str] = []
    env = (get("KALSHI_ENV") or "sim").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}", "KALSHI_ENV", "use one of sim, demo, prod")

    key_id = get("KALSHI_API_KEY_ID")
    key_path_text = get("KALSHI_PRIVATE_KEY_PATH")
    key_path = _resolve(key_path_text, cwd) if key_path_text else None
    if env in ("demo", "prod"):
        if not key_id:
            raise ConfigError(
                f"{env} needs an API key id", "KALSHI_API_KEY_ID",
                f"create a key at the {env} site's account settings and set KALSHI_API_KEY_ID",
            )
        if not key_path:
            raise ConfigError(
                f"{env} needs the private key file", "KALSHI_PRIVATE_KEY_PATH",
                "set KALSHI_PRIVATE_KEY_PATH to the .pem file downloaded with the key",
            )
    if key_path is not None:
        warning = check_key_file(key_path)
        if warning:
            warnings.append(warning)

    base = get("KALSHI_API_BASE")
    overridden = base is not None
    if base is not None:
        base = _check_base(base)
        host = urlsplit(base).hostname or ""
        if host in PROD_HOSTS and env != "prod":
            raise ConfigError(
                f"KALSHI_API_BASE points at production ({host}) while KALSHI_ENV={env}",
                "KALSHI_API_BASE", "set KALSHI_ENV=prod explicitly to trade real money, or remove KALSHI_API_BASE",
            )
    else:
        base = REST_BASES.get(env)

    ws_base = get("KALSHI_WS_BASE")
    if ws_base is not None and urlsplit(ws_base).scheme not in ("ws", "wss"):
        raise ConfigError(f"{ws_base!r} is not a ws:// or wss:// URL", "KALSHI_WS_BASE",
                          "write it like wss://host/trade-api/ws/v2")

    data_dir_text = get("KALSHI_DATA_DIR")
    data_dir = _resolve(data_dir_text, cwd) if data_dir_text else default_data_dir(environ)
    log_dir = _resolve(get("KALSHI_LOG_DIR") or "logs", cwd)

    level = (get("KALSHI_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {level!r}", "KALSHI_LOG_LEVEL", "use DEBUG, INFO, WARNING or ERROR")
    tier = (get("KALSHI_RATE_TIER") or "basic").lower()
    if tier not in RATE_TIERS:
        raise ConfigError(f"unknown rate tier {tier!r}", "KALSHI_RATE_TIER", "use one of " + ", ".join(RATE_TIERS))

    return Settings(
        env=env,
        api_key_id=key_id,
        private_key_path=key_path,
        private_key_password=get("KALSHI_PRIVATE_KEY_PASSWORD"),
        api_base=base,
        api_base_overridden=overridden,
        ws_base=ws_base,
        data_dir=data_dir,
        log_dir=log_dir,
        log_level=level,
        log_retention_days=_positive_int(get("KALSHI_LOG_RETENTION_DAYS"), "KALSHI_LOG_RETENTION_DAYS", 30),
        rate_tier=tier,
        connect_timeout=_seconds(get("KALSHI_CONNECT_TIMEOUT"), "KALSHI_CONNECT_TIMEOUT", 3.05),
        read_timeout=_seconds(get("KALSHI_READ_TIMEOUT"), "KALSHI_READ_TIMEOUT", 10.0),
        env_file=used_file,
        warnings=tuple(warnings),
    )


def _resolve(text: str, cwd: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else cwd / path


def _check_base(base: str) -> str:
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{base!r} is not an http(s) URL", "KALSHI_API_BASE",
                          "write it like https://host/trade-api/v2")
    path = parts.path.rstrip("/")
    if not path.endswith(API_SUFFIX):
        raise ConfigError(
            f"{base!r} does not end with {API_SUFFIX}", "KALSHI_API_BASE", f"append {API_SUFFIX} to the URL"
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _seconds(text: str | None, name: str, default: float) -> float:
    # Timeouts are durations, not money: a float is the right type here.
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a number of seconds", name, "write a number like 10 or 2.5") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{value} s is out of range", name, "use a value between 0 and 300 seconds")
    return value


def _positive_int(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a whole number", name, "write a whole number like 30") from None
    if value <= 0:
        raise ConfigError(f"{value} must be positive", name, "write a whole number like 30")
    return value


def check_key_file(path: Path) -> str | None:
    """Raise ConfigError if the key file is missing or unreadable; return a warning if others can read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"private key file {path} does not exist", "KALSHI_PRIVATE_KEY_PATH",
            "point it at the .pem file downloaded when the key was created",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "KALSHI_PRIVATE_KEY_PATH", "check the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a file", "KALSHI_PRIVATE_KEY_PATH", "point it at the .pem file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path} is not readable", "KALSHI_PRIVATE_KEY_PATH", f"chmod 600 {path} as its owner")
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"private key {path} is readable by group or others; run: chmod 600 {path}"
    return None


def load_private_key(path: Path, password: str | None = None):
    """Load an RSA private key from PEM (PKCS#1 or PKCS#8).  Every failure is a ConfigError."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    check_key_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "KALSHI_PRIVATE_KEY_PATH", "check the path") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(
            f"{path} is not a PEM file", "KALSHI_PRIVATE_KEY_PATH",
            "use the .pem file Kalshi gave you (it starts with -----BEGIN ... PRIVATE KEY-----)",
        )
    if b"PRIVATE KEY-----" not in data:
        raise ConfigError(f"{path} holds no private key", "KALSHI_PRIVATE_KEY_PATH",
                          "point it at the private key, not the public key or a certificate")
    secret = password.encode() if password else None
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError as exc:
        if "encrypted" in str(exc).lower() and secret is None:
            raise ConfigError(f"{path} is encrypted", "KALSHI_PRIVATE_KEY_PASSWORD",
                              "set KALSHI_PRIVATE_KEY_PASSWORD") from None
        raise ConfigError(
            f"{path} is not encrypted but a password was given", "KALSHI_PRIVATE_KEY_PASSWORD",
            "unset KALSHI_PRIVATE_KEY_PASSWORD",
        ) from None
    except ValueError as exc:
        if secret is not None and ("password" in str(exc).lower() or "decrypt" in str(exc).lower()):
            raise ConfigError(f"wrong password for {path}", "KALSHI_PRIVATE_KEY_PASSWORD",
                              "check the password") from None
        raise ConfigError(f"{path} is not a readable PEM private key", "KALSHI_PRIVATE_KEY_PATH",
                          "use the .pem file Kalshi gave you") from None
    except UnsupportedAlgorithm as exc:
        raise ConfigError(f"{path}: unsupported key ({type(exc).__name__})", "KALSHI_PRIVATE_KEY_PATH",
                          "use an RSA key in PEM format") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path} is not an RSA key", "KALSHI_PRIVATE_KEY_PATH",
                          "Kalshi keys are RSA; use the .pem file Kalshi gave you")
    return key
