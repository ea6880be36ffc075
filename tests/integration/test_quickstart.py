"""The README quick start works as written: `make run`, then the documented curl."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.fake_outboundiq import free_port
from tests.support.relay_server import wait_ready

ROOT = Path(__file__).resolve().parents[2]


def _curl_block() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r"<!-- quickstart-curl -->\s*```sh\n(.*?)```\s*<!-- /quickstart-curl -->", readme, re.S
    )
    assert match, "README lost its quick-start curl example"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_make_run_and_readme_curl(tmp_path: Path) -> None:
    """`make run` starts in loud dry-run without a key, and the README curl gets a 202."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "MAKEFLAGS"}
    env.update({"RELAY_PORT": str(port), "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/q.db"})
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout=60)
        command = _curl_block().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        out = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        assert '"status":"queued"' in out and '"dial_id":"demo-1"' in out
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'relay_webhooks_total{outcome="queued",source="demo"} 1.0' in metrics
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
    text = (tmp_path / "run.log").read_text()
    assert "DRY-RUN" in text
    assert "dial_forwarded" in text
