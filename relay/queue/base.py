"""The queue's public names in one place: the records (``relay.queue.models``) and the role
protocols with ``DialQueue``, their combination (``relay.queue.protocols``).

Code outside ``relay.queue`` imports from here; the modules behind it may move.
"""

from __future__ import annotations

from relay.obs.tally import CountRow
from relay.queue.models import (
    Attempt,
    DeadDial,
    DialEvent,
    DialRecord,
    LeasedDial,
    LegMerge,
    LegOutcome,
    NewDial,
    PoisonedDial,
    QueueStats,
    RejectedRecord,
    RejectedTrim,
)
from relay.queue.protocols import (
    ActivityStore,
    DeadLetterStore,
    DeliveryQueue,
    DialHistory,
    DialQueue,
    QueueHealth,
    QueueLifecycle,
    ReadOnlyOpen,
    RejectedStore,
    ReplicaDirectory,
    ReportsPoison,
)

__all__ = [
    "ActivityStore",
    "Attempt",
    "CountRow",
    "DeadDial",
    "DeadLetterStore",
    "DeliveryQueue",
    "DialEvent",
    "DialHistory",
    "DialQueue",
    "DialRecord",
    "LeasedDial",
    "LegMerge",
    "LegOutcome",
    "NewDial",
    "PoisonedDial",
    "QueueHealth",
    "QueueLifecycle",
    "QueueStats",
    "ReadOnlyOpen",
    "RejectedRecord",
    "RejectedStore",
    "RejectedTrim",
    "ReplicaDirectory",
    "ReportsPoison",
]
