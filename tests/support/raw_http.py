"""HTTP/1.1 on a bare socket: what a server sends, byte for byte (status line, headers in
their order, body), for tests that pin answers exactly."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """One answer as it came off the wire; ``headers`` in their order, names as sent."""

    status_line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        values = [v for k, v in self.headers if k.lower() == name]
        return values[-1] if values else None


def request(
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    *,
    length: int | None = None,
) -> bytes:
    """A request's bytes; ``Content-Length`` is the body's unless ``length`` says otherwise."""
    lines = [f"{method} {target} HTTP/1.1", "Host: relay.test"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if body is not None or length is not None:
        lines.append(f"Content-Length: {len(body or b'') if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def parse(data: bytes, *, head_only: bool = False) -> tuple[Reply | None, bytes]:
    """The first complete answer in ``data`` and what follows it, or None while incomplete."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, data
    status_line, *lines = head.split(b"\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        headers.append((name, value.strip()))
    reply = Reply(status_line, headers, b"")
    length = int(reply.header(b"content-length") or b"0")
    if head_only:
        length = 0
    if len(rest) < length:
        return None, data
    return Reply(status_line, headers, rest[:length]), rest[length:]


def exchange(
    port: int,
    data: bytes,
    *,
    head_only: bool = False,
    until_closed: bool = False,
    timeout: float = 10.0,
) -> Reply:
    """Send ``data`` on a fresh connection and read one answer; with ``until_closed``, read
    until the server closes the connection, and nothing may follow the answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(timeout)
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            reply, rest = parse(received, head_only=head_only)
            if reply is not None and not until_closed:
                return reply
    reply, rest = parse(received, head_only=head_only)
    if reply is None:
        raise AssertionError(f"no complete answer in {received[:300]!r}")
    assert rest == b"", f"more after the answer: {rest[:200]!r}"
    return reply
