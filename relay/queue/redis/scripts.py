"""The Lua scripts behind ``RedisStreamQueue``: every multi-key change is one atomic script.

The scripts are package data, ``lua/<name>.lua``, each prefixed with ``lua/prelude.lua`` (the
helpers they share) when loaded; ``load_scripts`` reads them with ``importlib.resources``, so
they work from a wheel, a zip or the source tree alike.

Each script gets ``KEYS[1]`` = the key base (``{relay}``; the braces are a hash tag, so every
key lives in one slot) and builds the other key names from it. Layout (docs/redis.md):

``B:stream:0`` / ``B:stream:1``  live and backfill lanes (entries ``q`` = queue id, ``d`` = due)
``B:stream:direct``             dials leased ahead of time (probes) straight from the delayed set
``B:dial:<q>``                  the dial: ``s`` source, ``i`` dial_id, ``p`` payload, ``l`` lane,
                                ``r`` received_at, ``k`` kind, ``a`` attempts, ``e``/``st`` the
                                entry and stream it is leased under, ``err`` the last error
``B:delayed`` + ``B:delayed:<source>``  sorted sets queue id → due time (retries, holds)
``B:index``                     sorted set queue id → received_at (oldest, totals)
``B:count``                     hash source → dials in the queue
``B:seen:<len>:<source>:<id>``  dedupe marker (its expiry time), ``SET NX PX`` the window
``B:held:<len>:<source>:<id>``  a call's held first leg (``coalesce``): ``q`` queue id, ``u``
                                end of its window, ``v`` legs merged (expires after the window)
``B:holding``                   sorted set queue id → end of the window, of held first legs
``B:dead`` / ``B:dead:<id>``    dead letters (``q``: the queue id it had);  ``B:rejected`` /
                                ``B:rejected:<id>`` rejected (``trim_rejected`` keeps them within
                                the retention limits)
``B:hist:<q>``                  a dial's history once it left the queue (``relay.queue.history``),
                                one string (``pack`` in the prelude): source, dial_id,
                                received_at, last 4 digits of the number, events, payload, its
                                dead letter while there, settled time; while queued, the events
                                ``h`` and last 4 digits ``n`` are fields of ``B:dial:<q>``
``B:hid``                       hash dial_id → the queue ids with a history, space separated
``B:hsrc:<source>``             sorted set queue id → received_at, of records; ``B:hsources``
                                the sources with one
``B:hdone``                     list of the queue ids of settled records (delivered, or purged
                                from the dead-letter store), in settle order: ``trim_history``
                                drops from its head
``B:seq:dial|dead|rejected``    id counters (the dial counter is seeded from the clock, so ids
                                never repeat after Redis restarts empty)

A stream holds only entries that are unread or leased: an entry is deleted (``XDEL``) in the
same script that acknowledges it, so nothing is ever trimmed past an unacknowledged entry and
``XLEN - pending`` is the number of unread entries.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["GROUP", "NAMES", "SCRIPTS", "load_scripts"]

GROUP = "relay"  # the consumer group on every stream (the scripts' ``G``)

NAMES = (
    "enqueue",
    "enqueue_many",
    "enqueue_each",
    "promote",
    "claim",
    "mark",
    "take",
    "ack",
    "retry",
    "release",
    "replace",
    "delay_sources",
    "release_delayed",
    "next_due",
    "stats",
    "dead_letter",
    "replay_dead",
    "purge",
    "add_rejected",
    "hold",
    "merge_leg",
    "trim_rejected",
    "history",
    "list_history",
    "trim_history",
)


def _source(name: str) -> str:
    return (files("relay.queue.redis") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def load_scripts() -> dict[str, str]:
    """Each script's full source by name: the prelude, then the script's own file."""
    prelude = _source("prelude")
    return {name: prelude + _source(name) for name in NAMES}


SCRIPTS: dict[str, str] = load_scripts()
