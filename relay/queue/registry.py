"""Queue backends by URL scheme: the ``outboundiq_relay.queues`` entry-point group.

The scheme of ``RELAY_QUEUE_URL`` names the backend. The entry point of that name in the
``outboundiq_relay.queues`` group is its factory, called as ``factory(url, settings)``; it
returns a ``DialQueue`` (unopened) and raises ``ConfigError`` for a URL it cannot use. The
built-in backends are registered in the relay's own pyproject.toml, the same way a
third-party backend registers its schemes from its own package::

    [project.entry-points."outboundiq_relay.queues"]
    sqlite = "relay.queue.sqlite:SqliteQueue.from_url"
    redis = "relay.queue.redis:RedisStreamQueue.from_url"

A factory is imported only when its scheme is used: a relay on SQLite never imports redis-py.
Two installed packages that claim the same scheme are a ``ConfigError``, not a silent pick.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from relay.exceptions import ConfigError
from relay.obs.logs import redact_secrets, redact_url, url_secrets

if TYPE_CHECKING:
    from relay.config.settings import Settings
    from relay.queue.protocols import DialQueue

__all__ = ["ENTRY_POINT_GROUP", "QueueFactory", "available_schemes", "create_queue", "factory_for"]

ENTRY_POINT_GROUP = "outboundiq_relay.queues"


class QueueFactory(Protocol):
    """Builds the queue for one URL; ``settings`` carries the backend's own options."""

    def __call__(self, url: str, settings: Settings | None = None, /) -> DialQueue: ...


def available_schemes() -> list[str]:
    """Every URL scheme an installed backend serves."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def factory_for(scheme: str) -> QueueFactory:
    """The factory registered for ``scheme``; a ``ConfigError`` when there is none."""
    found = {ep.value: ep for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme)}
    if not found:
        raise ConfigError(
            f"RELAY_QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:// or redis://)"
        )
    if len(found) > 1:
        claims = ", ".join(sorted(found))
        raise ConfigError(f"queue scheme {scheme!r} is registered more than once ({claims})")
    (ep,) = found.values()
    entry = f"queue scheme {scheme!r} (entry point {ep.value})"
    try:
        loaded: QueueFactory = ep.load()
    except Exception as exc:
        raise ConfigError(f"{entry} failed to load: {exc!r}") from exc
    if callable(loaded):
        return loaded
    raise ConfigError(f"{entry} is not callable")


def create_queue(url: str, settings: Settings | None = None) -> DialQueue:
    """The queue for ``RELAY_QUEUE_URL``: ``sqlite:///path.db``, ``redis://host:port/db``...

    ``settings`` carries the backend's own options (``RELAY_REDIS_*``). The queue is not
    open yet: ``await queue.open()`` before the first operation.
    """
    try:
        return factory_for(urlsplit(url).scheme)(url, settings)
    except ValueError as exc:  # "Invalid IPv6 URL": the text may quote a piece of the URL
        problem = redact_secrets(str(exc), url_secrets(url))
        raise ConfigError(f"RELAY_QUEUE_URL: {problem} ({redact_url(url)})") from None
