"""The real Redis at 127.0.0.1:6379, shared with other test runs: unique prefixes, claimed dbs."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
_CLAIM_SECONDS = 600


def prefix_for(tmp_path: Path) -> str:
    """A key prefix no other test (in this run or a parallel one) uses."""
    return "relaytest-" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:12]


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key a queue with ``prefix`` created."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match="{" + prefix + "}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@contextmanager
def claimed_db() -> Iterator[str]:
    """The URL of a Redis db no one else uses right now (for tests that FLUSHDB).

    The claim is a key in db 0 that other runs of these tests respect; a db with keys in it is
    never claimed. The db is flushed and the claim released afterwards.
    """
    token = uuid.uuid4().hex
    with redis.Redis.from_url(REDIS_URL) as admin:
        for db in range(15, 0, -1):
            claim = f"relaytest:db-claim:{db}"
            if not admin.set(claim, token, nx=True, ex=_CLAIM_SECONDS):
                continue
            with redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}") as client:
                if client.dbsize() == 0:
                    try:
                        yield f"redis://127.0.0.1:6379/{db}"
                    finally:
                        client.flushdb()
                        if admin.get(claim) == token.encode():
                            admin.delete(claim)
                    return
            admin.delete(claim)
    raise RuntimeError("no free Redis db to claim (1-15 all in use)")
