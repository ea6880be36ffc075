"""Read the repo's Dockerfile into stages, and replay a stage on this machine under a fake root.

No container engine runs here, so tests/deploy/test_image.py replays the image build: the same
ENV, WORKDIR, COPY and RUN lines, with every container path moved under a temp directory
(``/app`` becomes ``<root>/app``). Only the instructions a build runs are modelled.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Docker's PATH in a fresh container (what ``$PATH`` expands to in the first ENV).
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON-array argument of the stage's last ENTRYPOINT or CMD."""
        import json

        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        value = json.loads(found[-1].args)
        assert isinstance(value, list), f"{keyword} must use the exec (JSON array) form"
        return [str(v) for v in value]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return [line for line in lines if line]


def parse(text: str) -> Dockerfile:
    """Instructions grouped by stage; ARGs before the first FROM are global defaults."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(name=name, base=expand(parts[0], args)))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(args=args, stages=stages)


def expand(value: str, env: Mapping[str, str]) -> str:
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def env_pairs(args: str, env: Mapping[str, str]) -> dict[str, str]:
    """``ENV A=1 B=$A`` as a dict, each value expanded with the environment before it."""
    out: dict[str, str] = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        assert sep, f"ENV {token!r}: use the KEY=value form"
        out[key] = expand(value, {**env, **out})
    return out


@dataclass
class FakeRoot:
    """Container paths moved under ``root``; ``dirs`` are the container directories in use."""

    root: Path
    dirs: tuple[str, ...]

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def map(self, text: str) -> str:
        """Rewrite every container directory named in ``text`` to its place under the root."""
        for d in sorted(self.dirs, key=len, reverse=True):
            text = re.sub(rf"(?<![\w.-]){re.escape(d)}(?=/|\b|$)", str(self.path(d)), text)
        return text


def replay_stage(
    stage: Stage,
    fs: FakeRoot,
    *,
    context: Path,
    env: dict[str, str],
    args: Mapping[str, str],
    adjust_env: Callable[[dict[str, str]], None] | None = None,
) -> dict[str, str]:
    """Run a build stage's WORKDIR/ENV/ARG/COPY/RUN lines; returns the stage's final ENV.

    ``COPY --from`` (a binary from another image) is the caller's to provide on PATH.
    ``adjust_env`` may rewrite the environment RUN sees (e.g. the interpreter to use).
    """
    image_env: dict[str, str] = {"PATH": DOCKER_PATH}
    build_args: dict[str, str] = {}
    cwd = fs.root
    for ins in stage.instructions:
        if ins.keyword == "ARG":
            build_args.update(_stage_arg(ins.args, args))
        elif ins.keyword == "WORKDIR":
            cwd = fs.path(ins.args)
            cwd.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "ENV":
            image_env.update(env_pairs(ins.args, {**build_args, **image_env}))
        elif ins.keyword == "COPY" and not ins.args.startswith("--from"):
            *sources, dest = shlex.split(ins.args)
            target = cwd / dest if not dest.startswith("/") else fs.path(dest)
            for src in sources:
                origin = context / src
                if origin.is_dir():
                    shutil.copytree(origin, target / origin.name if dest.endswith("/") else target)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif ins.keyword == "RUN":
            command = fs.map(re.sub(r"--mount=\S+\s*", "", ins.args))
            for path in re.findall(r"(?<![\w.:-])/[\w./*-]+", command):
                assert path.startswith(str(fs.root)), (
                    f"RUN touches {path}, a container path the replay does not map: "
                    "add its directory to CONTAINER_DIRS"
                )
            run_env = {**env, **{k: fs.map(v) for k, v in image_env.items() if k != "PATH"}}
            if adjust_env:
                adjust_env(run_env)
            subprocess.run(
                ["sh", "-c", command],
                cwd=cwd,
                env=run_env,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return image_env


def _stage_arg(text: str, args: Mapping[str, str]) -> dict[str, str]:
    """``ARG NAME`` inside a stage takes the global default; ``ARG NAME=value`` its own."""
    key, sep, default = text.partition("=")
    return {key: default if sep else args.get(key, "")}


def runtime_env(stage: Stage, fs: FakeRoot, args: Mapping[str, str]) -> dict[str, str]:
    """The environment a container of this stage starts with, container paths mapped."""
    env: dict[str, str] = {"PATH": DOCKER_PATH}
    build_args: dict[str, str] = {}
    for ins in stage.instructions:
        if ins.keyword == "ARG":
            build_args.update(_stage_arg(ins.args, args))
        elif ins.keyword == "ENV":
            env.update(env_pairs(ins.args, {**build_args, **env}))
    return {k: fs.map(v) for k, v in env.items()}


def copy_instructions(stage: Stage) -> list[list[str]]:
    return [shlex.split(i.args) for i in stage.all("COPY")]


def clean_env() -> dict[str, str]:
    """This process's environment minus anything that would point Python at the source tree."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("RELAY_")}
