"""Homes (where files live), config.toml and network profiles.

Search order for the home: `--home DIR`, then `$GONKA_HOME`, then the platform directories
(platformdirs, app name 'gonka': config in the user config dir, everything else in the user
data dir). With a home DIR everything lives under DIR.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gonka_tui.core.errors import ConfigError
from gonka_tui.core.network_constants import DEVNET_URL

APP_NAME = "gonka"
LOCAL_REFRESH_SECONDS = 15.0
REMOTE_REFRESH_SECONDS = 60.0  # public nodes allow about 20 requests a minute: poll them gently
REQUEST_DEADLINE_SECONDS = 30.0  # a request that no node answers usefully ends after this long
MAX_REQUEST_DEADLINE_SECONDS = 600.0
BUILTIN_NETWORKS = {
    # No chain id: `gonka devnet --chain-id X` makes another chain, and the node says which.
    "devnet": {"chain_id": None, "nodes": [DEVNET_URL]},
    "mainnet": {
        "chain_id": "gonka-mainnet",
        "nodes": ["http://node1.gonka.ai:8000", "http://node2.gonka.ai:8000", "https://node3.gonka.ai"],
        # Signed inference is disabled on mainnet (May 2026): it is bought through a broker.
        "broker": "openbroker",
    },
}

DEFAULT_CONFIG_TEXT = f"""\
# gonka configuration (TOML).
# Found at: --home DIR/config.toml, else $GONKA_HOME/config.toml, else the platform config dir.

# The network commands and the app use unless --network NAME is given.
default_network = "devnet"

# The key used when a command's --key is omitted (otherwise the only key, else an error).
# default_key = "alice"

# Lock the app after this many idle minutes (0 = never).
auto_lock_minutes = 10

# Remember the unlocked keystore in the OS keyring, where a real one exists.
remember_unlock = false

# Any Textual theme name, e.g. "textual-dark", "textual-light", "nord", "gruvbox".
theme = "textual-dark"

# Give up on a request no node answers usefully after this many seconds, retries and
# fail-over included ($GONKA_REQUEST_DEADLINE overrides it). Waiting for a sent transaction
# to be included has its own limit.
request_deadline_seconds = 30

# The built-in profiles are devnet ({DEVNET_URL}) and mainnet (public nodes).
# Override them or add your own:
# [networks.mynode]
# chain_id = "gonka-mainnet"
# nodes = ["http://my-node.example:8000"]
# broker = "mybroker"   # buy inference through this broker (`gonka broker add`) instead of signing

# Remap keys by action id (F1 in the app lists the ids):
# [keys]
# "wallet.create" = "c"
"""


@dataclass(frozen=True)
class Home:
    config_file: Path
    data_dir: Path

    @property
    def keystore_dir(self) -> Path:
        return self.data_dir / "keystore"

    @property
    def devnet_dir(self) -> Path:
        return self.data_dir / "devnet"

    @property
    def miner_dir(self) -> Path:
        return self.data_dir / "miner"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def address_book_file(self) -> Path:
        return self.data_dir / "address_book.json"


def resolve_home(cli_home: str | os.PathLike | None = None) -> Home:
    chosen = cli_home or os.environ.get("GONKA_HOME")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return Home(config_file=root / "config.toml", data_dir=root)
    import platformdirs

    return Home(
        config_file=platformdirs.user_config_path(APP_NAME) / "config.toml",
        data_dir=platformdirs.user_data_path(APP_NAME),
    )


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    chain_id: str | None
    nodes: tuple[str, ...]
    broker: str | None = None  # the broker (`gonka broker add NAME URL`) inference is bought from by default

    @property
    def local(self) -> bool:
        """Every node is on this machine (the devnet): nothing to be gentle with."""
        from urllib.parse import urlparse

        return all(urlparse(n).hostname in ("127.0.0.1", "localhost", "::1") for n in self.nodes)

    @property
    def refresh_seconds(self) -> float:
        return LOCAL_REFRESH_SECONDS if self.local else REMOTE_REFRESH_SECONDS


@dataclass(frozen=True)
class MinerSettings:
    """[miner]: the agent's watchdog, its API port and how long its recordings are kept."""

    restart_limit: int = 5  # a kernel given up after this many restarts …
    restart_window_minutes: int = 10  # … within this many minutes
    status_port: int = 26680
    retention_hours: int = 24


