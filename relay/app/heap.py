"""Keep the cyclic garbage collector off the start-up heap.

Measured (docs/benchmarks.md): once the relay has started, its heap holds a few hundred
thousand long-lived objects (libraries, phone metadata, schemas, metrics). Every full
collection walked all of them: 35-50 ms pauses of the event loop, a few times a minute
under load and more often while outboundIQ is slow (requests in flight for 100 ms survive
into the old generation and trigger full collections). Those pauses were the webhook p99.
``gc.freeze()`` after start-up moves that heap out of the collector's sight (reference
counting still frees what it can); full collections then cost ~2 ms.

Young collections are spaced out too: Python's default runs one every 700 tracked
allocations (net of frees), every few dozen webhooks on a busy relay; a webhook leaves no
reference cycles behind, so those collections found nothing and cost about 3% of the
intake's CPU. The relay runs them every ``YOUNG_THRESHOLD`` allocations instead.

``thaw_heap`` undoes both on shutdown, so an app started and stopped in a longer-lived
process (the tests) leaks nothing and leaves the collector as it found it.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "freeze_startup_heap", "thaw_heap"]

#: Tracked allocations between young-generation collections while the relay runs.
YOUNG_THRESHOLD = 20_000

_saved_threshold: tuple[int, int, int] | None = None


def freeze_startup_heap() -> None:
    """Collect once, exempt everything alive now from future collections, and space young
    collections out to ``YOUNG_THRESHOLD``."""
    global _saved_threshold
    gc.collect()
    gc.freeze()
    if _saved_threshold is None:
        _saved_threshold = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, *_saved_threshold[1:])


def thaw_heap() -> None:
    """Give the frozen objects back to the collector, and its thresholds."""
    global _saved_threshold
    gc.unfreeze()
    if _saved_threshold is not None:
        gc.set_threshold(*_saved_threshold)
        _saved_threshold = None
