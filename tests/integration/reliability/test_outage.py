"""An outboundIQ outage: nothing lost, nothing doubled, and the backlog moves on recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


def test_outage_then_recovery_delivers_each_dial_once_and_fast(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Connection refused, then 503s, under a steady stream; recovery drains within 5 s."""
    relay = start_relay(
        retry_base_seconds=60.0,  # per-dial backoff would leave dials waiting minutes
        retry_cap_seconds=600.0,
        circuit_threshold=3,
        circuit_probe_seconds=1.0,
    )
    fake.stop()  # connection refused
    sent: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client() as client:
            i = 0
            while not stop.is_set():
                r = client.post(
                    f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"o-{i}"), headers=CRM
                )
                assert r.status_code == 202
                sent.append(f"o-{i}")
                i += 1
                time.sleep(0.02)

    def sent_at_least(n: int, then_wait: float) -> None:
        # The phases are counted in dials, not seconds: a loaded machine sends fewer a second.
        deadline = time.time() + 60
        while len(sent) < n and time.time() < deadline:
            time.sleep(0.02)
        assert len(sent) >= n
        time.sleep(then_wait)

    sender = threading.Thread(target=stream)
    sender.start()
    sent_at_least(20, then_wait=0.5)  # refused: the circuit opens
    fake.default = Reply(503)
    fake.start()  # up, but failing
    failing_since = time.time()
    sent_at_least(50, then_wait=1.5)  # failing: the circuit probes
    assert relay.runtime.forwarder is not None and relay.runtime.forwarder.circuit_open
    probes_while_open = len(fake.requests)
    # the circuit probes about once a second; it does not hammer a failing service
    assert probes_while_open <= (time.time() - failing_since) / 1.0 + 3, probes_while_open
    fake.default = Reply(200)
    recovered_at = time.time()
    stop.set()
    sender.join()
    fake.wait_for(lambda: set(fake.accepted_ids()) >= set(sent), timeout=15)
    first = min(r.at for r in fake.accepted())
    assert first - recovered_at <= 5.0
    counts = fake.accepted_counts()
    assert set(counts) == set(sent)
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}
    assert len(sent) >= 50


def test_poison_dial_does_not_delay_healthy_ones(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A dial outboundIQ always fails stays retrying while 1,000 others go straight through."""
    fake.fail_dial("poison", Reply(500))
    relay = start_relay(retry_base_seconds=0.05, retry_cap_seconds=0.2)
    with httpx.Client() as client:
        assert (
            client.post(
                f"{relay.url}/hooks/crm", json=dial_body(dial_id="poison"), headers=CRM
            ).status_code
            == 202
        )
        for i in range(1000):
            r = client.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"h-{i}"), headers=CRM)
            assert r.status_code == 202
    assert fake.wait_for(lambda: len(fake.accepted()) >= 1000, timeout=30)
    counts = fake.accepted_counts()
    assert len(counts) == 1000 and "poison" not in counts
    poison_attempts = sum(1 for r in fake.requests if r.json().get("dial_id") == "poison")
    assert poison_attempts >= 2  # it was retried alongside, not parked ahead of the others

    def waiting() -> int:
        stats = relay.call(relay.runtime.queue.stats(now=time.time()))
        return int(stats.ready + stats.delayed + stats.leased)

    assert fake.wait_for(lambda: waiting() == 1, timeout=5)  # only the poison dial waits
