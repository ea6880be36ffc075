"""Body timeouts without a timer per request: one timer per event loop for all of them.

Every webhook's body must arrive within ``RELAY_BODY_TIMEOUT_SECONDS``. A ``call_later``
timer per request, armed and cancelled around the read, cost a heap entry and a
``TimerHandle`` per webhook (docs/benchmarks.md). Instead, each read notes its deadline here
and one timer wakes at the earliest deadline still noted: the reads that are still waiting
then are cancelled, and the timer sleeps until the next earliest. A read that finished takes
its note out (a dictionary removal), and the timer does not move for it.
"""

from __future__ import annotations

import asyncio

__all__ = ["BodyDeadlines", "body_deadlines"]


class BodyDeadlines:
    """``arm(task, within)`` before a read, ``disarm(task)`` after it: whether its time ran
    out (then the task was cancelled at its deadline, ``task.cancel()``)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, task: asyncio.Task[object], within: float) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests run many): nothing carries over
            self._loop, self._deadlines, self._expired, self._timer = loop, {}, set(), None
        deadline = loop.time() + within
        self._deadlines[task] = deadline
        timer = self._timer
        if timer is None or deadline < timer.when():
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._expire)

    def disarm(self, task: asyncio.Task[object]) -> bool:
        if self._deadlines.pop(task, None) is not None:
            return False
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _expire(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = None
        now = loop.time()
        soonest: float | None = None
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._expired.add(task)
                task.cancel()
            elif soonest is None or deadline < soonest:
                soonest = deadline
        if soonest is not None:
            self._timer = loop.call_at(soonest, self._expire)


body_deadlines = BodyDeadlines()  # the intake's; one event loop at a time
