"""Amazon Connect contact records: the corpus through a real relay, and the mapping's rules."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mappings.amazon_connect import (
    DIRECTIONS,
    AmazonConnectMapping,
    direction_of,
    ignored_because,
)
from mappings.amazon_connect_backfill import records_in
from relay.config.settings import Settings
from relay.sdk import InboundRequest, MappingContext, MappingError
from tests.mappings.golden import API_KEY, Case, accepted, corpus_relay, exercise, load
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CASES = load("amazon-connect")
REAL = [c for c in CASES if "_derived_from" not in c.doc]
CONTEXT = MappingContext(source="connect", tz=UTC, timezone_name="UTC")


def test_every_case_names_its_source_and_derived_ones_say_from_what() -> None:
    # Issue 20 asks for 10 (so the vendor is not in golden.VENDORS yet): every public contact
    # record that can be cited is here, three deliveries of one call, a partial record from a
    # CTR consumer's tests, AWS's two sample contact events, a captured contact event and
    # AWS's two sample agent events (the last five refused: not contact records).
    assert len(REAL) >= 9
    for case in CASES:
        assert case.doc["_from"], case.id
        if case not in REAL:
            assert case.doc["description"].startswith("DERIVED"), case.id


@pytest.fixture(scope="module")
def connect_relay(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RelayThread, FakeOutboundIQ]]:
    fake = FakeOutboundIQ().start()
    root = tmp_path_factory.mktemp("connect")
    settings = Settings(
        port=0,
        outboundiq_url=fake.url,
        outboundiq_api_key=API_KEY,
        queue_url=f"sqlite:///{root}/connect.db",
        retry_base_seconds=0.05,
        retry_cap_seconds=0.5,
        forward_timeout_seconds=2.0,
        shutdown_grace_seconds=2.0,
    )
    configs, refused = accepted({c.source_name: c.source for c in CASES}, "http://127.0.0.1:9")
    assert refused == {}
    try:
        with corpus_relay(configs, settings, "http://127.0.0.1:9") as relay:
            yield relay, fake
    finally:
        fake.stop()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_contact_record_becomes_its_dial(
    case: Case, connect_relay: tuple[RelayThread, FakeOutboundIQ]
) -> None:
    """Preview shows the Dial (or problems, or ignored); a Firehose batch of the record is
    answered 200 (every time it is sent); outboundIQ gets exactly the expected Dial, once."""
    relay, fake = connect_relay
    exercise(relay.url, fake, case.source_name, case.source["auth"], case)


def _map(record: Any, **options: Any) -> Any:
    request = InboundRequest("POST", "application/json", {}, b"", record)
    return AmazonConnectMapping(options).map(request, CONTEXT)


@pytest.mark.parametrize(
    ("method", "direction"),
    [("INBOUND", "Inbound"), ("API", "Outbound"), ("CALLBACK", "Outbound"),
     ("QUEUE_TRANSFER", "Transfer"), ("WEBRTC_API", "WEBRTC_API")],
)  # fmt: skip
def test_initiation_methods_become_directions(method: str, direction: str) -> None:
    """The documented table; a method it does not know is passed on (the relay flags it)."""
    assert direction_of({"InitiationMethod": method}) == direction
    assert DIRECTIONS.get(method, method) == direction


def test_a_campaigns_contact_is_outbound() -> None:
    record = {"InitiationMethod": "INBOUND", "Campaign": {"CampaignId": "c"}}
    assert direction_of(record) == "Outbound"


def test_the_disposition_attribute_and_other_attributes_are_configurable() -> None:
    record = {
        "ContactId": "c-1",
        "DisconnectTimestamp": "2022-01-05T17:47:28Z",
        "DisconnectReason": "AGENT_DISCONNECT",
        "Attributes": {"result": "Callback", "zip": "78701", "disposition": "Sale"},
    }
    assert _map(record).fields["disposition_name"] == "Sale"
    fields = _map(record, disposition_attribute="result", attributes={"zip": "zip"}).fields
    assert (fields["disposition_name"], fields["zip"]) == ("Callback", "78701")
    record["Attributes"] = {}
    assert _map(record).fields["disposition_name"] == "AGENT_DISCONNECT"
    record["AnsweringMachineDetectionStatus"] = "HUMAN_ANSWERED"
    assert _map(record).fields["disposition_name"] == "AGENT_DISCONNECT"
    record["AnsweringMachineDetectionStatus"] = "SIT_TONE_INVALID_NUMBER"
    assert _map(record).fields["disposition_name"] == "SIT_TONE_INVALID_NUMBER"
    with pytest.raises(ValidationError):
        AmazonConnectMapping({"attributes": {"dial_id": "x"}})


def test_a_softphone_endpoint_is_no_number() -> None:
    record = {
        "ContactId": "c-2",
        "DisconnectTimestamp": "2022-01-05T17:47:28Z",
        "SystemEndpoint": {"Address": "Softphone", "Type": "SOFTPHONE"},
        "CustomerEndpoint": {"Address": "+15125550187", "Type": "TELEPHONE_NUMBER"},
    }
    fields = _map(record).fields
    assert (fields["ani"], fields["prospect_phone"]) == ("", "+15125550187")


_values = st.none() | st.text(max_size=12) | st.integers() | st.booleans()
_records = st.dictionaries(
    st.sampled_from(
        [
            "ContactId",
            "Channel",
            "InitiationMethod",
            "DisconnectTimestamp",
            "AnsweringMachineDetectionStatus",
            "DisconnectReason",
            "InitiationTimestamp",
        ]
    ),
    _values,
) | st.dictionaries(
    st.sampled_from(["ContactId", "Agent", "Queue", "Campaign", "Attributes", "SystemEndpoint"]),
    _values | st.dictionaries(st.text(max_size=8), _values, max_size=3),
)


@given(record=_records | st.lists(_values, max_size=2) | _values)
def test_any_record_maps_is_ignored_or_raises_a_mapping_error(record: Any) -> None:
    """A record of any shape: fields, an ignore reason, or MappingError — never a crash."""
    try:
        result = _map(record)
    except MappingError:
        assert not (isinstance(record, dict) and "ContactId" in record)
        return
    assert isinstance(record, dict)
    if result.ignored is None:
        assert ignored_because(record) is None
        assert all(isinstance(v, str) for v in result.fields.values())


class _Trickle(io.StringIO):
    """Text handed out a few characters per read, whatever was asked: every chunk boundary."""

    def __init__(self, text: str, step: int) -> None:
        super().__init__(text)
        self.step = step

    def read(self, size: int | None = -1) -> str:
        return super().read(self.step)


_ctr_like = st.fixed_dictionaries(
    {"ContactId": st.text(max_size=12), "LastUpdateTimestamp": st.text(max_size=5)},
    optional={"Attributes": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)},
)


@given(
    records=st.lists(_ctr_like, max_size=6),
    separator=st.sampled_from(["", "\n", "\r\n", " ", ","]),
    as_array=st.booleans(),
    step=st.integers(min_value=1, max_value=40),
)
def test_s3_files_are_read_record_by_record(
    records: list[dict[str, Any]], separator: str, as_array: bool, step: int
) -> None:
    """Back to back, one a line or an array, read in chunks of any size: the same records."""
    text = json.dumps(records) if as_array else separator.join(json.dumps(r) for r in records)
    assert list(records_in(_Trickle(text, step))) == records


def test_a_broken_s3_file_stops_at_the_bad_record() -> None:
    got = list(records_in(io.StringIO('{"ContactId": "a"}{"ContactId": ')))
    assert got[0] == {"ContactId": "a"}
    assert list(got[1]) == ["__invalid_json__"]
