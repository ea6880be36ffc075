"""Key holds: the registry of refused keys, their probes and their gauges."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from relay.core.sources import Source
from relay.delivery.holds import KeyHold, KeyHolds, key_id, sources_using, vendor_hold
from relay.obs.metrics import RelayMetrics
from tests.conftest import DEFAULT_KEY
from tests.support.delivery import SOURCES

NAMES = ("crm", "shop", "other")


def _holds() -> tuple[KeyHolds, RelayMetrics]:
    metrics = RelayMetrics()
    return KeyHolds(metrics, NAMES, probe_seconds=60.0), metrics


def _held(metrics: RelayMetrics) -> dict[str, float | None]:
    sample = metrics.registry.get_sample_value
    return {n: sample("relay_source_held", {"source": n}) for n in NAMES}


def test_a_hold_covers_its_sources_until_its_probe() -> None:
    holds, metrics = _holds()
    hold = holds.hold("k1", frozenset({"crm", "shop"}), status=401, until=160.0)
    assert holds["k1"] is hold and "k1" in holds and len(holds) == 1
    assert hold == KeyHold(sources=frozenset({"crm", "shop"}), next_probe=160.0, status=401)
    assert holds.held_sources() == {"crm", "shop"}
    assert holds.hold_until("shop") == 160.0
    assert holds.hold_until("other") is None
    assert metrics.registry.get_sample_value("relay_held_keys") == 1
    assert _held(metrics) == {"crm": 1, "shop": 1, "other": 0}


def test_holding_a_key_again_replaces_its_hold() -> None:
    holds, _ = _holds()
    holds.hold("k1", frozenset({"crm"}), status=401, until=10.0)
    holds.hold("k1", frozenset({"crm", "shop"}), status=403, until=20.0)
    assert len(holds) == 1 and holds["k1"].status == 403 and holds["k1"].next_probe == 20.0


def test_release_lifts_one_hold() -> None:
    holds, metrics = _holds()
    holds.hold("k1", frozenset({"crm"}), status=401, until=10.0)
    holds.hold("k2", frozenset({"other"}), status=401, until=10.0)
    released = holds.release("k1")
    assert released is not None and released.sources == {"crm"}
    assert holds.release("k1") is None
    assert list(holds) == ["k2"]
    assert metrics.registry.get_sample_value("relay_held_keys") == 1
    assert _held(metrics) == {"crm": 0, "shop": 0, "other": 1}


def test_release_source_lifts_every_hold_covering_it() -> None:
    holds, metrics = _holds()
    holds.hold("k1", frozenset({"crm", "shop"}), status=401, until=10.0)
    holds.hold(vendor_hold("crm"), frozenset({"crm"}), status=401, until=10.0)
    holds.hold("k2", frozenset({"other"}), status=401, until=10.0)
    lifted = holds.release_source("crm")
    assert sorted(sorted(h.sources) for h in lifted) == [["crm"], ["crm", "shop"]]
    assert list(holds) == ["k2"]
    assert holds.release_source("crm") == []
    assert _held(metrics) == {"crm": 0, "shop": 0, "other": 1}


def test_drop_removes_an_existing_hold() -> None:
    """Dropping a hold lifts it and its gauge; dropping one a reload already lifted (the
    loop was waiting on its probe lease meanwhile) is a no-op, not a crash of the loop."""
    holds, metrics = _holds()
    holds.hold("k1", frozenset({"crm"}), status=401, until=10.0)
    holds.drop("k1")
    assert not holds
    assert metrics.registry.get_sample_value("relay_held_keys") == 0
    holds.hold("k2", frozenset({"crm"}), status=401, until=10.0)
    holds.reset(NAMES)
    holds.drop("k2")
    assert not holds
    assert metrics.registry.get_sample_value("relay_held_keys") == 0


def test_reset_lifts_everything_and_tracks_the_new_sources() -> None:
    holds, metrics = _holds()
    holds.hold("k1", frozenset({"crm", "shop"}), status=401, until=10.0)
    assert holds.reset(("crm", "fresh")) == {"crm", "shop"}
    assert not holds and holds.held_sources() == frozenset()
    sample = metrics.registry.get_sample_value
    assert sample("relay_source_held", {"source": "fresh"}) == 0
    assert sample("relay_source_held", {"source": "crm"}) == 0
    assert holds.reset(NAMES) == frozenset()


def test_a_probe_is_due_once_its_time_has_come_and_none_is_out() -> None:
    holds, _ = _holds()
    hold = holds.hold("k1", frozenset({"crm"}), status=401, until=100.0)
    assert not hold.probe_due(99.9)
    assert hold.probe_due(100.0)
    hold.probe_id = "7"
    assert not hold.probe_due(500.0)


def test_an_undecided_probe_is_tried_again_a_period_later() -> None:
    holds, _ = _holds()
    probing = holds.hold("k1", frozenset({"crm"}), status=401, until=100.0)
    other = holds.hold("k2", frozenset({"other"}), status=401, until=100.0)
    probing.probe_id, other.probe_id = "7", "8"
    holds.settle("7", now=130.0)
    assert (probing.probe_id, probing.next_probe) == (None, 190.0)
    assert (other.probe_id, other.next_probe) == ("8", 100.0)
    holds.settle("nope", now=500.0)
    assert probing.next_probe == 190.0


def test_key_ids_name_a_key_without_showing_it(
    make_sources: Callable[..., dict[str, Source]],
) -> None:
    key = SecretStr(DEFAULT_KEY)
    handle = key_id(key)
    assert handle == key_id(SecretStr(DEFAULT_KEY)) != key_id(SecretStr("oiq-another-key-0009"))
    assert len(handle) == 16 and DEFAULT_KEY not in handle
    sources = make_sources(SOURCES)
    assert sources_using(key, sources) == {"crm", "shop"}
    assert sources_using(SecretStr("oiq-other-key-0002"), sources) == {"other"}
    assert sources_using(SecretStr("oiq-unused-key-0008"), sources) == frozenset()
    assert vendor_hold("genesys") == "resolve:genesys"
