"""Reads the console's live stream (``GET /console/events``) in a thread, as a browser would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from relay.obs.sse import SseParser


class LiveStream:
    """Follows ``/console/events`` with ``cookies`` until ``close()``; ``frames`` holds each
    ``(event, data)`` pair read, ``raw`` every byte (for what must not be in it)."""

    def __init__(self, base_url: str, cookies: httpx.Cookies, params: dict[str, str]) -> None:
        self.base_url = base_url
        self.cookies = cookies
        self.params = params
        self.frames: list[tuple[str, str]] = []
        self.raw = bytearray()
        self.status: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LiveStream:
        self._thread.start()
        return self

    def _run(self) -> None:
        parser = SseParser()
        timeout = httpx.Timeout(10.0, read=60.0)
        with (
            httpx.Client(base_url=self.base_url, cookies=self.cookies, timeout=timeout) as client,
            client.stream("GET", "/console/events", params=self.params) as response,
        ):
            self.status = response.status_code
            for chunk in response.iter_raw():
                with self._lock:
                    self.raw.extend(chunk)
                    self.frames.extend(parser.feed(chunk))
                if self._stop.is_set():
                    return

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            frames = list(self.frames)
        notes = ("message", "missed", "skipped")
        return [orjson.loads(data) for name, data in frames if name in notes]

    def hello(self) -> dict[str, Any] | None:
        with self._lock:
            ready = [data for name, data in self.frames if name == "ready"]
        return orjson.loads(ready[0]) if ready else None

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The events read once ``predicate`` holds for them (AssertionError after
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            time.sleep(0.02)
        events = self.events()
        assert predicate(events), f"not seen within {timeout} s: {events}"
        return events

    def wait_ready(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.hello() is None:
            time.sleep(0.02)
        hello = self.hello()
        assert hello is not None, f"no ready frame (status {self.status})"
        return hello

    def close(self) -> None:
        """Stop reading (the relay sees the client go at its next write: a keep-alive)."""
        self._stop.set()
