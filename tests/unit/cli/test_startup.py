"""The ``relay`` command starts without the server's modules: an operator's ``relay dlq``,
``relay --help`` and the shell's completion do not pay for Starlette, uvicorn, the console's
templates or redis-py (``serve`` and ``tail`` on Redis import them when they run: their
integration tests, tests/integration/test_config_problems.py and test_tail_redis.py, start
them)."""

from __future__ import annotations

import subprocess
import sys

SERVER_ONLY = (
    "relay.app",
    "relay.intake",
    "relay.console",
    "starlette",
    "uvicorn",
    "jinja2",
    "redis",
)


def test_the_parser_builds_without_the_servers_modules() -> None:
    code = (
        "import sys\n"
        "from relay.cli.main import build_parser\n"
        "build_parser()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r}\n"
        f"             or '.'.join(m.split('.')[:2]) in {SERVER_ONLY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
