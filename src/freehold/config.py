"""One settings object for the whole server, from command-line flags and FREEHOLD_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

Durability = Literal["process", "fsync"]


class ConfigError(ValueError):
    """A setting with a value freehold cannot use; the message names it."""


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FREEHOLD_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(f"FREEHOLD_{name}")
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _positive_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0 < value < float("inf")


@dataclass(frozen=True)
class Settings:
    """How one freehold node runs.

    host/port: where the gateway listens. data_dir: SQLite database, blobs, caches.
    state_url: '' for SQLite in data_dir, or postgresql://... for shared PostgreSQL.
    strict_auth: verify SigV4 signatures against known keys and reject bad ones.
    durability: 'process' survives kill -9 of the server; 'fsync' survives power loss.
    """

    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = field(default_factory=lambda: Path(".freehold"))
    state_url: str = ""
    strict_auth: bool = False
    durability: Durability = "process"
    default_region: str = "us-east-1"
    log_level: str = "info"
    # Seconds between passes of the DynamoDB TTL deleter (AWS deletes within days).
    dynamodb_ttl_interval: float = 5.0

    @staticmethod
    def from_env() -> "Settings":
        """Settings from FREEHOLD_* variables; a value that makes no sense is refused with a
        ConfigError naming the variable (never silently replaced by a default)."""
        durability = _env("DURABILITY", "process").strip().lower()
        if durability not in ("process", "fsync"):
            raise ConfigError(f"FREEHOLD_DURABILITY must be 'process' or 'fsync', not {durability!r}")
        port = _env("PORT", "4566")
        if not port.strip().isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"FREEHOLD_PORT must be a port number (1-65535), not {port!r}")
        ttl_interval = _env("DYNAMODB_TTL_INTERVAL", "5")
        if not _positive_number(ttl_interval):
            raise ConfigError(
                f"FREEHOLD_DYNAMODB_TTL_INTERVAL must be a number of seconds above 0, not {ttl_interval!r}"
            )
        return Settings(
            host=_env("HOST", "127.0.0.1"),
            port=int(port),
            data_dir=Path(_env("DATA_DIR", ".freehold")),
            state_url=_env("STATE", ""),
            strict_auth=_env_bool("STRICT_AUTH", False),
            durability="fsync" if durability == "fsync" else "process",
            default_region=_env("DEFAULT_REGION", "us-east-1"),
            log_level=_env("LOG_LEVEL", "info"),
            dynamodb_ttl_interval=float(ttl_interval),
        )

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with the given (non-None) fields replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
