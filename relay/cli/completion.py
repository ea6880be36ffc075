"""Shell completion: ``relay completion bash|zsh|fish`` prints the script to source.

Completion is argcomplete's (``argcomplete.autocomplete`` in ``relay.cli.main``): the shell
script runs ``relay`` itself with the command line in ``COMP_LINE``, and ``relay`` answers
with the words that fit, from the same parser that runs the command, so a new command or
option completes without touching the script. Source names (``relay preview <TAB>``,
``--source <TAB>``) are read from the sources file named by ``--sources-file`` or
``RELAY_SOURCES_FILE``: only its ``sources:`` keys, so no secret needs to be set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import yaml
from argcomplete.shell_integration import shellcode

__all__ = ["SHELLS", "complete_sources", "register", "source_names"]

SHELLS = ("bash", "zsh", "fish")


def complete_sources(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The configured source names that start with ``prefix`` (none when the file is not
    there or does not read: completion never prints an error)."""
    named = getattr(parsed_args, "sources_file", None) or os.environ.get("RELAY_SOURCES_FILE")
    if not named:
        return []
    try:
        doc = yaml.safe_load(Path(named).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, dict):
        return []
    return sorted(name for name in map(str, sources) if name.startswith(prefix))


def source_names(action: argparse.Action) -> argparse.Action:
    """``action`` (a source name argument), completed from the sources file."""
    action.completer = complete_sources  # type: ignore[attr-defined]  # argcomplete reads it
    return action


def cmd_completion(args: argparse.Namespace) -> int:
    code = shellcode(["relay"], shell=args.shell)
    print(code.strip("\n"))
    return 0


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``relay completion SHELL`` (``options`` are accepted, for uniformity, unused)."""
    p = sub.add_parser(
        "completion",
        help='print the shell completion script: eval "$(relay completion bash)"',
        description=(
            "Print the script that makes SHELL complete relay's commands, options and source "
            'names. bash: eval "$(relay completion bash)" in ~/.bashrc; zsh: the same in '
            "~/.zshrc (after compinit); fish: relay completion fish | source."
        ),
        parents=[options],
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=cmd_completion)
