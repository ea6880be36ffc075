"""`relay check` and `relay serve`, as commands: every configuration problem of a run at once
(settings, the sources file, what only building the sources shows), exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RELAY = Path(sys.executable).with_name("relay")

SOURCES = """\
sources:
  acme:
    auth: {type: header, header: X-Key, secret: acme-hook-secret}
    timezon: UTC
    api_key: oiq-acme-key-0001
  broken:
    mapping: broken
    auth: {type: header, header: X-Key, secret: broken-hook-secret}
    api_key: oiq-broken-key-0002
  keyless:
    auth: {type: bearer, secret: keyless-hook-secret}
    options: {fields: {prospect_phone: "a.[b"}}
"""


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    maps = tmp_path / "maps"
    maps.mkdir(exist_ok=True)
    (maps / "broken.py").write_text("def mapping(options:\n    return None\n")  # SyntaxError
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    base |= {
        "RELAY_SOURCES_FILE": str(sources),
        "RELAY_MAPPINGS_DIR": str(maps),
        "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
        "RELAY_PORT": "eighty",
        "RELAY_LOG_LEVEL": "LOUD",
        **env,
    }
    return subprocess.run(
        [str(RELAY), *args],
        env=base,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["check", "serve"])
def test_settings_file_and_build_problems_in_one_run(tmp_path: Path, command: str) -> None:
    """Two bad RELAY_* values, a misspelt key, a mapping module that does not compile, a
    JMESPath that does not either and a source without an outboundIQ key: one run of `check`
    or `serve` names them all, one a line (settings first, then the file in its order, then
    the keys), exits 2 and prints no traceback; `serve` starts nothing."""
    done = _run(tmp_path, command)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    path = tmp_path / "sources.yaml"
    assert lines[0] == (
        "relay: error: RELAY_PORT: Input should be a valid integer, unable to parse string as "
        "an integer"
    )
    assert lines[1].startswith("RELAY_LOG_LEVEL: Value error, unknown log level 'LOUD'")
    assert lines[2] == (
        f"{path}:4: sources.acme.timezon: Extra inputs are not permitted (did you mean 'timezone'?)"
    )
    assert lines[3].startswith(f"{path}:7: sources.broken.mapping: mapping 'broken' (")
    assert "failed to load: SyntaxError" in lines[3]
    assert lines[4].startswith(f"{path}:10: sources.keyless.mapping: mapping 'generic' rejected")
    assert "invalid JMESPath 'a.[b'" in lines[4]
    assert lines[5] == (
        "RELAY_OUTBOUNDIQ_API_KEY is not set and these sources name no api_key: keyless "
        "(set RELAY_DRY_RUN=true to map and queue without sending)"
    )
    assert len(lines) == 6, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "queue.db").exists()  # serve stopped before opening the queue


def test_check_passes_once_everything_is_fixed(tmp_path: Path) -> None:
    """The same sources with each problem fixed, and valid settings: exit 0, one `ok` line
    per source."""
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(
        SOURCES.replace("timezon:", "timezone:")
        .replace("mapping: broken", "mapping: generic")
        .replace('"a.[b"', "phone")
    )
    done = _run(
        tmp_path,
        "check",
        str(fixed),
        RELAY_PORT="8080",
        RELAY_LOG_LEVEL="info",
        RELAY_OUTBOUNDIQ_API_KEY="oiq-default-key-0003",
    )
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()[:3]] == [
        "ok  acme",
        "ok  broken",
        "ok  keyless",
    ]
