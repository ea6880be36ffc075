"""A pytest plugin: no log line of the whole suite may carry a secret or a phone number.

At start it configures the relay's production logging (``configure_logging``: INFO, JSON)
into a recording stream that writes through to standard error, so pytest still shows the
logs of a failing test. Every ``SecretStr`` built during the run is remembered (sources
files, settings, test fixtures). When the session ends, it fails if any recorded line, or
any ``*.log`` file left under the session's temporary directory (``RelayProcess`` logs),
contains one of those secrets or an unmasked test phone number (the fictional 555 exchange,
in any format). Under pytest-xdist each worker checks its own lines and log files and hands
its findings to the controller, which reports them and fails the run.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from relay.obs.logs import configure_logging

#: Shorter secrets ("x", "bee") cannot be told apart from ordinary words in a log line.
MIN_SECRET_LENGTH = 6
_CANDIDATE = re.compile(r"\+?\(?\d(?:[\s().\-/]{0,2}\d){6,14}")
#: A number with a fraction: a Unix time (``1796622255.51735``) or seconds (``0.0985792555``),
#: whose digits can end in 555-xxxx. No phone format has one dot between digit runs.
_DECIMAL = re.compile(r"\d{1,11}\.\d+")


#: A UUID (a request id, a dial id): random hex, whose digits can read as 555-xxxx.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def unmasked_test_phones(text: str) -> list[str]:
    """Phone numbers of the 555 exchange (every test number), written out in ``text``."""
    found = []
    for match in _CANDIDATE.finditer(_UUID.sub("<uuid>", text)):
        if _DECIMAL.fullmatch(match.group(0)):
            continue
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= 10 and digits[-7:-4] == "555":
            found.append(match.group(0))
    return found


@dataclass
class LogGuard:
    """Records log output and the secrets seen, and says which lines leak."""

    secrets: set[str] = field(default_factory=set)
    lines: list[tuple[str, str]] = field(default_factory=list)
    current_test: str = "(session)"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remember_secret(self, value: object) -> None:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            self.secrets.add(value)

    def problems(self, text: str) -> list[str]:
        leaks = [f"secret {s[:2]}…" for s in self.secrets if s in text]
        return leaks + [f"phone {p!r}" for p in unmasked_test_phones(text)]

    def violations(self, extra: list[tuple[str, str]] | None = None) -> list[str]:
        with self._lock:
            lines = list(self.lines)
        out = []
        for where, text in [*lines, *(extra or [])]:
            for problem in self.problems(text):
                shown = text.strip()[:300]
                for secret in self.secrets:  # the report must not leak it either
                    shown = shown.replace(secret, "<secret>")
                out.append(f"{where}: {problem} in {shown!r}")
        return out


class RecordingStream:
    """A text stream that keeps every write for the guard and passes it on to stderr."""

    def __init__(self, guard: LogGuard) -> None:
        self.guard = guard

    def write(self, text: str) -> int:
        if text.strip():
            with self.guard._lock:
                self.guard.lines.append((self.guard.current_test, text))
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return False


GUARD = LogGuard()
_STREAM = RecordingStream(GUARD)


def install() -> None:
    """(Re)route all logging through the guard, with the production configuration."""
    configure_logging("INFO", json=True, stream=_STREAM)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    original = SecretStr.__init__

    def remembering_init(self: SecretStr, secret_value: str) -> None:
        GUARD.remember_secret(secret_value)
        original(self, secret_value)

    SecretStr.__init__ = remembering_init  # type: ignore[method-assign]
    install()


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    GUARD.current_test = nodeid


def pytest_runtest_teardown(item: pytest.Item) -> None:
    install()  # a test may have configured logging its own way


def _log_files(session: pytest.Session) -> list[tuple[str, str]]:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return []
    try:
        base = factory.getbasetemp()
    except (OSError, ValueError):
        return []
    return [
        (str(path.relative_to(base)), path.read_text(errors="replace"))
        for path in Path(base).rglob("*.log")
        if path.is_file()
    ]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: a worker's findings (its tests, its log files)."""
    found = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if found is not None:
        node.config.stash.setdefault(_FROM_WORKERS, []).extend(found)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller reports and fails
        workeroutput[_WORKER_KEY] = GUARD.violations(_log_files(session))
        return
    from_workers = config.stash.get(_FROM_WORKERS, None)
    if from_workers is None:  # no workers: this process ran the tests
        found = GUARD.violations(_log_files(session))
    else:  # each worker checked its lines and log files with the secrets it saw
        found = GUARD.violations() + from_workers
    config.stash[_FOUND] = found
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(_FOUND, [])
    if found:
        terminalreporter.section("log guard: secrets or phone numbers in log lines", red=True)
        for line in found[:50]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"{len(found)} leak(s); see tests/log_guard.py")


_FOUND = pytest.StashKey[list[str]]()
_FROM_WORKERS = pytest.StashKey[list[str]]()
_WORKER_KEY = "log_guard_violations"
