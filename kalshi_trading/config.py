"""Settings: built once at the edge from the process environment and a `.env` file, then passed down.

Process variables win over the `.env` file.  Every mistake is a `ConfigError` that names the
variable and the fix.  Nothing here talks to the network.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping
from urllib.parse import SplitResult, unquote, urlsplit

from kalshi_trading.errors import ConfigError
from kalshi_trading.notify_settings import VARIABLES as NOTIFY_VARIABLES
from kalshi_trading.notify_settings import NotifySettings, load_notify

if TYPE_CHECKING:  # both are imported lazily (start-up time)
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from dotenv.parser import Original

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
# Hosts that reach real money; a non-prod environment must never point at them.  Every host under
# PROD_DOMAIN counts as production, whatever its spelling (compared after `normalise_host`).
PROD_HOSTS = frozenset({"external-api.kalshi.com", "api.elections.kalshi.com", "trading-api.kalshi.com"})
PROD_DOMAIN = "kalshi.com"
RATE_TIERS = ("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
API_SUFFIX = "/trade-api/v2"

# The documented range of every numeric setting: (lowest, highest, unit, whole numbers only).
RANGES: dict[str, tuple[float, float, str, bool]] = {
    "KALSHI_CONNECT_TIMEOUT": (0.1, 300, "seconds", False),
    "KALSHI_READ_TIMEOUT": (0.1, 300, "seconds", False),
    "KALSHI_LOG_RETENTION_DAYS": (1, 3650, "days", True),
}
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits, one optional decimal point: no sign, exponent or _
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST = re.compile(r"[a-z0-9_.-]+|[0-9a-f:.]+")  # a DNS name in its ASCII (IDNA) form, or an IP address

VARIABLES = (
    "KALSHI_ENV",
    "KALSHI_API_KEY_ID",
    "KALSHI_PRIVATE_KEY_PATH",
    "KALSHI_PRIVATE_KEY_PASSWORD",
    "KALSHI_API_BASE",
    "KALSHI_WS_BASE",
    "KALSHI_DATA_DIR",
    "KALSHI_STORE",
    "KALSHI_LOG_DIR",
    "KALSHI_LOG_LEVEL",
    "KALSHI_LOG_RETENTION_DAYS",
    "KALSHI_RATE_TIER",
    "KALSHI_CONNECT_TIMEOUT",
    "KALSHI_READ_TIMEOUT",
    "KALSHI_LOG_FORMAT",
    "KALSHI_TRADE_NOTICES",
    *NOTIFY_VARIABLES,
)
LOG_FORMATS = ("text", "json")
SWITCHES = {"on": True, "yes": True, "true": True, "1": True, "off": False, "no": False, "false": False, "0": False}
# systemd's credential (`LoadCredential=kalshi-private-key:...`): the key file when KALSHI_PRIVATE_KEY_PATH is unset
CREDENTIAL_KEY = "kalshi-private-key"


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
    store_url: str | None = field(default=None, repr=False)  # KALSHI_STORE (may hold a password); None: default
    log_dir: Path = Path("logs")
    log_level: str = "INFO"
    log_retention_days: int = 30
    log_format: str = "text"  # KALSHI_LOG_FORMAT: text (for people) or json (one object per line, for shippers)
    trade_notices: bool = False  # KALSHI_TRADE_NOTICES: notices of new fills and settlements after a journal sync
    rate_tier: str = "basic"
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    env_file: Path | None = None
    warnings: tuple[str, ...] = ()
    notify: NotifySettings = NotifySettings()  # Telegram and webhook (notify_settings.py)

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

    @property
    def store_url_text(self) -> str:
        """KALSHI_STORE, or the default store: SQLite files in `<data dir>/<env>/` (parsed by `store.url`)."""
        return self.store_url or f"sqlite://{self.env_data_dir}/"

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


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def shown_key_path(path: Path | str, key_id: str | None = None) -> str:
    """A key file's path for messages and logs: the key id (and any UUID, the form key ids take; the simulator
    names its key files after them) masked to its last four characters."""
    text = str(path)
    if key_id:
        text = text.replace(key_id, mask(key_id))
    return _UUID.sub(lambda m: mask(m.group(0)), text)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file strictly: a line that does not parse, holds a control character, has no `=`,
    or sets a key a second time is an error naming the line (both lines for a duplicate)."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the first key
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "--env-file",
                          "point --env-file at a readable file") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", ".env", "save the file as UTF-8 text") from None
    _refuse_control_characters(path, text)
    values: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = _binding_line(binding.original)
        if binding.error:
            raise ConfigError(
                f"{path}, line {line}: cannot parse {binding.original.string.strip()[:40]!r}",
                ".env",
                "write each setting as NAME=value (quote values with spaces)",
            )
        if binding.key is None:
            continue
        if binding.value is None or not _ENV_KEY.fullmatch(binding.key):
            raise ConfigError(f"{path}, line {line}: {binding.original.string.strip()[:40]!r} is not NAME=value",
                              ".env", "write each setting as NAME=value, or delete the line")
        if binding.key in first_line:
            raise ConfigError(
                f"{path}: {binding.key} is set twice, on line {first_line[binding.key]} and line {line}",
                ".env", "keep one of the two lines",
            )
        first_line[binding.key] = line
        values[binding.key] = binding.value
    return values


def _binding_line(original: Original) -> int:
    """The line a binding's text starts on (the parser counts from the blank lines before it)."""
    string = original.string
    return original.line + string[: len(string) - len(string.lstrip())].count("\n")


