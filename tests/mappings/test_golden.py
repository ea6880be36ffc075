"""The vendor corpus through a real relay: every real vendor request of
``tests/fixtures/vendors/`` is previewed and sent to the hook of a running relay (uvicorn,
SQLite queue, the fake outboundIQ, the fake Genesys Cloud API), and outboundIQ must receive
exactly the expected Dial, once; or the hook answers the expected ``422``/``200 ignored``.
The file format is described in ``tests/mappings/golden.py``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from relay.config.settings import Settings
from relay.core.dial import DIAL_FIELDS
from relay.core.preview import read_request
from tests.mappings.golden import (
    API_KEY,
    VENDORS,
    Case,
    accepted,
    corpus_relay,
    exercise,
    fake_genesys,
    load,
)
from tests.support.fake_genesys import FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

ALL = load()
_SOURCE = re.compile(r"^(https://\S+|[\w.-]+/[\w.-]+:\S+)$")


#: Vendors with fewer than ten real public requests, and how many exist (the rest of their
#: corpus is ``_derived_from`` real ones). Dialpad: every public call event found (its docs
#: show none; six real bodies in public code, see docs/vendors/dialpad.md).
SHORT_OF_REAL = {"dialpad": 6}


def test_every_vendor_has_ten_sourced_requests() -> None:
    """At least ten real requests per vendor (derived ones do not count), each naming its
    public source and what it expects."""
    for vendor in VENDORS:
        real = [c for c in ALL if c.vendor == vendor and "_derived_from" not in c.doc]
        assert len(real) >= SHORT_OF_REAL.get(vendor, 10), vendor
        assert len([c for c in ALL if c.vendor == vendor]) >= 10, vendor
    for c in ALL:
        sources = c.doc["_from"] if isinstance(c.doc["_from"], list) else [c.doc["_from"]]
        assert sources and all(_SOURCE.match(s) for s in sources), c.id
        assert c.doc["description"], c.id
        outcomes = [c.expected is not None, c.rejected is not None, c.ignored]
        assert outcomes.count(True) == 1, c.id
        if c.expected is not None:
            assert list(c.expected) == list(DIAL_FIELDS), c.id
        assert set(c.doc.get("_why", {})) <= {*DIAL_FIELDS, "answers", "source", "request"}, c.id


def test_dial_ids_are_unique_across_the_corpus() -> None:
    ids = [c.expected["dial_id"] for c in ALL if c.expected is not None]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_every_file_is_a_preview_request_file(case: Case) -> None:
    """``relay preview <source> FILE`` reads each corpus file as the request it holds."""
    raw = read_request(case.path.read_bytes())
    assert raw.method == (case.request.get("method") or "POST")


class Corpus:
    """One relay per vendor (all its sources), one fake outboundIQ, one fake Genesys API."""

    def __init__(
        self, root: Path, fake: FakeOutboundIQ, genesys: FakeGenesys, stack: ExitStack
    ) -> None:
        self.root = root
        self.fake = fake
        self.genesys = genesys
        self.relays: dict[str, RelayThread] = {}
        self.refused: dict[str, str] = {}  # source name -> why the relay refused its config
        self._stack = stack

    def relay(self, vendor: str) -> RelayThread:
        if vendor not in self.relays:
            settings = Settings(
                port=0,
                outboundiq_url=self.fake.url,
                outboundiq_api_key=API_KEY,
                queue_url=f"sqlite:///{self.root}/{vendor}.db",
                retry_base_seconds=0.05,
                retry_cap_seconds=0.5,
                forward_timeout_seconds=2.0,
                shutdown_grace_seconds=2.0,
            )
            configs = {c.source_name: c.source for c in ALL if c.vendor == vendor}
            configs, refused = accepted(configs, self.genesys.url)
            self.refused.update(refused)
            relay = corpus_relay(configs, settings, self.genesys.url)
            self.relays[vendor] = self._stack.enter_context(relay)
        return self.relays[vendor]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    fake = FakeOutboundIQ().start()
    with ExitStack() as stack:
        stack.callback(fake.stop)
        genesys = stack.enter_context(fake_genesys([c for c in ALL if c.vendor == "genesys"]))
        yield Corpus(tmp_path_factory.mktemp("corpus"), fake, genesys, stack)


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_vendor_request_becomes_its_dial(case: Case, corpus: Corpus) -> None:
    """The preview shows the expected Dial (or problems), the hook answers as expected, and
    outboundIQ receives exactly the expected Dial, once."""
    relay = corpus.relay(case.vendor)
    assert case.source_name not in corpus.refused, corpus.refused.get(case.source_name)
    exercise(relay.url, corpus.fake, case.source_name, case.source["auth"], case)


def test_nothing_else_reached_outboundiq(corpus: Corpus) -> None:
    """After the corpus ran, every dial outboundIQ got was an expected one, received once."""
    for vendor in VENDORS:
        relay = corpus.relay(vendor)

        def settled(relay: RelayThread = relay) -> bool:
            stats = relay.call(relay.runtime.queue.stats(now=time.time()))
            return stats.ready + stats.delayed + stats.leased == 0

        assert corpus.fake.wait_for(settled, timeout=20), vendor
    expected = {c.expected["dial_id"] for c in ALL if c.expected is not None}
    counts = corpus.fake.accepted_counts()
    assert set(counts) <= expected
    assert all(n == 1 for n in counts.values()), counts
