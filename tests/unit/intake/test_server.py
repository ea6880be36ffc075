"""``ConnectionLimits``: the slots of a server's connections, in all and per client, and how
often a refusal is logged (over a real server: tests/integration/test_connections.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from relay.config.network import parse_networks
from relay.intake.server import REFUSALS_LOGGED_EVERY, REFUSALS_REMEMBERED, ConnectionLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_in_all_and_per_client() -> None:
    """The total limit refuses anyone; the per-client one only that client; released slots
    are free again; trusted proxies have no per-client limit."""
    limits = ConnectionLimits(3, 2, exempt=parse_networks("10.0.0.0/8"))
    assert [limits.admit("192.0.2.1") for _ in range(3)] == [None, None, "client_connections"]
    assert limits.admit("10.1.1.1") is None
    assert limits.admit("198.51.100.7") == "max_connections"
    limits.release("10.1.1.1")
    assert limits.admit("198.51.100.7") is None
    limits.release("192.0.2.1")
    limits.release("198.51.100.7")
    assert limits.admit("192.0.2.1") is None
    assert limits.open == 2 and limits.by_client == {"192.0.2.1": 2}


def test_a_refusal_is_logged_once_per_client_per_interval() -> None:
    """Refusals within the interval are counted into the next line, not logged each."""
    clock = Clock()
    limits = ConnectionLimits(10, 1, clock=clock)
    limits.admit("192.0.2.1")
    limits.admit("192.0.2.2")
    with capture_logs() as logs:
        for _ in range(5):
            limits.admit("192.0.2.1")
        limits.admit("192.0.2.2")
        clock.now += REFUSALS_LOGGED_EVERY
        limits.admit("192.0.2.1")
    lines = [(e["client"], e["not_logged"]) for e in logs if e["event"] == "connections_refused"]
    assert lines == [("192.0.2.1", 0), ("192.0.2.2", 0), ("192.0.2.1", 4)]
    assert {e["reason"] for e in logs} == {"client_connections"}


def test_what_is_remembered_for_logging_is_bounded() -> None:
    """A flood from many addresses forgets the oldest, and logs each new one once."""
    limits = ConnectionLimits(0)  # every connection refused
    with capture_logs() as logs:
        for i in range(REFUSALS_REMEMBERED + 10):
            limits.admit(f"2001:db8::{i:x}")
        limits.admit(f"2001:db8::{REFUSALS_REMEMBERED + 9:x}")  # just logged: not again
    assert len(logs) == REFUSALS_REMEMBERED + 10


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b", "c", None])), max_size=60))
def test_slots_add_up(steps: list[tuple[bool, str | None]]) -> None:
    """Whatever the order of connections and closes, the open slots are the admitted ones
    not yet released, per client and in all, and never past a limit."""
    limits = ConnectionLimits(5, 2)
    held: list[str | None] = []
    for opens, client in steps:
        if opens:
            if limits.admit(client) is None:
                held.append(client)
        elif client in held:
            held.remove(client)
            limits.release(client)
        assert limits.open == len(held) <= 5
        per = {c: held.count(c) for c in set(held) if c is not None}
        assert limits.by_client == per and all(n <= 2 for n in per.values())
