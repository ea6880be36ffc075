"""The real Redis at 127.0.0.1:6379, shared with other test runs: unique prefixes, claimed dbs."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.support.fake_outboundiq import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
_CLAIM_SECONDS = 600


def prefix_for(tmp_path: Path) -> str:
    """A key prefix no other test (in this run or a parallel one) uses."""
    return "relaytest-" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:12]


@contextmanager
def unique_prefix(tmp_path: Path) -> Iterator[str]:
    """A prefix for this test's keys; the keys are deleted afterwards."""
    name = prefix_for(tmp_path)
    try:
        yield name
    finally:
        drop_prefix(name)


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key a queue with ``prefix`` created."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match="{" + prefix + "}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@contextmanager
def claimed_db() -> Iterator[str]:
    """The URL of a Redis db no one else uses right now (for tests that FLUSHDB).

    The claim is a key in db 0 that other runs of these tests respect; a db with keys in it is
    never claimed. The db is flushed and the claim released afterwards.
    """
    token = uuid.uuid4().hex
    with redis.Redis.from_url(REDIS_URL) as admin:
        for db in range(15, 0, -1):
            claim = f"relaytest:db-claim:{db}"
            if not admin.set(claim, token, nx=True, ex=_CLAIM_SECONDS):
                continue
            with redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}") as client:
                if client.dbsize() == 0:
                    try:
                        yield f"redis://127.0.0.1:6379/{db}"
                    finally:
                        client.flushdb()
                        if admin.get(claim) == token.encode():
                            admin.delete(claim)
                    return
            admin.delete(claim)
    raise RuntimeError("no free Redis db to claim (1-15 all in use)")


class PrivateRedis:
    """A redis-server of our own on a free port, for tests that stop Redis or configure it."""

    def __init__(self, workdir: Path, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, port_flag: str = "--port") -> PrivateRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        plain = ["--port", "0"] if port_flag != "--port" else []
        log = self.workdir / "redis.log"
        self.proc = subprocess.Popen(
            [
                *(self.binary, port_flag, str(self.port), *plain, "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
                *("--logfile", str(log), *self.args),
            ]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not start: {log.read_text()[-500:]}")

    def kill(self) -> None:
        """``kill -9``: Redis is gone, and (without persistence) so is everything in it."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (the certificate is its own CA)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *(
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
            ),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
