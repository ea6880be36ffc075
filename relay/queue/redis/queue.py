"""``RedisStreamQueue``: every role of the shared queue over one Redis connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.obs.logs import redact_url
from relay.queue.redis.activity import RedisActivity
from relay.queue.redis.dead import RedisDeadLetters
from relay.queue.redis.delivery import RedisDelivery
from relay.queue.redis.events import RedisEvents
from relay.queue.redis.health import RedisHealth
from relay.queue.redis.history import RedisHistory
from relay.queue.redis.rejected import RedisRejected

if TYPE_CHECKING:
    from relay.config.settings import Settings
    from relay.queue.protocols import DialQueue

__all__ = ["RedisStreamQueue"]


class RedisStreamQueue(
    RedisDelivery,
    RedisDeadLetters,
    RedisRejected,
    RedisHealth,
    RedisHistory,
    RedisActivity,
    RedisEvents,
):
    """``DialQueue`` on Redis Streams (see ``relay.queue.redis`` for the design), and the
    replicas' event channel (``relay.queue.redis.events``).

    ``RedisStreamQueue(url, *, password, prefix, consumer, max_deliveries, block_seconds,
    max_connections, pool_timeout, history)``.
    """

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> RedisStreamQueue:
        """The queue for ``redis://``, ``rediss://`` or ``unix://``; ``RELAY_REDIS_*`` options."""
        if settings is None:
            return cls(url)
        password = settings.redis_password
        return cls(
            url,
            password=password.get_secret_value() if password is not None else None,
            prefix=settings.redis_key_prefix,
            consumer=settings.redis_consumer,
            max_deliveries=settings.redis_max_deliveries,
            max_connections=settings.redis_max_connections,
            pool_timeout=settings.redis_pool_timeout_seconds,
            history=settings.dial_history_seconds > 0,
        )

    def __repr__(self) -> str:
        return (
            f"RedisStreamQueue({redact_url(self.url)!r}, prefix={self.prefix!r}, "
            f"consumer={self.consumer!r})"
        )


_IMPLEMENTS: type[DialQueue] = RedisStreamQueue  # mypy checks that the role is complete
