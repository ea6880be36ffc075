"""Crashes and shutdowns of a real relay process lose nothing it acknowledged."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayProcess

CRM = {"X-Relay-Token": "crm-hook-secret"}


def _burst(url: str, count: int, acked: list[str], stop: threading.Event, prefix: str) -> None:
    """POST `count` webhooks over 4 connections, recording every 2xx; stop when the relay dies."""

    def worker(start: int) -> None:
        with httpx.Client(timeout=5) as client:
            for i in range(start, count, 4):
                if stop.is_set():
                    return
                try:
                    r = client.post(
                        f"{url}/hooks/crm", json=dial_body(dial_id=f"{prefix}-{i}"), headers=CRM
                    )
                except httpx.HTTPError:
                    return
                if r.status_code in (200, 202):
                    acked.append(f"{prefix}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_kill_9_during_burst_loses_nothing_acknowledged(
    relay_process: Callable[..., RelayProcess], fake: FakeOutboundIQ
) -> None:
    """After kill -9 mid-burst, a restart delivers every acknowledged webhook."""
    # Deliveries in flight when the kill lands, and a queue behind them: at most 160 POSTs/s
    # (16 x 0.1 s), well under what intake acknowledges, however fast the forwarder is.
    fake.default = Reply(200, delay=0.1)
    concurrency = 16
    relay = relay_process(
        RELAY_FORWARD_CONCURRENCY=str(concurrency), RELAY_VISIBILITY_TIMEOUT_SECONDS="2"
    )
    acked: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_burst, args=(relay.url, 3000, acked, stop, "k"))
    sender.start()
    fake.wait_for(lambda: len(fake.accepted()) >= 100, timeout=20)
    relay.kill()
    stop.set()
    sender.join()
    delivered_before = len(fake.accepted())
    assert 0 < delivered_before < len(acked)  # the kill landed mid-stream
    fake.default = Reply(200)
    relay_process(RELAY_FORWARD_CONCURRENCY=str(concurrency))
    assert fake.wait_for(lambda: set(fake.accepted_ids()) >= set(acked), timeout=30)
    counts = fake.accepted_counts()
    duplicates = {k: n for k, n in counts.items() if n > 1}
    print(
        f"kill -9: acknowledged={len(acked)} delivered={len(counts)} "
        f"sent twice={len(duplicates)} (in-flight bound {concurrency})"
    )
    assert set(acked) <= set(counts)
    assert len(duplicates) <= concurrency
    assert all(n == 2 for n in duplicates.values())


def test_sigterm_during_burst_exits_cleanly(
    relay_process: Callable[..., RelayProcess], fake: FakeOutboundIQ
) -> None:
    """SIGTERM mid-burst exits 0 within the grace period, and nothing acknowledged is lost."""
    fake.default = Reply(200, delay=0.05)
    relay = relay_process(RELAY_SHUTDOWN_GRACE_SECONDS="3")
    acked: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_burst, args=(relay.url, 2000, acked, stop, "t"))
    sender.start()
    fake.wait_for(lambda: len(fake.accepted()) >= 50, timeout=20)
    started = time.monotonic()
    code = relay.terminate(timeout=15)
    elapsed = time.monotonic() - started
    stop.set()
    sender.join()
    assert code == 0
    assert elapsed < 3 + 2  # grace period plus a little to close
    fake.default = Reply(200)
    relay_process()
    assert fake.wait_for(lambda: set(fake.accepted_ids()) >= set(acked), timeout=30)
    counts = fake.accepted_counts()
    assert set(acked) <= set(counts)
    assert all(n == 1 for n in counts.values())  # a clean stop finishes or releases, never doubles


def test_sighup_reloads_sources_and_lifts_a_key_hold(
    relay_process: Callable[..., RelayProcess], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """kill -HUP re-reads the sources file: a new key resumes a held source at once."""
    fake.set_key_status("oiq-default-key-0001", 401)
    relay = relay_process(RELAY_KEY_PROBE_SECONDS="300")
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="hup-1"), headers=CRM)
    assert r.status_code == 202
    assert fake.wait_for(lambda: any(x.status == 401 for x in fake.requests))
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        sources.read_text().replace(
            "secret: crm-hook-secret}\n  other:",
            "secret: crm-hook-secret}\n    api_key: oiq-fixed-key-0009\n  other:",
            1,
        )
    )
    assert relay.proc is not None
    relay.proc.send_signal(signal.SIGHUP)
    got = fake.wait_accepted(1, timeout=10)
    assert [(x.json()["dial_id"], x.bearer) for x in got] == [("hup-1", "oiq-fixed-key-0009")]


THREAD_PROBE = """
import threading
from pathlib import Path

from relay.sdk import MappingResult


class Probe:
    def map(self, request, context):
        return MappingResult(dict(request.data))


def mapping(options):
    with Path(options["record"]).open("a") as out:
        out.write(threading.current_thread().name + "\\n")
    return Probe()
"""


def test_sighup_parses_off_the_event_loop_and_refuses_a_bomb(
    relay_process: Callable[..., RelayProcess], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """The reload reads and builds the sources on a worker thread (the loop keeps serving);
    a reload that fails (an alias bomb) is logged and the old sources keep serving."""
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "threadprobe.py").write_text(THREAD_PROBE)
    record = tmp_path / "threads.txt"
    sources = tmp_path / "sources.yaml"
    probe = (
        f"  probe:\n    mapping: threadprobe\n    options: {{record: '{record}'}}\n"
        "    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}\n"
    )
    sources.write_text(sources.read_text() + probe)
    relay = relay_process(RELAY_MAPPINGS_DIR=str(maps))
    assert record.read_text().splitlines() == ["MainThread"]  # start-up: before the loop runs
    assert relay.proc is not None
    relay.proc.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: len(record.read_text().splitlines()) == 2)
    assert record.read_text().splitlines()[1] != "MainThread"

    bomb = "".join(f"  l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
    sources.write_text(sources.read_text() + '  l0: &l0 ["lol","lol","lol"]\n' + bomb)
    relay.proc.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: "config_reload_failed" in relay.logs())
    failed = next(line for line in relay.logs().splitlines() if "config_reload_failed" in line)
    assert "alias" in failed and "line" in failed
    r = httpx.post(f"{relay.url}/hooks/probe", json=dial_body(dial_id="after-bomb"), headers=CRM)
    assert r.status_code == 202
    assert fake.wait_accepted(1, timeout=10)[0].json()["dial_id"] == "after-bomb"
