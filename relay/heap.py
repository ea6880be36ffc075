"""Keep the cyclic garbage collector off the start-up heap.

Measured (docs/benchmarks.md): once the relay has started, its heap holds a few hundred
thousand long-lived objects (libraries, phone metadata, schemas, metrics). Every full
collection walked all of them: 35-50 ms pauses of the event loop, a few times a minute
under load and more often while outboundIQ is slow (requests in flight for 100 ms survive
into the old generation and trigger full collections). Those pauses were the webhook p99.
``gc.freeze()`` after start-up moves that heap out of the collector's sight (reference
counting still frees what it can); full collections then cost ~2 ms. ``thaw_heap`` undoes
it on shutdown, so an app started and stopped in a longer-lived process (the tests) leaks
nothing.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap", "thaw_heap"]


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything alive now from future collections."""
    gc.collect()
    gc.freeze()


def thaw_heap() -> None:
    """Give the frozen objects back to the collector."""
    gc.unfreeze()
