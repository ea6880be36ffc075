"""Amazon Connect contact records from S3 (as Firehose writes them) backfill like live ones."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from relay.cli import main
from relay.config.settings import Settings
from tests.support.cli import run_relay
from tests.support.fake_firehose import FakeFirehose
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CORPUS = Path(__file__).parents[2] / "fixtures" / "vendors" / "amazon-connect"
SOURCES = """
sources:
  connect:
    mapping: amazon-connect
    auth: {type: firehose, secret: firehose-access-key-0001}
"""


def corpus(case: str) -> dict[str, Any]:
    doc = json.loads((CORPUS / f"{case}.json").read_text())
    return dict(doc["request"]["body"])


def expected(case: str) -> dict[str, Any]:
    return dict(json.loads((CORPUS / f"{case}.json").read_text())["expected"])


CASES = ("derived-inbound-answered", "derived-outbound-disposition-attribute")


def s3_object(records: list[dict[str, Any]]) -> bytes:
    """What Firehose writes to S3: the records back to back, no separator."""
    return b"".join(orjson.dumps(r) for r in records)


def test_s3_ctr_files_backfill_like_live_records(
    backend_cli: Callable[..., Settings],
    fake: FakeOutboundIQ,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Back-to-back records, a gzip file and a JSON array; chat ignored, a masked number
    rejected; a re-run and a live delivery of the same contact queue nothing twice."""
    settings = backend_cli(SOURCES)
    plain = tmp_path / "connect-ctr-1-2022-01-05-17-48-35-abc"
    plain.write_bytes(
        s3_object([corpus(CASES[0]), corpus("derived-chat-ignored")])
        + b"\n"
        + s3_object([corpus("inbound-masked-customer-number")])
    )
    zipped = tmp_path / "connect-ctr-1-2022-01-05-18-00-00-def.gz"
    zipped.write_bytes(gzip.compress(s3_object([corpus(CASES[1])])))
    array = tmp_path / "export.json"
    array.write_bytes(orjson.dumps([corpus(CASES[0])]))
    args = ["backfill", "connect", "--format", "amazon-connect-ctr"]
    done = run_relay(*args[:2], str(plain), str(zipped), str(array), *args[2:])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "records   5" in out and "queued    2" in out, out
    assert "duplicate 1" in out and "rejected  1" in out and "ignored   1" in out, out
    assert f"{plain.name}:3: prospect_phone" in out, out
    assert main([*args[:2], str(plain), str(zipped), *args[2:]]) == 0  # a re-run
    assert "queued    0" in capsys.readouterr().out
    relay = RelayThread(settings).start()
    try:
        got = fake.wait_accepted(2, timeout=10)
        want = sorted((expected(c) for c in CASES), key=lambda d: d["dial_id"])
        assert sorted((r.json() for r in got), key=lambda d: d["dial_id"]) == want
        hose = FakeFirehose(f"{relay.url}/hooks/connect", "firehose-access-key-0001")
        assert hose.deliver([corpus(CASES[0])]).status == 200
        assert fake.wait_for(lambda: len(fake.accepted()) > 2, timeout=0.5) is False
    finally:
        relay.stop()
