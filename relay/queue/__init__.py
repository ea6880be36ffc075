"""Durable queues behind one interface: ``open_queue(url)`` picks the backend."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from relay.exceptions import ConfigError
from relay.queue.base import DeadDial, DialQueue, LeasedDial, NewDial, QueueStats, RejectedRecord

if TYPE_CHECKING:
    from relay.config.settings import Settings

__all__ = [
    "DeadDial",
    "DialQueue",
    "LeasedDial",
    "NewDial",
    "QueueStats",
    "RejectedRecord",
    "create_queue",
]


def create_queue(url: str, settings: Settings | None = None) -> DialQueue:
    """The queue for ``RELAY_QUEUE_URL``: ``sqlite:///path.db`` or ``redis://host:port/db``.

    ``settings`` carries the backend's own options (``RELAY_REDIS_*``).
    """
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from relay.queue.sqlite import SqliteQueue

        return SqliteQueue.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        from relay.queue.redis import RedisStreamQueue

        return RedisStreamQueue.from_url(url, settings)
    raise ConfigError(f"RELAY_QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:// or redis://)")
