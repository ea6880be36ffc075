"""Durable queues behind one interface: ``create_queue(url)`` picks the backend.

The backend is chosen by the URL's scheme through the ``outboundiq_relay.queues`` entry points
(``relay.queue.registry``): ``sqlite://`` (``relay.queue.sqlite``, embedded) and
``redis://``/``rediss://``/``unix://`` (``relay.queue.redis``, shared by replicas) are built in.
"""

from __future__ import annotations

from relay.queue.base import DeadDial, DialQueue, LeasedDial, NewDial, QueueStats, RejectedRecord
from relay.queue.registry import create_queue

__all__ = [
    "DeadDial",
    "DialQueue",
    "LeasedDial",
    "NewDial",
    "QueueStats",
    "RejectedRecord",
    "create_queue",
]