def _refuse_control_characters(path: Path, text: str) -> None:
    """Control and invisible format characters (other than tab and line ends) make a line garbage."""
    for number, line in enumerate(text.split("\n"), start=1):
        for char in line.removesuffix("\r"):
            if char != "\t" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
                raise ConfigError(
                    f"{path}, line {number}: control character U+{ord(char):04X} in the line",
                    ".env", "delete the character (or the line); write each setting as NAME=value",
                )


# Every setting read from the environment or `.env` (one place: a name not here is reported as unknown).
KNOWN_VARIABLES = (
    "KALSHI_ENV", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY_PASSWORD", "KALSHI_API_BASE",
    "KALSHI_WS_BASE", "KALSHI_DATA_DIR", "KALSHI_LOG_DIR", "KALSHI_LOG_LEVEL", "KALSHI_LOG_RETENTION_DAYS",
    "KALSHI_RATE_TIER", "KALSHI_CONNECT_TIMEOUT", "KALSHI_READ_TIMEOUT", "KALSHI_STORE", "KALSHI_SIM_FAULTS",
    "KALSHI_CONFIRM_LIVE_AUTO", "KALSHI_TELEGRAM_BOT_TOKEN", "KALSHI_TELEGRAM_CHAT_ID", "KALSHI_TELEGRAM_API_BASE",
    "KALSHI_TELEGRAM_COMMANDS", "KALSHI_WEBHOOK_URL", "KALSHI_WEBHOOK_SECRET", "KALSHI_LOG_FORMAT",
    "KALSHI_TRADE_NOTICES",
    "KALSHI_REQUIRE_STORE_SERVERS",  # the test suite's: fail, not skip, a store test whose server is missing (CI)
    "KALSHI_REQUIRE_BROWSER",  # the test suite's: fail, not skip, a browser test when Chromium is missing (CI)
    "KALSHI_PG_BIN",  # the test suite's: where the PostgreSQL 15 programs are (tests/store/pg_server.py)
)


