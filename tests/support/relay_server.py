"""Run the relay for real: in-process (uvicorn in a thread) or as a separate process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from relay.app import create_app
from relay.config.settings import Settings
from relay.intake.runtime import RelayRuntime
from relay.intake.server import build_server
from tests.support.fake_outboundiq import free_port


def wait_ready(url: str, timeout: float = 60.0, path: str = "/healthz") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"relay at {url} did not come up: {last}")


class RelayThread:
    """The real app under a real uvicorn server on a free port, in a background thread."""

    def __init__(self, settings: Settings, **app_kwargs: Any) -> None:
        # Bound here and handed to uvicorn: a port picked now and bound later could be taken
        # meanwhile by another process (pytest-xdist workers start servers all the time).
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", settings.port))
        self.settings = settings.model_copy(update={"port": self._socket.getsockname()[1]})
        self.app = create_app(self.settings, **app_kwargs)
        self.runtime: RelayRuntime = self.app.state.runtime
        self.server = build_server(self.app, self.settings, host="127.0.0.1")
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self._socket]))
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self) -> RelayThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("relay failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the relay's own event loop (e.g. a queue query)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class RelayProcess:
    """``python -m relay serve`` as a child process, for signal and crash tests."""

    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.port = int(env.get("RELAY_PORT") or free_port())
        self.env = {**os.environ, **env, "RELAY_PORT": str(self.port), "RELAY_HOST": "127.0.0.1"}
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> RelayProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "serve"],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(self.url, timeout)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
