"""The shared queue: Redis Streams and one consumer group, so N replicas share the work.

Due dials are entries in a lane stream (live, then backfill); the consumer group hands each
entry to one replica (``XREADGROUP``), where it stays pending until the dial has an outcome.
``XACK`` (with ``XDEL``) happens only when outboundIQ accepted the dial, or in the same Lua
script that moves it to the delayed set (a retry) or the dead-letter store, so a dial is
always somewhere. A replica that dies leaves its entries pending; any other takes them over
with ``XAUTOCLAIM`` once they have been idle for the visibility timeout, and an entry handed
out more than ``max_deliveries`` times without an outcome (``XPENDING`` delivery count) is
dead-lettered as poison. Retries wait in a sorted set and move back to their lane when due.
Every multi-key change is one Lua script (``redis_lua``), so it is atomic.

Time: due times use the caller's clock, like SQLite. Lease expiry is Redis's own idle time
of the pending entry, so a lease expires after ``visibility`` real seconds whatever ``now``
the caller passes.

If Redis restarts empty or the group disappears, the next operation recreates the group
(``NOGROUP`` is recovered, not looped on); while Redis cannot be reached every operation
raises ``QueueUnavailable`` (intake answers 503) and ``ping()`` is False (``/readyz``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
import structlog
from redis import exceptions as rexc
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.exceptions import ConfigError, QueueError, QueueUnavailable
from relay.queue.base import DeadDial, LeasedDial, NewDial, QueueStats, RejectedRecord
from relay.queue.redis_lua import GROUP, SCRIPTS

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from relay.settings import Settings

__all__ = ["RedisStreamQueue", "server_warnings"]

log = structlog.get_logger("relay.queue.redis")

T = TypeVar("T")
_PROMOTE_BATCH = 1000
_PAGE = 200
_PRUNE_EVERY = 600.0  # seconds between sweeps of consumers that left
_PRUNE_IDLE_MS = 3_600_000  # a consumer idle this long with nothing pending is removed
_UNAVAILABLE = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.BusyLoadingError,
    rexc.ReadOnlyError,
    rexc.OutOfMemoryError,
)
_UNAVAILABLE_CODES = ("OOM", "MISCONF", "READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS")


class RedisStreamQueue:
    """``DialQueue`` on Redis Streams (see the module docstring for the design)."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "relay",
        consumer: str | None = None,
        max_deliveries: int = 5,
        block_seconds: float = 0.5,
    ) -> None:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"RELAY_QUEUE_URL: expected redis://host:6379/0, got {_redact(url)}")
        self.url = url
        self._password = password
        self.prefix = prefix
        self.base = "{" + prefix + "}"
        self.consumer = consumer or socket.gethostname()
        self.max_deliveries = max_deliveries
        self.block_seconds = block_seconds
        self.streams = tuple(f"{self.base}:stream:{name}" for name in ("0", "1", "direct"))
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._needs_setup = True
        self._set_up_once = False
        self._server_checked = False
        self._cursors: dict[str, Any] = {}
        self._next_reclaim = 0.0
        self._next_prune = 0.0
        self._visibility = 60.0

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> RedisStreamQueue:
        if settings is None:
            return cls(url)
        password = settings.redis_password
        return cls(
            url,
            password=password.get_secret_value() if password is not None else None,
            prefix=settings.redis_key_prefix,
            consumer=settings.redis_consumer,
            max_deliveries=settings.redis_max_deliveries,
        )

    def __repr__(self) -> str:
        return (
            f"RedisStreamQueue({_redact(self.url)!r}, prefix={self.prefix!r}, "
            f"consumer={self.consumer!r})"
        )

    # --- connection ----------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is not None:
            return
        try:
            client = Redis.from_url(
                self.url,
                password=self._password,
                decode_responses=False,
                socket_timeout=5.0,
                socket_connect_timeout=3.0,
                health_check_interval=30,
                retry=Retry(NoBackoff(), 1),
                client_name="relay:" + re.sub(r"[^\w.:-]", "_", self.consumer),
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"RELAY_QUEUE_URL: {exc}") from None
        self._client = client
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        try:
            await self._op(lambda _c: _nothing())
        except QueueUnavailable as exc:  # not ready until Redis answers; no restart needed
            log.warning("redis_unavailable", queue=repr(self), error=str(exc))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            await asyncio.wait_for(self._client.ping(), 3.0)
            if self._needs_setup:
                await self._setup()
        except (rexc.RedisError, TimeoutError, OSError):
            return False
        return True

    async def _setup(self) -> None:
        """Create the consumer group on every stream (from the start: ``0``), then check Redis."""
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
            if _lost_group(exc):
                self._needs_setup = True
            raise _translate(exc) from exc

    async def _script(self, name: str, *args: Any) -> Any:
        return await self._scripts[name](keys=[self.base], args=list(args))

    # --- delivery path -----------------------------------------------------------------
    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        seen = f"{self.base}:seen:{len(dial.source)}:{dial.source}:{dial.dial_id}"
        window_ms = int(dedupe_seconds * 1000) if dedupe_seconds > 0 else 0
        due = dial.due_at if dial.due_at is not None else dial.received_at
        args = [
            dial.source,
            dial.dial_id,
            dial.payload,
            0 if dial.lane <= 0 else 1,
            repr(dial.received_at),
            repr(due),
            dial.kind,
            window_ms,
            repr(dedupe_seconds),
        ]
        result = await self._op(
            lambda _c: self._scripts["enqueue"](keys=[self.base, seen], args=args)
        )
        return bool(result != 0)

    async def lease(
        self,
        limit: int,
        visibility: float,
        *,
        now: float,
        exclude_sources: Collection[str] = (),
        only_sources: Collection[str] | None = None,
        horizon: float | None = None,
    ) -> list[LeasedDial]:
        if limit <= 0 or (only_sources is not None and not only_sources):
            return []
        self._visibility = visibility
        if not self._server_checked:  # a replica's first lease; operator commands never lease
            await self._op(self._check_server)
            self._server_checked = True
        if only_sources is not None:
            until = now if horizon is None else max(now, horizon)
            rows = await self._op(lambda _c: self._take(limit, until, now, "o", only_sources))
            return [d for _, d in sorted(rows, key=lambda r: r[0])]

        async def run(client: Redis) -> list[tuple[tuple[int, float, int], LeasedDial]]:
            mode = "x" if exclude_sources else ""
            next_delayed = await self._promote(now)
            got = await self._reclaim(limit, visibility, now, mode, exclude_sources)
            block = self._block_ms(next_delayed, now) if horizon is None and not got else 0
            got += await self._read(client, limit - len(got), now, mode, exclude_sources, block)
            if len(got) < limit and horizon is not None and horizon > now:
                got += await self._take(limit - len(got), horizon, now, mode, exclude_sources)
            return got

        return [d for _, d in sorted(await self._op(run), key=lambda r: r[0])]

    async def _promote(self, now: float) -> float | None:
        _moved, nxt = await self._script("promote", repr(now), _PROMOTE_BATCH)
        return float(nxt) if nxt else None

    def _block_ms(self, next_delayed: float | None, now: float) -> int:
        wait = self.block_seconds
        if next_delayed is not None:
            wait = min(wait, next_delayed - now)
        return int(wait * 1000) if wait >= 0.01 else 0

    async def _reclaim(
        self, limit: int, visibility: float, now: float, mode: str, sources: Collection[str]
    ) -> list[tuple[tuple[int, float, int], LeasedDial]]:
        """Take over leases idle for ``visibility`` (their replica died), at most every 1 s."""
        clock = time.monotonic()
        if clock < self._next_reclaim:
            return []
        self._next_reclaim = clock + min(1.0, visibility / 4)
        got: list[tuple[tuple[int, float, int], LeasedDial]] = []
        for stream in self.streams:
            want = limit - len(got)
            if want <= 0:
                break
            cursor, rows, poisoned, created = await self._script(
                "claim",
                stream,
                self.consumer,
                max(1, int(visibility * 1000)),
                self._cursors.get(stream, "0-0"),
                want,
                self.max_deliveries,
                repr(now),
                mode,
                *sources,
            )
            self._cursors[stream] = cursor
            if created:
                log.warning("redis_group_recreated", streams=[stream], consumer=self.consumer)
            got += self._rows(rows, poisoned)
        if clock >= self._next_prune:
            self._next_prune = clock + _PRUNE_EVERY
            await self._prune_consumers()
        return got

    async def _read(
        self,
        client: Redis,
        want: int,
        now: float,
        mode: str,
        sources: Collection[str],
        block_ms: int,
    ) -> list[tuple[tuple[int, float, int], LeasedDial]]:
        """New entries for this consumer, live lane first; blocks briefly when there are none."""
        got: list[tuple[tuple[int, float, int], LeasedDial]] = []
        lanes = self.streams[:2]
        try:
            for stream in lanes:
                if want - len(got) <= 0:
                    break
                reply = await client.xreadgroup(
                    GROUP, self.consumer, {stream: ">"}, count=want - len(got)
                )
                got += await self._mark(reply, want - len(got), now, mode, sources)
            if not got and block_ms > 0 and want > 0:
                reply = await client.xreadgroup(
                    GROUP, self.consumer, dict.fromkeys(lanes, ">"), count=want, block=block_ms
                )
                got += await self._mark(reply, want, now, mode, sources)
        except rexc.ResponseError as exc:
            if not _lost_group(exc):
                raise
            log.warning("redis_group_lost", error=str(exc))
            await self._setup()
        return got

    async def _mark(
        self, reply: Any, cap: int, now: float, mode: str, sources: Collection[str]
    ) -> list[tuple[tuple[int, float, int], LeasedDial]]:
        got: list[tuple[tuple[int, float, int], LeasedDial]] = []
        for stream, entries in reply or []:
            triples: list[Any] = []
            for eid, fields in entries:
                triples += [eid, (fields or {}).get(b"q", b""), (fields or {}).get(b"d", b"0")]
            if not triples:
                continue
            rows, poisoned = await self._script(
                "mark",
                stream,
                cap - len(got),
                self.max_deliveries,
                repr(now),
                mode,
                len(sources),
                *sources,
                *triples,
            )
            got += self._rows(rows, poisoned)
        return got

    async def _take(
        self, limit: int, horizon: float, now: float, mode: str, sources: Collection[str]
    ) -> list[tuple[tuple[int, float, int], LeasedDial]]:
        rows, poisoned = await self._script(
            "take",
            self.consumer,
            repr(horizon),
            limit,
            self.max_deliveries,
            repr(now),
            mode,
            *sources,
        )
        return self._rows(rows, poisoned)

    def _rows(self, rows: Any, poisoned: Any) -> list[tuple[tuple[int, float, int], LeasedDial]]:
        for qid, source, dial_id, deliveries in poisoned:
            log.error(
                "dial_poisoned",
                queue_id=qid.decode(),
                source=source.decode(),
                dial_id=dial_id.decode(),
                deliveries=int(deliveries),
            )
        out = []
        for qid, source, dial_id, payload, attempts, received, kind, lane, due in rows:
            dial = LeasedDial(
                id=qid.decode(),
                source=source.decode(),
                dial_id=dial_id.decode(),
                payload=bytes(payload),
                attempts=int(attempts),
                received_at=float(received),
                kind=kind.decode(),
            )
            out.append(((int(lane), float(due), int(qid)), dial))
        return out

    async def _prune_consumers(self) -> None:
        client = self._require()
        for stream in self.streams:
            for info in await client.xinfo_consumers(stream, GROUP):
                name = _text(info.get("name", b""))
                if (
                    name != self.consumer
                    and int(info.get("pending", 0)) == 0
                    and int(info.get("idle", 0)) > _PRUNE_IDLE_MS
                ):
                    await client.xgroup_delconsumer(stream, GROUP, name)

    async def ack(self, ids: Sequence[str]) -> None:
        if ids:
            await self._op(lambda _c: self._script("ack", *ids))

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        await self._op(lambda _c: self._script("replace", queue_id, payload, kind))

    async def retry(self, dial_id: str, due_at: float, error: str) -> None:
        await self._op(lambda _c: self._script("retry", dial_id, repr(due_at), error[:500]))

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        if ids:
            await self._op(lambda _c: self._script("release", repr(now), *ids))

    async def delay_sources(self, sources: Collection[str], until: float) -> int:
        """Push every waiting dial of ``sources`` to ``until`` (a held key's next probe)."""
        if not sources:
            return 0
        return int(await self._op(lambda _c: self._script("delay_sources", repr(until), *sources)))

    async def release_delayed(self, *, now: float, sources: Collection[str] | None = None) -> int:
        if sources is not None and not sources:
            return 0
        every = "1" if sources is None else "0"
        args = (repr(now), every, *(sources or ()))
        return int(await self._op(lambda _c: self._script("release_delayed", *args)))

    async def next_due(self) -> float | None:
        delayed, lane0, lane1, idle_ms = await self._op(lambda _c: self._script("next_due"))
        times = [float(v) for v in (delayed, lane0, lane1) if v]
        if int(idle_ms) >= 0:  # the oldest lease expires (and is taken over) at about this time
            times.append(time.time() + self._visibility - int(idle_ms) / 1000)
        return min(times) if times else None

    async def dead_letter(
        self, queue_id: str, *, reason: str, status: int | None, response_body: str, now: float
    ) -> None:
        args = (queue_id, reason, "" if status is None else str(status), response_body[:4000])
        await self._op(lambda _c: self._script("dead_letter", *args, repr(now)))

    async def stats(self, *, now: float) -> QueueStats:
        reply = await self._op(lambda _c: self._script("stats", repr(now)))
        ready, delayed, leased, dead, rejected, oldest, *counts = reply
        return QueueStats(
            ready=int(ready),
            delayed=int(delayed),
            leased=int(leased),
            dead=int(dead),
            rejected=int(rejected),
            oldest_received_at=float(oldest) if oldest else None,
            by_source={
                counts[i].decode(): int(counts[i + 1])
                for i in range(0, len(counts), 2)
                if int(counts[i + 1]) > 0
            },
        )

    # --- dead letters and rejected requests ----------------------------------------------
    async def _records(
        self, kind: str, limit: int, keep: Callable[[str, dict[bytes, bytes]], bool]
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Records of ``kind`` in id order that ``keep`` accepts, paging through the index."""

        async def run(client: Redis) -> list[tuple[str, dict[bytes, bytes]]]:
            out: list[tuple[str, dict[bytes, bytes]]] = []
            start = 0
            while len(out) < limit:
                ids = [
                    _text(i)
                    for i in await client.zrange(f"{self.base}:{kind}", start, start + _PAGE - 1)
                ]
                if not ids:
                    break
                start += _PAGE
                pipe = client.pipeline(transaction=False)
                for record_id in ids:
                    pipe.hgetall(f"{self.base}:{kind}:{record_id}")
                for record_id, fields in zip(ids, await pipe.execute(), strict=True):
                    if fields and keep(record_id, fields):
                        out.append((record_id, fields))
            return out[:limit]

        return await self._op(run)

    async def _record(self, kind: str, record_id: str) -> dict[bytes, bytes] | None:
        key = f"{self.base}:{kind}:{record_id}"
        fields: dict[Any, Any] = await self._op(lambda c: c.hgetall(key))
        return fields or None

    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
    ) -> list[DeadDial]:
        def keep(record_id: str, f: dict[bytes, bytes]) -> bool:
            dead = _dead(record_id, f)
            return (
                (not source or dead.source == source)
                and (status is None or dead.status == status)
                and (before is None or dead.dead_at < before)
            )

        return [_dead(i, f) for i, f in await self._records("dead", limit, keep)]

    async def get_dead(self, queue_id: str) -> DeadDial | None:
        fields = await self._record("dead", queue_id)
        return _dead(queue_id, fields) if fields else None

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("replay_dead", repr(now), *ids)))

    async def purge_dead(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("purge", "dead", *ids)))

    async def add_rejected(self, record: RejectedRecord) -> str:
        args = (
            record.source,
            repr(record.received_at),
            record.method,
            record.content_type,
            orjson.dumps(record.query),
            record.body,
            orjson.dumps(record.problems),
        )
        return _text(await self._op(lambda _c: self._script("add_rejected", *args)))

    async def list_rejected(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[RejectedRecord]:
        def keep(_id: str, f: dict[bytes, bytes]) -> bool:
            return not source or f.get(b"s", b"").decode() == source

        return [_rejected(i, f) for i, f in await self._records("rejected", limit, keep)]

    async def get_rejected(self, record_id: str) -> RejectedRecord | None:
        fields = await self._record("rejected", record_id)
        return _rejected(record_id, fields) if fields else None

    async def delete_rejected(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._op(lambda _c: self._script("purge", "rejected", *ids)))


def server_warnings(
    info: Mapping[str, Any], config: Mapping[Any, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """What in Redis's ``INFO`` and config breaks the durability promise or the queue itself."""
    found: list[tuple[str, dict[str, Any]]] = []
    version = tuple(int(p) for p in re.findall(r"\d+", _text(info.get("redis_version", "")))[:2])
    if version and version < (6, 2):
        found.append(
            ("redis_version_unsupported", {"redis_version": info["redis_version"], "needs": "6.2"})
        )
    policy = _text(info.get("maxmemory_policy", ""))
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
    fsync = _text(config.get("appendfsync", config.get(b"appendfsync", "")))
    if fsync == "no":
        found.append(
            ("redis_appendfsync_unsafe", {"appendfsync": fsync, "expected": "everysec or always"})
        )
    return found


async def _nothing() -> None:
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _lost_group(exc: Exception) -> bool:
    text = str(exc)
    return "NOGROUP" in text or "UNBLOCKED" in text


def _translate(exc: rexc.RedisError) -> QueueError:
    if isinstance(exc, _UNAVAILABLE) or str(exc).startswith(_UNAVAILABLE_CODES):
        return QueueUnavailable(f"redis unavailable: {exc}")
    return QueueError(f"redis error: {exc}")


def _dead(record_id: str, f: dict[bytes, bytes]) -> DeadDial:
    status = f.get(b"st", b"")
    return DeadDial(
        id=record_id,
        source=f[b"s"].decode(),
        dial_id=f[b"i"].decode(),
        payload=f[b"p"],
        attempts=int(f.get(b"a", b"0")),
        received_at=float(f[b"r"]),
        dead_at=float(f[b"t"]),
        reason=f[b"why"].decode(),
        status=int(status) if status else None,
        response_body=f.get(b"b", b"").decode(),
    )


def _rejected(record_id: str, f: dict[bytes, bytes]) -> RejectedRecord:
    return RejectedRecord(
        id=record_id,
        source=f[b"s"].decode(),
        received_at=float(f[b"r"]),
        method=f[b"m"].decode(),
        content_type=f[b"c"].decode(),
        query=orjson.loads(f[b"q"]),
        body=f[b"b"],
        problems=orjson.loads(f[b"x"]),
    )