def unknown_variables(names: Iterable[str], where: str) -> list[str]:
    """A warning for each name that looks meant for us but is not a setting (a lower-case or misspelt KALSHI_
    name): it would otherwise be ignored without a word."""
    out = []
    for name in names:
        if name in KNOWN_VARIABLES or not name.upper().startswith("KALSHI_"):
            continue
        if name.upper() in KNOWN_VARIABLES:
            out.append(f"{name} in {where} is ignored: setting names are upper case (write {name.upper()})")
            continue
        tails = [known[len("KALSHI_"):] for known in KNOWN_VARIABLES]  # the shared prefix would match anything
        close = difflib.get_close_matches(name.upper()[len("KALSHI_"):], tails, n=1)
        hint = f"did you mean KALSHI_{close[0]}?" if close else "see .env.example for the settings"
        out.append(f"{name} in {where} is not a setting and is ignored; {hint}")
    return out


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
    if used_file is not None:
        warnings += unknown_variables(file_values, used_file.name)
    warnings += unknown_variables(environ, "the environment")
    env = _environment(environ.get("KALSHI_ENV") or file_values.get("KALSHI_ENV") or "sim")

    key_id = get("KALSHI_API_KEY_ID")
    key_path_text = get("KALSHI_PRIVATE_KEY_PATH")
    key_path = _resolve(key_path_text, cwd) if key_path_text else _credential_key(environ)
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
        warning = check_key_file(key_path, key_id)
        if warning:
            warnings.append(warning)

    base = get("KALSHI_API_BASE")
    overridden = base is not None
    if base is not None:
        base = _check_base(base)
        _guard_production(base, env, "KALSHI_API_BASE")
    else:
        base = REST_BASES.get(env)

    ws_base = get("KALSHI_WS_BASE")
    if ws_base is not None:
        parts = _split_url(ws_base, "KALSHI_WS_BASE")
        if parts.scheme not in ("ws", "wss"):
            raise ConfigError(f"{ws_base!r} is not a ws:// or wss:// URL", "KALSHI_WS_BASE",
                              "write it like wss://host/trade-api/ws/v2")
        _guard_production(ws_base, env, "KALSHI_WS_BASE")

    data_dir_text = get("KALSHI_DATA_DIR")
    data_dir = _resolve(data_dir_text, cwd) if data_dir_text else default_data_dir(environ)
    log_dir = _resolve(get("KALSHI_LOG_DIR") or "logs", cwd)

    level = (get("KALSHI_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {level!r}", "KALSHI_LOG_LEVEL", "use DEBUG, INFO, WARNING or ERROR")
    log_format = (get("KALSHI_LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"unknown log format {log_format[:32]!r}", "KALSHI_LOG_FORMAT",
                          "use text (the default) or json")
    trade_notices = _switch(get("KALSHI_TRADE_NOTICES"), "KALSHI_TRADE_NOTICES")
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
        store_url=get("KALSHI_STORE"),
        log_dir=log_dir,
        log_level=level,
        log_retention_days=int(_ranged(get("KALSHI_LOG_RETENTION_DAYS"), "KALSHI_LOG_RETENTION_DAYS", 30)),
        log_format=log_format,
        trade_notices=trade_notices,
        rate_tier=tier,
        connect_timeout=_ranged(get("KALSHI_CONNECT_TIMEOUT"), "KALSHI_CONNECT_TIMEOUT", 3.05),
        read_timeout=_ranged(get("KALSHI_READ_TIMEOUT"), "KALSHI_READ_TIMEOUT", 10.0),
        env_file=used_file,
        warnings=tuple(warnings),
        notify=load_notify(get),
    )


def _switch(text: str | None, name: str) -> bool:
    """on/off (yes/no, true/false, 1/0); unset is off."""
    if text is None:
        return False
    value = SWITCHES.get(text.lower())
    if value is None:
        raise ConfigError(f"{text[:32]!r} is not on or off", name, "write on or off")
    return value


def _credential_key(environ: Mapping[str, str]) -> Path | None:
    """The private key systemd passed as a credential (`$CREDENTIALS_DIRECTORY/kalshi-private-key`), if any."""
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_KEY
    return path if path.is_file() else None


def _resolve(text: str, cwd: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else cwd / path


def _environment(raw: str) -> str:
    """KALSHI_ENV exactly as documented: `sim`, `demo` or `prod` (production is never guessed from `Prod`)."""
    if raw not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {raw!r}", "KALSHI_ENV",
                          "write exactly sim, demo or prod (lower case, no spaces)")
    return raw


def _split_url(url: str, name: str) -> SplitResult:
    """urlsplit, refusing what a base URL must not carry: spaces, control characters, user:password@, a bad port."""
    if any(ch.isspace() or ch == "\\" or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        raise ConfigError(f"{url!r} contains spaces, backslashes or control characters", name,
                          "write the URL without them")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. characters that change under NFKC normalisation
        raise ConfigError(f"{url!r} is not a valid URL ({exc})", name, "write it like https://host/trade-api/v2") \
            from None
    if "@" in parts.netloc:
        # not echoed: the part before @ may be a password
        raise ConfigError("the URL carries a user name or password", name, "remove the user@ part of the URL")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port", name, "use a port from 1 to 65535") from None
    if parts.netloc and not _HOST.fullmatch(normalise_host(url)):
        raise ConfigError(f"{url!r} does not name a valid host", name, "write it like https://host/trade-api/v2")
    return parts


def normalise_host(url: str) -> str:
    """The host of `url` as DNS sees it: percent-decoded, lower case, IDNA (punycode) ASCII form, no trailing
    dot, no port or user.  `https://EXTERNAL-API.Kalshi.com.:443/` -> `external-api.kalshi.com`."""
    try:
        host = unquote(urlsplit(url).hostname or "")
    except ValueError:
        return ""
    if host.startswith("[") or ":" in host:  # an IPv6 literal
        return host.lower()
    host = host.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host else host
    except UnicodeError:
        return host.lower()  # not a name DNS could resolve; compared as written
    return host.lower().rstrip(".")


def is_production_host(url: str) -> bool:
    """True when `url` reaches Kalshi's real-money exchange (any host under kalshi.com)."""
    host = normalise_host(url)
    return host in PROD_HOSTS or host == PROD_DOMAIN or host.endswith("." + PROD_DOMAIN)


def _guard_production(url: str, env: str, name: str) -> None:
    if env != "prod" and is_production_host(url):
        raise ConfigError(
            f"{name} points at production ({normalise_host(url)}) while KALSHI_ENV={env}",
            name, f"set KALSHI_ENV=prod explicitly to trade real money, or remove {name}",
        )


def _check_base(base: str) -> str:
    parts = _split_url(base, "KALSHI_API_BASE")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{base!r} is not an http(s) URL", "KALSHI_API_BASE",
                          "write it like https://host/trade-api/v2")
    path = parts.path.rstrip("/")
    if not path.endswith(API_SUFFIX):
        raise ConfigError(
            f"{base!r} does not end with {API_SUFFIX}", "KALSHI_API_BASE", f"append {API_SUFFIX} to the URL"
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _ranged(text: str | None, name: str, default: float) -> float:
    """A numeric setting: plain ASCII digits (one optional decimal point) inside its documented RANGES entry.
    Durations and day counts, not money: a float is the right type here."""
    if text is None:
        return default
    low, high, unit, whole = RANGES[name]
    fix = f"write a {'whole ' if whole else ''}number of {unit} from {low:g} to {high:g}"
    if len(text) > 32 or not _NUMBER.fullmatch(text) or (whole and "." in text):
        raise ConfigError(f"{text[:32]!r} is not a {'whole ' if whole else ''}number of {unit}", name, fix)
    value = float(text)
    if not low <= value <= high:
        raise ConfigError(f"{text} {unit} is out of range {low:g}..{high:g}", name, fix)
    return value


def check_key_file(path: Path, key_id: str | None = None) -> str | None:
    """Raise ConfigError if the key file is missing or unreadable; return a warning if others can read it.

    Messages name the file with the key id masked (`shown_key_path`)."""
    shown = shown_key_path(path, key_id)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"private key file {shown} does not exist", "KALSHI_PRIVATE_KEY_PATH",
            "point it at the .pem file downloaded when the key was created",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror}", "KALSHI_PRIVATE_KEY_PATH", "check the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{shown} is not a file", "KALSHI_PRIVATE_KEY_PATH", "point it at the .pem file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{shown} is not readable", "KALSHI_PRIVATE_KEY_PATH",
                          "chmod 600 the file KALSHI_PRIVATE_KEY_PATH names, as its owner")
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return (f"private key {shown} is readable by group or others; run chmod 600 on it "
                "(the file KALSHI_PRIVATE_KEY_PATH names)")
    return None


