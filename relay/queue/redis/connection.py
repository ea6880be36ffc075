"""The Redis connection under every role of ``RedisStreamQueue``: client, scripts, consumer
group, errors, server checks.

Redis errors are translated here, at the module edge: an unreachable, loading, read-only or
full Redis is ``QueueUnavailable`` (intake answers 503); anything else is ``QueueError``. A
lost consumer group (``NOGROUP``, after Redis restarted empty) marks the connection for set-up
again instead of failing every operation after it.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import structlog
from redis import exceptions as rexc
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.exceptions import ConfigError, QueueError, QueueUnavailable
from relay.obs.logs import redact_secrets, redact_url, url_secrets
from relay.queue.redis.pipelining import TurnPipeline
from relay.queue.redis.scripts import GROUP, SCRIPTS

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

__all__ = ["RedisConnection", "as_text", "lost_group", "server_warnings"]

log = structlog.get_logger("relay.queue.redis")

T = TypeVar("T")
_UNAVAILABLE = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.BusyLoadingError,
    rexc.ReadOnlyError,
    rexc.OutOfMemoryError,
)
#: The scripts that only read (a queue opened read-only runs these alone).
_READ_SCRIPTS = frozenset({"stats"})
_UNAVAILABLE_CODES = ("OOM", "MISCONF", "READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS")


class RedisConnection:
    """One Redis client with the queue's scripts, its consumer group and error translation.

    The client's pool holds at most ``max_connections`` connections; an operation that finds
    them all busy waits up to ``pool_timeout`` seconds for one, then fails as
    ``QueueUnavailable`` (intake answers 503). ``history``: whether a new dial's history is
    recorded (a record once started follows its dial either way).
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "relay",
        consumer: str | None = None,
        max_connections: int = 50,
        pool_timeout: float = 5.0,
        history: bool = True,
    ) -> None:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"RELAY_QUEUE_URL: expected redis://host:6379/0, got {redact_url(url)}"
            )
        self.url = url
        self._password = password
        self.prefix = prefix
        self.base = "{" + prefix + "}"
        self.consumer = consumer or socket.gethostname()
        self.streams = tuple(f"{self.base}:stream:{name}" for name in ("0", "1", "direct"))
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.history = history  # record each new dial's history (relay.queue.history)
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._turns: TurnPipeline | None = None
        self._needs_setup = True
        self._set_up_once = False
        self._read_only = False

    async def open_read_only(self) -> None:
        """Connect for reads only: the consumer group is not created (``open`` creates the
        streams with it), so nothing is written under the prefix; every script that writes is
        refused (``QueueUnavailable``)."""
        self._read_only = True
        self._needs_setup = False
        await self.open()

    async def open(self) -> None:
        if self._client is not None:
            return
        try:
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.pool_timeout,
                password=self._password,
                decode_responses=False,
                socket_timeout=5.0,
                socket_connect_timeout=3.0,
                health_check_interval=30,
                retry=Retry(NoBackoff(), 1),
                client_name="relay:" + re.sub(r"[^\w.:-]", "_", self.consumer),
            )
        except (ValueError, TypeError) as exc:
            # redis-py's complaint may quote a piece of the password (a "port" read out of it)
            problem = redact_secrets(str(exc), url_secrets(self.url))
            raise ConfigError(f"RELAY_QUEUE_URL: {problem}") from None
        client = Redis.from_pool(pool)
        self._client = client
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        self._turns = TurnPipeline(client, self._scripts)
        try:
            await self._op(lambda _c: _nothing())
        except QueueUnavailable as exc:  # not ready until Redis answers; no restart needed
            log.warning("redis_unavailable", queue=repr(self), error=str(exc))

    async def close(self) -> None:
        if self._client is not None:
            if self._turns is not None:
                await self._turns.drain()
            await self._client.aclose()
            self._client = None
            self._turns = None

    async def _setup(self) -> None:
        """Create the consumer group on every stream, reading from the start (``0``)."""
        client = self._require()
        created = []
        for stream in self.streams:
            try:
                await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
                created.append(stream)
            except rexc.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        if created and self._set_up_once:
            log.warning("redis_group_recreated", streams=created, consumer=self.consumer)
        self._needs_setup = False
        self._set_up_once = True

    async def _check_server(self, client: Redis) -> None:
        """Warn about Redis settings that break the durability promise (docs/redis.md)."""
        try:
            info = await client.info()
        except rexc.ResponseError:  # INFO disabled (some managed services)
            return
        config: Mapping[Any, Any] = {}
        with contextlib.suppress(rexc.ResponseError):  # CONFIG is often off on managed Redis
            config = await client.config_get("appendfsync")
        for event, fields in server_warnings(info, config):
            log.warning(event, **fields)

    def _require(self) -> Redis:
        if self._client is None:
            raise QueueUnavailable("queue is not open")
        return self._client

    async def _op(self, fn: Callable[[Redis], Awaitable[T]]) -> T:
        """Run ``fn`` with the client; Redis errors become ``QueueError``/``QueueUnavailable``."""
        client = self._require()
        try:
            if self._needs_setup:
                await self._setup()
            return await fn(client)
        except rexc.RedisError as exc:
            if lost_group(exc) and not self._read_only:
                self._needs_setup = True
            raise _translate(exc) from exc

    async def _script(self, name: str, *args: Any) -> Any:
        if self._read_only and name not in _READ_SCRIPTS:
            raise QueueUnavailable("queue opened read-only")
        return await self._scripts[name](keys=[self.base], args=list(args))

    async def _grouped(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Script ``name`` in the next intake pipeline (``pipelining``): one round trip for
        every call that waits for it; errors translated like ``_op``'s."""
        turns = self._turns
        if turns is None:
            raise QueueUnavailable("queue is not open")
        if self._read_only:
            raise QueueUnavailable("queue opened read-only")
        return await self._op(lambda _c: turns.call(name, keys, args))


def server_warnings(
    info: Mapping[str, Any], config: Mapping[Any, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """What in Redis's ``INFO`` and config breaks the durability promise or the queue itself."""
    found: list[tuple[str, dict[str, Any]]] = []
    numbers = re.findall(r"\d+", as_text(info.get("redis_version", "")))
    version = tuple(int(n) for n in numbers[:2])
    if version and version < (6, 2):
        found.append(
            ("redis_version_unsupported", {"redis_version": info["redis_version"], "needs": "6.2"})
        )
    policy = as_text(info.get("maxmemory_policy", ""))
    if policy and policy != "noeviction":
        found.append(
            (
                "redis_eviction_policy_unsafe",
                {"maxmemory_policy": policy, "expected": "noeviction", "docs": "docs/redis.md"},
            )
        )
    if str(info.get("aof_enabled", "1")) == "0":
        found.append(
            (
                "redis_aof_disabled",
                {"expected": "appendonly yes, appendfsync everysec", "docs": "docs/redis.md"},
            )
        )
    fsync = as_text(config.get("appendfsync", config.get(b"appendfsync", "")))
    if fsync == "no":
        found.append(
            ("redis_appendfsync_unsafe", {"appendfsync": fsync, "expected": "everysec or always"})
        )
    return found


async def _nothing() -> None:
    return None


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def lost_group(exc: Exception) -> bool:
    text = str(exc)
    return "NOGROUP" in text or "UNBLOCKED" in text


def _translate(exc: rexc.RedisError) -> QueueError:
    if isinstance(exc, _UNAVAILABLE) or str(exc).startswith(_UNAVAILABLE_CODES):
        return QueueUnavailable(f"redis unavailable: {exc}")
    return QueueError(f"redis error: {exc}")
