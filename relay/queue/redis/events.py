"""The replicas' event channel on Redis: ``{<prefix>}:events`` (pub/sub).

Every replica publishes its events there while anyone listens (``relay.obs.broadcast``:
``RedisEvents`` is its ``EventChannel``); ``relay tail`` listens (``follow_events``), and so
does the console's Live page (``RedisEvents.follow_events``, ``relay.obs.cluster``), and so
each sees every replica sharing the queue. A message is one or more lines, each one event's JSON
(``relay.obs.events``). Pub/sub keeps nothing: a listener sees what is published while it
listens, and nothing is stored in Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from redis import exceptions as rexc
from redis.asyncio import Redis

from relay.exceptions import ConfigError, QueueUnavailable
from relay.obs.logs import redact_secrets, redact_url, url_secrets
from relay.queue.redis.connection import RedisConnection, as_text

__all__ = ["RedisEvents", "events_channel", "follow_events"]


def events_channel(prefix: str) -> str:
    """The channel of the queue with key prefix ``prefix`` (its keys' hash tag, like them)."""
    return "{" + prefix + "}:events"


class RedisEvents(RedisConnection):
    """``EventChannel`` (``relay.obs.broadcast``) on the queue's own connection pool."""

    @property
    def events_channel(self) -> str:
        return events_channel(self.prefix)

    async def event_listeners(self) -> int:
        channel = self.events_channel
        reply = await self._op(lambda c: c.pubsub_numsub(channel))
        return sum(int(count) for _name, count in reply)

    async def publish_events(self, message: bytes) -> None:
        channel = self.events_channel
        await self._op(lambda c: c.publish(channel, message))

    def follow_events(self, ready: Callable[[], None]) -> AsyncIterator[bytes]:
        """``EventFollower`` (``relay.obs.cluster``): the channel's messages, on a connection
        of its own (a subscribed connection can do nothing else)."""
        return follow_events(
            self.url,
            password=self._password,
            prefix=self.prefix,
            ready=ready,
            client_name="relay-console",
        )


async def follow_events(
    url: str,
    *,
    password: str | None = None,
    prefix: str = "relay",
    ready: Callable[[], None] = lambda: None,
    client_name: str = "relay-tail",
) -> AsyncIterator[bytes]:
    """Every message published on the channel of ``prefix`` from now on; ``ready()`` once
    Redis confirmed the subscription. Nothing is created in Redis. ``QueueUnavailable`` when
    Redis cannot be reached (or stops answering)."""
    try:
        client = Redis.from_url(
            url,
            password=password,
            socket_connect_timeout=3.0,
            health_check_interval=30,
            client_name=client_name,
        )
    except (ValueError, TypeError) as exc:
        problem = redact_secrets(str(exc), url_secrets(url))
        raise ConfigError(f"RELAY_QUEUE_URL: {problem}") from None
    channel = events_channel(prefix)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    ready()
                elif message["type"] == "message" and as_text(message["channel"]) == channel:
                    yield bytes(message["data"])
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        problem = redact_secrets(str(exc), url_secrets(url))
        raise QueueUnavailable(f"redis unavailable at {redact_url(url)}: {problem}") from None
    except rexc.RedisError as exc:  # e.g. NOAUTH, or an ACL without the channel
        problem = redact_secrets(str(exc), url_secrets(url))
        raise QueueUnavailable(f"redis refused the subscription: {problem}") from None
    finally:
        await client.aclose()