def load_private_key(path: Path, password: str | None = None, key_id: str | None = None) -> RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#1 or PKCS#8).  Every failure is a ConfigError (naming the file with
    the key id masked)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    check_key_file(path, key_id)
    shown = shown_key_path(path, key_id)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror}", "KALSHI_PRIVATE_KEY_PATH", "check the path") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(
            f"{shown} is not a PEM file", "KALSHI_PRIVATE_KEY_PATH",
            "use the .pem file Kalshi gave you (it starts with -----BEGIN ... PRIVATE KEY-----)",
        )
    if b"PRIVATE KEY-----" not in data:
        raise ConfigError(f"{shown} holds no private key", "KALSHI_PRIVATE_KEY_PATH",
                          "point it at the private key, not the public key or a certificate")
    secret = password.encode() if password else None
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError as exc:
        if "encrypted" in str(exc).lower() and secret is None:
            raise ConfigError(f"{shown} is encrypted", "KALSHI_PRIVATE_KEY_PASSWORD",
                              "set KALSHI_PRIVATE_KEY_PASSWORD") from None
        raise ConfigError(
            f"{shown} is not encrypted but a password was given", "KALSHI_PRIVATE_KEY_PASSWORD",
            "unset KALSHI_PRIVATE_KEY_PASSWORD",
        ) from None
    except ValueError as exc:
        if secret is not None and ("password" in str(exc).lower() or "decrypt" in str(exc).lower()):
            raise ConfigError(f"wrong password for {shown}", "KALSHI_PRIVATE_KEY_PASSWORD",
                              "check the password") from None
        raise ConfigError(f"{shown} is not a readable PEM private key", "KALSHI_PRIVATE_KEY_PATH",
                          "use the .pem file Kalshi gave you") from None
    except UnsupportedAlgorithm as exc:
        raise ConfigError(f"{shown}: unsupported key ({type(exc).__name__})", "KALSHI_PRIVATE_KEY_PATH",
                          "use an RSA key in PEM format") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{shown} is not an RSA key", "KALSHI_PRIVATE_KEY_PATH",
                          "Kalshi keys are RSA; use the .pem file Kalshi gave you")
    return key
