"""Durable queues behind one interface: ``open_queue(url)`` picks the backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from relay.exceptions import ConfigError
from relay.queue.base import DeadDial, DialQueue, LeasedDial, NewDial, QueueStats, RejectedRecord

__all__ = [
    "DeadDial",
    "DialQueue",
    "LeasedDial",
    "NewDial",
    "QueueStats",
    "RejectedRecord",
    "create_queue",
]


def create_queue(url: str) -> DialQueue:
    """The queue for ``RELAY_QUEUE_URL``: ``sqlite:///path.db`` or ``redis://host:port/db``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from relay.queue.sqlite import SqliteQueue

        return SqliteQueue.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        try:
            from relay.queue.redis import RedisStreamQueue  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - until the Redis backend lands
            raise ConfigError("the Redis queue backend is not available in this build") from exc
        queue: DialQueue = RedisStreamQueue.from_url(url)
        return queue
    raise ConfigError(f"RELAY_QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:// or redis://)")
