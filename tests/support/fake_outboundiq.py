"""A fake outboundIQ: a real HTTP server that records every request and fails on command.

fake = FakeOutboundIQ(); fake.start()
fake.script(Reply(503, headers={"Retry-After": "7"}), Reply(200))  # next answers, in order
fake.default = Reply(500)        # the answer once the script is used up
fake.set_key_status("bad-key", 401)  # answer 401 to that Bearer key
fake.stop(); fake.start()        # down (connection refused), then up on the same port
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering

    def payload(self) -> bytes:
        if self.body is None:
            return b'{"message":"dial queued"}' if 200 <= self.status < 300 else b'{"error":"x"}'
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def bearer(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ")


def send_reply(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Write ``reply`` as a JSON response (the fakes share it)."""
    payload = reply.payload()
    handler.send_response(reply.status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for k, v in reply.headers.items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(payload)


RequestHandler = Callable[[BaseHTTPRequestHandler, dict[str, str], bytes], None]


def serve_http(port: int, handle: RequestHandler) -> ThreadingHTTPServer:
    """A real threaded HTTP/1.1 server on 127.0.0.1:``port`` calling ``handle(handler,
    lower-cased headers, body)`` for every GET and POST (the fakes share it)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            handle(self, {k.lower(): v for k, v in self.headers.items()}, body)

        do_GET = _handle
        do_POST = _handle

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 256  # the default backlog of 5 drops bursts of connections

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that timed out and left (the relay's timeout and kill tests)

    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def stop_http(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeOutboundIQ:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Received] = []
        self.default = Reply(200)
        self._script: deque[Reply] = deque()
        self._key_status: dict[str, int] = {}
        self._dial_replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control ---------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def set_key_status(self, key: str, status: int | None) -> None:
        with self._lock:
            if status is None:
                self._key_status.pop(key, None)
            else:
                self._key_status[key] = status

    def fail_dial(self, dial_id: str, reply: Reply | None) -> None:
        """Answer ``reply`` to every POST of that dial_id (None: stop)."""
        with self._lock:
            if reply is None:
                self._dial_replies.pop(dial_id, None)
            else:
                self._dial_replies[dial_id] = reply

    def accepted_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for dial_id in self.accepted_ids():
            counts[dial_id] = counts.get(dial_id, 0) + 1
        return counts

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        return [r.json()["dial_id"] for r in self.accepted()]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())

    def wait_accepted(self, count: int, timeout: float = 10.0) -> list[Received]:
        self.wait_for(lambda: len(self.accepted()) >= count, timeout)
        return self.accepted()

    def _next_reply(self, key: str, body: bytes) -> Reply:
        with self._lock:
            if self._dial_replies:
                try:
                    dial_id = json.loads(body).get("dial_id")
                except ValueError:
                    dial_id = None
                if dial_id in self._dial_replies:
                    return self._dial_replies[dial_id]
            if key in self._key_status:
                return Reply(self._key_status[key])
            if self._script:
                return self._script.popleft()
            return self.default

    # --- lifecycle -------------------------------------------------------------------
    def _on_request(
        self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> None:
        reply = self._next_reply(headers.get("authorization", "").removeprefix("Bearer "), body)
        answered = reply.status if not (reply.drop or reply.delay) else 0
        record = Received(handler.command, handler.path, headers, body, time.time(), answered)
        with self._lock:
            self.requests.append(record)
        if reply.delay:
            time.sleep(reply.delay)
            record.status = reply.status
        if reply.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        send_reply(handler, reply)

    def start(self) -> FakeOutboundIQ:
        self._server = serve_http(self.port, self._on_request)
        return self

    def stop(self) -> None:
        stop_http(self._server)
        self._server = None
