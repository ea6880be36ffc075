"""Every command and every option of `relay` says what it is for (`relay ... --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from relay.cli.main import build_parser
from tests.support.cli import run_relay


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    return (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """(command path, its parser, the help its parent lists it with) for every command."""
    for group in _subcommands(parser):
        assert isinstance(group, argparse._SubParsersAction)
        helps = {choice.dest: choice.help for choice in group._choices_actions}
        for name, child in group.choices.items():
            yield (*path, name), child, helps.get(name)
            yield from _walk(child, (*path, name))


def _missing_help(parser: argparse.ArgumentParser) -> list[str]:
    """Every command without help, and every option or positional without help."""
    missing = []
    for path, child, listed in _walk(parser):
        where = "relay " + " ".join(path)
        if not listed or listed == argparse.SUPPRESS:
            missing.append(f"{where}: no help")
        for action in child._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                name = "/".join(action.option_strings) or action.dest
                missing.append(f"{where} {name}: no help")
    return missing


def test_every_command_and_option_has_help() -> None:
    """The whole parser tree, commands added later included: nothing without help."""
    parser = build_parser()
    assert [p for p, _, _ in _walk(parser)]  # the walk does see the commands
    assert _missing_help(parser) == []


def test_the_walk_finds_a_command_and_an_option_without_help() -> None:
    """The check is not vacuous: an undocumented command and option are both reported."""
    parser = build_parser()
    (group,) = _subcommands(parser)
    assert isinstance(group, argparse._SubParsersAction)
    bare = group.add_parser("bare")
    bare.add_argument("--quiet", action="store_true")
    assert _missing_help(parser) == ["relay bare: no help", "relay bare --quiet: no help"]


def test_help_is_printed_by_the_real_command() -> None:
    """`relay dlq list --help` shows the --json option and what it is for."""
    done = run_relay("dlq", "list", "--help")
    assert done.returncode == 0
    assert "--json" in done.stdout and "one JSON document" in done.stdout
    top = run_relay("--help")
    for command in ("dlq", "rejected", "queue", "backfill", "preview", "completion"):
        assert f"    {command}" in top.stdout
