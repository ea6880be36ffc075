"""Process settings, read from ``RELAY_*`` environment variables (a user-facing contract)."""

from __future__ import annotations

import difflib
import ipaddress
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relay.config.network import IPNetwork, parse_networks
from relay.obs.logs import redact_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The shortest ``RELAY_ADMIN_TOKEN`` accepted.
MIN_ADMIN_TOKEN = 16


class Settings(BaseSettings):
    """Everything the relay process is configured with. Names are part of the public contract."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    outboundiq_url: str = "https://api.outboundiq.cloud"
    outboundiq_api_key: SecretStr | None = None
    sources_file: Path | None = None
    queue_url: str = Field(default="sqlite:///relay-queue.db", repr=False)  # may hold a password
    log_level: str = "INFO"
    dry_run: bool = False
    # The operator's token for /admin/... (the live event feed); unset: those routes are 404
    admin_token: SecretStr | None = None
    # The base URL dialers reach the relay at (https://relay.example.com); the console shows
    # each source's hook URL under it. Unset: the address the console was opened at.
    public_url: str | None = None

    # Intake
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # A Kinesis Data Firehose source's request, received and (gzip) inflated: its own bound
    firehose_max_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    dedupe_window_seconds: float = Field(default=24 * 3600, ge=0)
    # The rejected store's limits (docs/operations.md); 0 turns a limit off
    rejected_max_age_seconds: float = Field(default=30 * 86400, ge=0)
    rejected_max_records: int = Field(default=50_000, ge=0)
    # How long a settled dial's history is kept (docs/operations.md); 0 turns history off
    dial_history_seconds: float = Field(default=7 * 86400, ge=0)

    # Intake protection (docs/security.md)
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    max_header_count: int = Field(default=100, gt=0)
    max_header_bytes: int = Field(default=32 * 1024, gt=0)
    max_json_depth: int = Field(default=32, gt=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=15.0, gt=0)
    keep_alive_seconds: int = Field(default=5, gt=0)
    max_connections: int = Field(default=1000, gt=0)
    max_connections_per_client: int = Field(default=500, ge=0)  # per address; 0 = no limit

    # Forwarder
    forward_concurrency: int = Field(default=64, ge=1)
    forward_timeout_seconds: float = Field(default=10.0, gt=0)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_cap_seconds: float = Field(default=600.0, gt=0)
    retry_after_cap_seconds: float = Field(default=3600.0, gt=0)
    max_age_seconds: float = Field(default=72 * 3600, gt=0)
    key_probe_seconds: float = Field(default=60.0, gt=0)
    visibility_timeout_seconds: float = Field(default=60.0, gt=0)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    circuit_threshold: int = Field(default=5, ge=1)
    circuit_probe_seconds: float = Field(default=2.0, gt=0)
    rate_limit_per_key: float = Field(default=0.0, ge=0)  # dials/s per outboundIQ key; 0 = off
    worker_stall_seconds: float = Field(default=30.0, gt=0)

    # Mappings
    mappings_dir: Path | None = None

    # Redis queue (RELAY_QUEUE_URL=redis://… or rediss://…; see docs/redis.md)
    redis_password: SecretStr | None = None  # used when the URL carries none
    redis_key_prefix: str = Field(default="relay", min_length=1)
    redis_consumer: str | None = None  # default: the host (pod) name; unique per replica
    redis_max_deliveries: int = Field(default=5, ge=1)  # more lease take-overs: dead letter
    redis_max_connections: int = Field(default=50, ge=1)  # the pool; a busy one waits
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0)  # then: unavailable (503)

    @field_validator("outboundiq_url")
    @classmethod
    def _destination(cls, value: str) -> str:
        return destination_url(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            close = difflib.get_close_matches(value.upper(), LOG_LEVELS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown log level {value!r}: use {', '.join(LOG_LEVELS)}{hint}")
        return value

    @field_validator("outboundiq_api_key", "admin_token", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        """An empty (or blank) key is no key: refused outside dry-run, never sent; an empty
        admin token leaves ``/admin/...`` off."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("admin_token")
    @classmethod
    def _long_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        """The admin token guards every call's data: a short one could be guessed."""
        if value is not None and len(value.get_secret_value().strip()) < MIN_ADMIN_TOKEN:
            raise ValueError(
                f"must be at least {MIN_ADMIN_TOKEN} characters (e.g. openssl rand -hex 32)"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[IPNetwork]:
        return parse_networks(value)

    def warnings(self) -> list[str]:
        """What is allowed but probably a mistake (``relay check`` prints it, start logs it)."""
        parts = urlsplit(self.outboundiq_url)
        if parts.scheme == "http" and not _loopback(parts.hostname or ""):
            return [
                f"RELAY_OUTBOUNDIQ_URL uses plain http:// to {parts.hostname}: outboundIQ keys "
                "and call data would cross the network unencrypted (use https://)"
            ]
        return []

    def redacted(self) -> dict[str, object]:
        """Settings as a dict safe to print or log (secrets stay ``SecretStr``)."""
        values = self.model_dump()
        values["queue_url"] = redact_url(self.queue_url)
        return values


def destination_url(value: str) -> str:
    """``RELAY_OUTBOUNDIQ_URL`` checked: http(s), a host, a valid port, no credentials.

    A typo (``htp://``, a bare host) would otherwise start normally and retry every dial
    until it dead-letters 72 hours later. The URL itself is never quoted back (the error is
    printed and logged).
    """
    text = value.strip()
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("must be a URL without spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", an unclosed [IPv6 literal
        raise ValueError(f"not a usable URL ({exc})") from None
    if not parts.scheme or "://" not in text:
        raise ValueError("no scheme: write https://host (e.g. https://api.outboundiq.cloud)")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme {parts.scheme[:10]!r} is not https:// (or http://)")
    if not parts.hostname:
        raise ValueError("no host: write https://host (e.g. https://api.outboundiq.cloud)")
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials: the key is RELAY_OUTBOUNDIQ_API_KEY")
    if port == 0:
        raise ValueError("port 0 is not a port")
    return text


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
