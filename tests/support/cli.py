"""The real ``relay`` command, run as a subprocess (the console script this venv installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

RELAY = Path(sys.executable).with_name("relay")


def run_relay(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``relay ARGS...`` with this process's environment (``monkeypatch.setenv`` included)
    plus ``env``; its exit code, stdout and stderr. It never reads the terminal."""
    done = subprocess.run(
        [str(RELAY), *args],
        env={**os.environ, **(env or {})},
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )
