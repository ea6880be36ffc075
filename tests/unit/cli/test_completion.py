"""Shell completion: the real `relay` answers argcomplete's protocol, and the script it
prints for each shell is one the shell accepts and that completes through `relay`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import RELAY, run_relay

SOURCES = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: "${CRM_SECRET_NOT_SET}"}
  five9-east:
    mapping: five9
    auth: {type: query, param: token, secret: f9-hook-secret}
"""


def _complete(line: str, tmp_path: Path, **env: str) -> list[str]:
    """What `relay` answers a shell completing ``line`` (cursor at its end), as argcomplete's
    shell script asks it: the line in COMP_LINE/COMP_POINT, the answer in a file."""
    out = tmp_path / "completions.txt"
    out.unlink(missing_ok=True)
    done = run_relay(
        env={
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_SHELL": "bash",
            "_ARGCOMPLETE_IFS": "\n",
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "COMP_TYPE": "9",
            **env,
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # completion never runs the command
    return [word.strip() for word in out.read_text().split("\n") if word.strip()]


def test_completes_commands_and_options(tmp_path: Path) -> None:
    """`relay dl` → dlq; `relay dlq ` → its actions; `relay dlq list --` → its options."""
    assert _complete("relay dl", tmp_path) == ["dlq"]
    assert {"list", "show", "replay", "purge"} <= set(_complete("relay dlq ", tmp_path))
    options = _complete("relay dlq list --", tmp_path)
    assert {"--json", "--source", "--status", "--older-than", "--queue-url"} <= set(options)
    assert _complete("relay backfill --max", tmp_path) == ["--max-reject-ratio"]
    assert {"bash", "zsh", "fish"} <= set(_complete("relay completion ", tmp_path))


def test_completes_source_names_from_the_sources_file(tmp_path: Path) -> None:
    """Source names come from --sources-file, else RELAY_SOURCES_FILE; a secret that is not
    set does not matter, and a missing file completes nothing."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    assert _complete(f"relay preview --sources-file {sources} f", tmp_path) == ["five9-east"]
    env = {"RELAY_SOURCES_FILE": str(sources)}
    assert _complete("relay backfill ", tmp_path, **env)[-2:] == ["crm", "five9-east"]
    assert _complete("relay dlq list --source c", tmp_path, **env) == ["crm"]
    assert _complete("relay rejected replay --source ", tmp_path, **env) == ["crm", "five9-east"]
    missing = {"RELAY_SOURCES_FILE": str(tmp_path / "nope.yaml")}
    assert _complete("relay dlq list --source ", tmp_path, **missing) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_valid(shell: str, tmp_path: Path) -> None:
    """`relay completion SHELL` prints a script naming `relay`; bash (and zsh or fish when
    installed) parse it without running it."""
    done = run_relay("completion", shell)
    assert done.returncode == 0 and "relay" in done.stdout
    script = tmp_path / f"relay.{shell}"
    script.write_text(done.stdout)
    checker = "bash" if shell in ("bash", "zsh") else shell
    if shutil.which(checker) is None:
        pytest.skip(f"{checker} is not installed")
    checked = subprocess.run([checker, "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_bash_completes_through_the_printed_script(tmp_path: Path) -> None:
    """In a real bash, the function `relay completion bash` defines fills COMPREPLY by
    running `relay`: the whole path a user's TAB takes."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    program = """
eval "$(relay completion bash)"
complete -p relay
COMP_LINE="relay dlq list --so"; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(relay dlq list --so); COMP_CWORD=3
_python_argcomplete relay
printf 'reply:%s\\n' "${COMPREPLY[@]}"
"""
    env = {**os.environ, "PATH": f"{RELAY.parent}:{os.environ['PATH']}"}
    env["RELAY_SOURCES_FILE"] = str(sources)
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "-F _python_argcomplete relay" in done.stdout
    replies = [line.removeprefix("reply:") for line in done.stdout.splitlines()]
    assert {"--source", "--sources-file"} <= {r.strip() for r in replies if r.startswith("--")}
