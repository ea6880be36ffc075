"""``relay tail`` as a real child process: its lines as they come, stopped with Ctrl-C.

tail = TailProcess(["--json", "--url", relay.url], env).start()  # waits for "following"
tail.wait_for(lambda events: any(e["kind"] == "delivered" for e in events))
assert tail.interrupt() == 0   # SIGINT, as Ctrl-C sends it
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RELAY = Path(sys.executable).with_name("relay")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class TailProcess:
    """``relay tail ARGS`` with ``env`` (over the test's own environment, without any
    ``RELAY_*`` of it), reading its standard output and error in the background."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        self.command = [str(RELAY), "tail", *args]
        self.env = {**base, **env}
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self.out: list[str] = []
        self.err: list[str] = []
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    def start(self, *, ready: bool = True, timeout: float = 60.0) -> TailProcess:
        """Start it; with ``ready``, wait until it says it is following (events from then on
        reach it)."""
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As a shell (or CI) starts what it runs in the background: SIGINT ignored. Ctrl-C
            # must stop ``relay tail`` all the same (``interrupt``).
            preexec_fn=_ignore_sigint,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()
        if ready and not self.wait_until(lambda: "following" in self.stderr(), timeout):
            self.proc.kill()
            raise AssertionError(f"relay tail did not start: {self.stderr()!r}")
        return self

    def _read(self, stream: Any, into: list[str]) -> None:
        with stream:
            for line in stream:
                with self._lock:
                    into.append(line.rstrip("\n"))

    def lines(self) -> list[str]:
        with self._lock:
            return list(self.out)

    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self.err)

    def events(self) -> list[dict[str, Any]]:
        """Standard output read as ``--json`` lines."""
        return [json.loads(line) for line in self.lines() if line.strip()]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                self._join()  # what it wrote before it ended
                return predicate()
            time.sleep(0.05)
        return predicate()

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """The events, once ``predicate`` holds for them (an AssertionError if it never
        does)."""
        if not self.wait_until(lambda: predicate(self.events()), timeout):
            raise AssertionError(f"not seen in time; got {self.lines()!r} {self.stderr()!r}")
        return self.events()

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._join()
        return code

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(10)

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C: SIGINT, and its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._join()
