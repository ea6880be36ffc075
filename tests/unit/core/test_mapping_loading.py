"""Mappings load one way: entry points (built-in and third-party) and RELAY_MAPPINGS_DIR
(modules and preset YAML files). Failures name the mapping and the reason."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from relay.app import create_app
from relay.cli import main
from relay.config.settings import Settings
from relay.core.mapping import available_mappings, create_mapping
from relay.core.sources import parse_sources
from relay.exceptions import ConfigError
from tests.conftest import DEFAULT_KEY
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayProcess, RelayThread

ACME_MODULE = '''
"""A third-party mapping: the Acme dialer posts {"call": {...}}."""
from relay.core.mapping import MappingResult


class AcmeMapping:
    def __init__(self, options):
        self.prefix = options.get("prefix", "acme-")

    def map(self, request, context):
        call = request.data["call"]
        return MappingResult(
            fields={
                "dial_id": self.prefix + call["uuid"],
                "ani": call["from"],
                "prospect_phone": call["to"],
                "datetime": call["ended"],
                "disposition_name": call["result"].title(),
                "call_direction": "outbound",
            },
            warnings=["acme mapping used"],
        )
'''

ACME_CALL = {
    "call": {
        "uuid": "7f3c",
        "from": "+1 512 555 0100",
        "to": "512-555-0187",
        "ended": "2026-08-21T16:00:06Z",
        "result": "no answer",
    }
}


def install_distribution(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A tiny installed distribution: its module and a .dist-info with one entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[outboundiq_relay.mappings]\n{entry}\n")


def sources(mapping: str, options: str = "{}") -> str:
    return textwrap.dedent(
        f"""
        sources:
          acme:
            mapping: {mapping}
            auth: {{type: bearer, secret: acme-hook-secret}}
            options: {options}
        """
    )


def test_builtin_mappings_are_entry_points() -> None:
    """Built-in mappings and presets are registered in the entry-point group like any other."""
    assert {"generic", "five9", "vicidial", "convoso"} <= set(available_mappings())


def test_third_party_entry_point_used_end_to_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
) -> None:
    """A separately installed package's entry point serves a source through a real relay."""
    install_distribution(
        tmp_path,
        "acme_relay_mapping",
        "acme_relay_mapping",
        ACME_MODULE,
        "acme = acme_relay_mapping:AcmeMapping",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "acme" in available_mappings()
    relay = start_relay(sources("acme", "{prefix: 'acme:'}"))
    auth = {"Authorization": "Bearer acme-hook-secret"}
    preview = httpx.post(f"{relay.url}/preview/acme", json=ACME_CALL, headers=auth)
    assert preview.json()["warnings"][0] == "acme mapping used"
    r = httpx.post(f"{relay.url}/hooks/acme", json=ACME_CALL, headers=auth)
    assert r.status_code == 202
    sent = fake.wait_accepted(1)[0].json()
    assert sent["dial_id"] == "acme:7f3c"
    assert (sent["ani"], sent["prospect_phone"]) == ("5125550100", "5125550187")
    assert (sent["disposition_name"], sent["call_direction"]) == ("No Answer", "Outbound")


def test_broken_entry_point_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point whose module fails to import is a start-up error naming it and why."""
    install_distribution(
        tmp_path,
        "broken_relay_mapping",
        "broken_relay_mapping",
        "raise RuntimeError('needs ACME_SDK')\n",
        "broken = broken_relay_mapping:Mapping",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        parse_sources(sources("broken"), env={})
    message = str(caught.value)
    assert "sources.acme.mapping: mapping 'broken'" in message
    assert "broken_relay_mapping:Mapping" in message and "needs ACME_SDK" in message


def test_missing_mapping_is_a_startup_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A source naming a mapping nobody installed stops start-up and lists what is installed."""
    path = tmp_path / "sources.yaml"
    path.write_text(sources("five8"))
    settings = make_settings(sources_file=path)
    with pytest.raises(ConfigError, match=r"no mapping named 'five8'.*installed: .*five9"):
        create_app(settings)


def test_check_reports_missing_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`relay check` exits 2 with the reason when a mapping is missing."""
    path = tmp_path / "sources.yaml"
    path.write_text(sources("nosuch"))
    assert main(["check", str(path)]) == 2
    assert "no mapping named 'nosuch'" in capsys.readouterr().err


MODULE_MAPPING = """
from relay.core.mapping import MappingResult

class Flat:
    def map(self, request, context):
        d = request.data
        return MappingResult(fields={
            "dial_id": d["id"], "ani": d["from"], "prospect_phone": d["to"],
            "datetime": d["at"], "disposition_name": d["result"],
        })

def mapping(options):
    return Flat()
"""


def test_mappings_dir_module_and_preset(tmp_path: Path) -> None:
    """RELAY_MAPPINGS_DIR serves a module and a YAML preset (here over the built-in five9)."""
    (tmp_path / "flat.py").write_text(MODULE_MAPPING)
    (tmp_path / "five9_acme.yaml").write_text(
        "description: Acme's Five9 connector\nmapping: five9\n"
        "options: {names: {call_id: CallID, ani: CallerID}}\n"
    )
    assert {"flat", "five9_acme"} <= set(available_mappings(tmp_path))
    flat = create_mapping("flat", {}, tmp_path)
    assert type(flat).__name__ == "Flat"
    text = (
        "sources:\n  f9:\n    mapping: five9_acme\n    auth: {type: none}\n"
        "    options: {names: {lead_source: ListName}}\n"
    )
    source = parse_sources(text, env={}, mappings_dir=tmp_path)["f9"]
    assert source.mapping.names["call_id"] == "CallID"  # type: ignore[attr-defined]
    assert source.mapping.names["lead_source"] == "ListName"  # type: ignore[attr-defined]
    assert source.coalesce_seconds == 900  # a preset over five9 is Five9: its legs coalesce


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"bad.py": "def broken(:\n"}, r"mapping 'bad' \(.*bad\.py\) failed to load: SyntaxError"),
        ({"bad.py": "x = 1\n"}, r"mapping 'bad' \(.*bad\.py\) defines no `mapping`"),
        ({"bad.yaml": "mapping: nowhere\n"}, r"mapping 'bad' \(.*\): base mapping: no mapping"),
        ({"bad.yaml": "options: {fields: {bogus: x}}\n"}, r"mapping 'bad' rejected .*bogus"),
        ({"bad.py": MODULE_MAPPING, "bad.yml": "{}\n"}, r"mapping 'bad' is defined twice"),
        ({"bad.yaml": "mapping: bad2\n", "bad2.yaml": "mapping: bad\n"}, r"nest too deep"),
    ],
)
def test_mappings_dir_failures_name_the_mapping(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    """Every way a directory mapping can fail is a ConfigError naming it and the reason."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=reason):
        create_mapping("bad", {}, tmp_path)


def test_mappings_dir_in_a_real_process(tmp_path: Path, fake: FakeOutboundIQ) -> None:
    """`relay serve` with RELAY_MAPPINGS_DIR loads a directory module (a ConfigMap's shape)."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "flat.py").write_text(MODULE_MAPPING)
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  flat:\n    mapping: flat\n    auth: {type: query, secret: s3}\n"
    )
    env = {
        "RELAY_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "RELAY_MAPPINGS_DIR": str(mappings),
        "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/q.db",
        "RELAY_OUTBOUNDIQ_URL": fake.url,
        "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
    }
    relay = RelayProcess(env, cwd=tmp_path, log_path=tmp_path / "relay.log").start()
    try:
        body = {
            "id": "f-1",
            "from": "5125550100",
            "to": "5125550187",
            "at": 1787328006,
            "result": "Sale",
        }
        r = httpx.post(f"{relay.url}/hooks/flat?token=s3", json=body)
        assert r.status_code == 202
        assert fake.wait_accepted(1)[0].json()["dial_id"] == "f-1"
    finally:
        relay.terminate()