MINER_LIMITS = {"restart_limit": (1, 1000), "restart_window_minutes": (1, 24 * 60), "status_port": (1, 65535),
                "retention_hours": (1, 24 * 365)}


@dataclass(frozen=True)
class Config:
    file: Path
    default_network: str = "devnet"
    default_key: str | None = None
    auto_lock_minutes: int = 10
    remember_unlock: bool = False
    theme: str = "textual-dark"
    request_deadline_seconds: float = REQUEST_DEADLINE_SECONDS
    networks: dict[str, NetworkProfile] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    miner: MinerSettings = MinerSettings()

    def network(self, name: str | None = None) -> NetworkProfile:
        name = name or self.default_network
        try:
            return self.networks[name]
        except KeyError:
            raise ConfigError(f"unknown network '{name}' (known: {', '.join(sorted(self.networks))})") from None


NODE_ENV = "GONKA_NODE"
DEADLINE_ENV = "GONKA_REQUEST_DEADLINE"


def _deadline_problem(value: object) -> str | None:
    """Why `value` is not a usable request deadline in seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_REQUEST_DEADLINE_SECONDS:
        return f"must be a number of seconds above 0 and at most {MAX_REQUEST_DEADLINE_SECONDS:g}"
    return None


def request_deadline(config: "Config") -> float:
    """Seconds one request to the network may take: $GONKA_REQUEST_DEADLINE, else the config's."""
    text = os.environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return float(config.request_deadline_seconds)
    value = float(text) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else None
    if problem := _deadline_problem(value):
        raise ConfigError(f"${DEADLINE_ENV}={text[:40]!r} {problem}")
    return value


def select_network(config: "Config", network: str | None, node: str | None) -> NetworkProfile:
    """The profile to use: --network NAME (else default_network); --node URL / $GONKA_NODE
    replaces its nodes, and then the chain id comes from the node itself."""
    profile = config.network(network)
    node = node or os.environ.get(NODE_ENV)
    if node:
        node = node.strip().rstrip("/")
        if not _URL_RE.match(node):
            raise ConfigError(f"--node '{node}' is not an http(s) URL")
        return NetworkProfile(f"{profile.name} via {node}", None, (node,), profile.broker)
    return profile


def _line_of(text: str, key: str, section: str | None = None) -> int | None:
    start = 0
    if section:
        header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(section)}[ \t]*\]", text, re.M)
        start = header.start() if header else 0
    pattern = re.compile(rf"^[ \t]*(\[[ \t]*)?[\"']?{re.escape(key)}[\"']?[ \t]*(=|\]|\.)", re.M)
    m = pattern.search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _where(file: Path, text: str, key: str, section: str | None = None) -> str:
    line = _line_of(text, key, section)
    return f"{file}, line {line}" if line else str(file)


_URL_RE = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
_BROKER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # as core/brokers.py names them


