"""Processes under test: started pinned to a core, waited for, measured (peak RSS), stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

#: Core roles on a 2-core machine: the server under test gets one, the load and sinks the other.
SERVER_CPU = 0
LOAD_CPU = 1


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pin(cpu: int | None) -> dict[str, object]:
    """``Popen`` keyword arguments that pin the child to ``cpu`` (nothing on a 1-core box)."""
    if cpu is None or cores() < 2:
        return {}
    return {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers. Generous: on a loaded machine (the test suite's parallel workers)
    a pinned relay takes long to import; startup is not what the benchmark measures."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered at {url}")


class Proc:
    """A child process pinned to one core, with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cpu: int | None,
        workdir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            env={**os.environ, **(env or {})},
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            **pin(cpu),  # type: ignore[arg-type]
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def peak_rss_mb(self) -> float:
        """The process's high-water resident set (``VmHWM``), in MiB."""
        return _status_kb(self.pid, "VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU the process (all its threads) has used so far."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def thread_cpu_seconds(self) -> dict[str, float]:
        """User + system CPU so far per thread name (threads of one name added up); the
        main thread is ``main``."""
        out: dict[str, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    stat = (task / "stat").read_text()
                    name = stat[stat.index("(") + 1 : stat.rindex(")")]
                    fields = stat.rsplit(")", 1)[1].split()
                    key = "main" if task.name == str(self.pid) else name
                    out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return out

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


def _status_kb(pid: int, field: str) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return 0.0


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


@contextlib.contextmanager
def running(proc: Proc, ready_url: str) -> Iterator[Proc]:
    try:
        wait_http(ready_url, proc=proc.proc)
        yield proc
    finally:
        proc.stop()


NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port};
    location = /_count {{ stub_status; }}
    location / {{ default_type application/json; return 200 '{{"message":"dial queued"}}'; }}
  }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_sink(kind: str, workdir: Path, *, delay: float = 0.0, cpu: int = LOAD_CPU) -> Sink:
    """An instant (or ``delay``-slow) destination: nginx when asked and present, else Python."""
    port = free_port()
    binary = nginx_binary()
    if kind == "nginx" and delay == 0 and binary is not None:
        conf_dir = workdir / f"nginx-{port}"
        conf_dir.mkdir()
        (conf_dir / "nginx.conf").write_text(NGINX_CONF.format(dir=conf_dir, port=port))
        argv = [binary, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")]
        argv += ["-e", str(conf_dir / "nginx-error.log")]
        proc = Proc(f"nginx-{port}", argv, cpu=cpu, workdir=workdir)
        sink = Sink("nginx", port, proc)
    else:
        argv = python("-m", "bench.sink", "--port", str(port), "--delay", str(delay))
        proc = Proc(f"sink-{port}", argv, cpu=cpu, workdir=workdir, env=_pythonpath())
        sink = Sink("python", port, proc)
    wait_http(sink.url + "/_count", proc=proc.proc)
    return sink


class Sink:
    """The stand-in for outboundIQ; ``count()`` is how many requests it has answered."""

    def __init__(self, kind: str, port: int, proc: Proc) -> None:
        self.kind = kind
        self.port = port
        self.proc = proc
        self._polls = 1  # nginx counts its status requests too: the readiness probe was one

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        text = httpx.get(self.url + "/_count", timeout=5).text
        if self.kind != "nginx":
            return int(text)
        # "Active connections: 1\nserver accepts handled requests\n a b c\n...": c = requests
        self._polls += 1
        return int(text.splitlines()[2].split()[2]) - self._polls

    def stop(self) -> None:
        self.proc.stop()


def _pythonpath() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": root + (os.pathsep + current if current else "")}


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child that imports ``bench`` and ``relay`` from this checkout."""
    return {**_pythonpath(), **extra}