def load_config(home: Home) -> Config:
    file = home.config_file
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if "(at end of document)" in message:  # tomllib names no line there: it is the last one
            message = message.replace("(at end of document)", f"(at line {text.count(chr(10)) or 1}, end of file)")
        raise ConfigError(f"{file}: {message}") from None

    def bad(key: str, message: str, section: str | None = None) -> ConfigError:
        return ConfigError(f"{_where(file, text, key, section)}: {message}")

    known = {"default_network", "default_key", "auto_lock_minutes", "remember_unlock", "theme",
             "request_deadline_seconds", "networks", "keys", "miner"}
    for key in data:
        if key not in known:
            raise bad(key, f"unknown setting '{key}' (known: {', '.join(sorted(known))})")

    networks = {name: NetworkProfile(name, p["chain_id"], tuple(p["nodes"]), p.get("broker"))
                for name, p in BUILTIN_NETWORKS.items()}
    user_networks = data.get("networks", {})
    if not isinstance(user_networks, dict):
        raise bad("networks", "'networks' must be a table of [networks.NAME] sections")
    for name, prof in user_networks.items():
        if not isinstance(prof, dict):
            raise bad(f"networks.{name}", f"[networks.{name}] must be a table")
        base = BUILTIN_NETWORKS.get(name, {})
        for key in prof:
            if key not in ("chain_id", "nodes", "broker"):
                raise bad(key, f"[networks.{name}]: unknown setting '{key}' (known: chain_id, nodes, broker)",
                          f"networks.{name}")
        chain_id = prof.get("chain_id", base.get("chain_id"))
        nodes = prof.get("nodes", base.get("nodes"))
        if chain_id is not None and (not isinstance(chain_id, str) or not chain_id):
            raise bad("chain_id", f"[networks.{name}]: chain_id must be a non-empty string", f"networks.{name}")
        if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
            raise bad("nodes", f"[networks.{name}]: nodes must be a non-empty list of URLs", f"networks.{name}")
        for node in nodes:
            if not _URL_RE.match(node):
                raise bad("nodes", f"[networks.{name}]: '{node}' is not an http(s) URL", f"networks.{name}")
        broker = prof.get("broker", base.get("broker"))
        if broker not in (None, "") and (not isinstance(broker, str) or not _BROKER_RE.fullmatch(broker)):
            raise bad("broker", f"[networks.{name}]: broker must be the name of a broker (`gonka broker list`)",
                      f"networks.{name}")
        networks[name] = NetworkProfile(name, chain_id, tuple(n.rstrip("/") for n in nodes), broker or None)

    default_network = data.get("default_network", "devnet")
    if not isinstance(default_network, str) or default_network not in networks:
        raise bad("default_network", f"default_network '{default_network}' is not a known network ({', '.join(sorted(networks))})")
    default_key = data.get("default_key")
    if default_key is not None and (not isinstance(default_key, str) or not default_key):
        raise bad("default_key", "default_key must be a key name")
    auto_lock = data.get("auto_lock_minutes", 10)
    if isinstance(auto_lock, bool) or not isinstance(auto_lock, int) or auto_lock < 0:
        raise bad("auto_lock_minutes", "auto_lock_minutes must be a whole number of minutes, 0 for never")
    remember = data.get("remember_unlock", False)
    if not isinstance(remember, bool):
        raise bad("remember_unlock", "remember_unlock must be true or false")
    theme = data.get("theme", "textual-dark")
    if not isinstance(theme, str):
        raise bad("theme", "theme must be a theme name")
    deadline = data.get("request_deadline_seconds", REQUEST_DEADLINE_SECONDS)
    if problem := _deadline_problem(deadline):
        raise bad("request_deadline_seconds", f"request_deadline_seconds {problem}")
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise bad("keys", "[keys] maps action ids to key names, e.g. \"wallet.create\" = \"c\"")
    miner = data.get("miner", {})
    if not isinstance(miner, dict):
        raise bad("miner", "[miner] must be a table")
    for key, value in miner.items():
        if key not in MINER_LIMITS:
            raise bad(key, f"[miner]: unknown setting '{key}' (known: {', '.join(MINER_LIMITS)})", "miner")
        low, high = MINER_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(key, f"[miner]: {key} must be a whole number from {low} to {high}", "miner")
    return Config(file, default_network, default_key, auto_lock, remember, theme, float(deadline), networks,
                  dict(keys), MinerSettings(**miner))


def ensure_config(home: Home) -> None:
    """Write the commented default config.toml when the home has none."""
    if home.config_file.exists():
        return
    from gonka_tui.core.fileio import ensure_private_dir, write_atomic

    ensure_private_dir(home.config_file.parent)
    write_atomic(home.config_file, DEFAULT_CONFIG_TEXT.encode("utf-8"), mode=0o600)
