"""The container image, without a container engine: its build and its CMD replayed in a temp root.

The build stage's own lines run here (``uv sync --locked --no-install-project``, ``uv build``,
``uv pip install`` of the wheel) with ``/app``, ``/src``... moved under a temp directory, then
the source tree is deleted and the runtime stage's ENTRYPOINT + CMD start with exactly the
runtime stage's ENV (plus what ``docker run -e`` would add), and must serve ``/readyz`` and
deliver a webhook. The one substitution: the base image's ``python3.X`` is this interpreter.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import dial_body
from tests.deploy import dockerfile
from tests.support.fake_outboundiq import FakeOutboundIQ, free_port
from tests.support.relay_server import wait_ready

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".venv" / "bin" / "uv"
CONTAINER_DIRS = ("/app", "/dist", "/src", "/var/lib/relay", "/etc/relay")
SOURCES = """
sources:
  crm:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: "${CRM_HOOK_SECRET}"}
"""

# One worker (pytest-xdist --dist loadgroup) builds the image once for both tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("image")]


@dataclass
class Image:
    fs: dockerfile.FakeRoot  # the replayed root: venv at /app, no source tree
    df: dockerfile.Dockerfile

    @property
    def runtime(self) -> dockerfile.Stage:
        return self.df.stage("runtime")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The image's build stage replayed under a temp root, its source tree then removed."""
    if not UV.exists():
        pytest.fail(f"{UV} missing: run `make test` (it bootstraps .venv with uv)")
    df = dockerfile.parse((ROOT / "Dockerfile").read_text())
    fs = dockerfile.FakeRoot(tmp_path_factory.mktemp("rootfs"), CONTAINER_DIRS)
    env = dockerfile.clean_env()
    env["PATH"] = f"{UV.parent}:{env['PATH']}"

    def this_python(run_env: dict[str, str]) -> None:
        assert run_env["UV_PYTHON"].startswith("python3"), "the build pins the base's python"
        run_env["UV_PYTHON"] = sys.executable

    try:
        dockerfile.replay_stage(
            df.stage("build"), fs, context=ROOT, env=env, args=df.args, adjust_env=this_python
        )
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"build step failed: {exc.cmd}\n{exc.stdout!r}\n{exc.stderr!r}")
    shutil.rmtree(fs.path("/src"))
    shutil.rmtree(fs.path("/dist"))
    return Image(fs, df)


def test_build_stage_installs_the_wheel_not_the_source(image: Image) -> None:
    """The venv holds the relay as an installed wheel, importable with the source tree gone."""
    fs, runtime = image.fs, image.runtime
    copies = dockerfile.copy_instructions(runtime)
    assert ["--from=build", "/app", "/app"] in copies, "runtime must copy only the venv"
    assert all(c[0].startswith("--from=") for c in copies), "runtime copies nothing from source"
    python = fs.path("/app/bin/python")
    probe = (
        "import relay, mappings.generic; print(relay.__file__)\n"
        # Package data and entry points come with the wheel: the Lua scripts, the queue schemes.
        "from relay.queue.redis.scripts import NAMES, load_scripts\n"
        "from relay.queue.registry import available_schemes\n"
        "print(len(load_scripts()) == len(NAMES), *available_schemes())\n"
        # The console's templates and assets: rendered and read from the installed package.
        "from importlib.resources import files\n"
        "from jinja2 import Environment, PackageLoader\n"
        "env = Environment(loader=PackageLoader('relay.console', 'templates'))\n"
        "pages = [env.loader.get_source(env, n) for n in env.list_templates()]\n"
        "static = files('relay.console') / 'static'\n"
        "assets = sorted(p.name for p in static.iterdir())\n"
        "print(len(pages), *assets)"
    )
    where, data, console = subprocess.run(
        [str(python), "-c", probe],
        cwd=fs.root,
        env={"PATH": dockerfile.DOCKER_PATH},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert str(fs.path("/app")) in where and "site-packages" in where
    scripts_loaded, *schemes = data.split()
    assert scripts_loaded == "True" and {"sqlite", "redis", "rediss", "unix"} <= set(schemes)
    templates, *assets = console.split()
    source = Path(__file__).resolve().parents[2] / "relay" / "console"
    assert int(templates) == len(list((source / "templates").glob("*.html")))
    assert assets == sorted(p.name for p in (source / "static").iterdir())
    assert not (fs.path("/app") / "bin" / "pytest").exists(), "dev dependencies leaked in"
    # Time zones work from the venv's own tzdata, even with no system zoneinfo at all.
    subprocess.run(
        [str(python), "-c", "import zoneinfo; zoneinfo.ZoneInfo('America/Chicago')"],
        env={"PATH": dockerfile.DOCKER_PATH, "PYTHONTZPATH": ""},
        check=True,
    )


def test_image_cmd_serves_readyz_and_delivers(image: Image, fake: FakeOutboundIQ) -> None:
    """ENTRYPOINT + CMD with the image's ENV serve /readyz, deliver a dial, and stop on SIGTERM."""
    fs, runtime = image.fs, image.runtime
    argv = runtime.exec_form("ENTRYPOINT") + runtime.exec_form("CMD")
    env = dockerfile.runtime_env(runtime, fs, image.df.args)
    assert env["RELAY_HOST"] == "0.0.0.0"
    assert env["RELAY_QUEUE_URL"].startswith("sqlite:///" + str(fs.path("/var/lib/relay")))
    for ins in runtime.all("WORKDIR") + runtime.all("VOLUME"):
        for d in ins.args.strip("[]").replace('"', "").split(","):
            fs.path(d.strip()).mkdir(parents=True, exist_ok=True)
    sources_file = Path(env["RELAY_SOURCES_FILE"])
    sources_file.parent.mkdir(parents=True, exist_ok=True)
    sources_file.write_text(SOURCES)  # the ConfigMap mount
    port = free_port()
    env.update(  # `docker run -p PORT:PORT -e ...`
        RELAY_PORT=str(port),
        RELAY_OUTBOUNDIQ_URL=fake.url,
        RELAY_OUTBOUNDIQ_API_KEY="oiq-image-key",
        CRM_HOOK_SECRET="s3cret",
    )
    workdir = fs.path(runtime.all("WORKDIR")[-1].args)
    log = (fs.root / "relay.log").open("wb")
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, timeout=30, path="/readyz")
        hook = f"{url}/hooks/crm"
        reply = httpx.post(hook, json=dial_body(), headers={"X-Relay-Token": "s3cret"})
        assert reply.status_code == 202, reply.text
        got = fake.wait_accepted(1)
        assert got[0].bearer == "oiq-image-key"
        assert got[0].json()["dial_id"] == "call-0001"
        assert Path(env["RELAY_QUEUE_URL"].removeprefix("sqlite://")).exists()
        proc.send_signal(signal.SIGTERM)
        # uvicorn drains, then re-raises the signal it caught: 143 under Docker, -15 here.
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    lines = (fs.root / "relay.log").read_text().splitlines()
    events = [json.loads(line).get("event") for line in lines if line.startswith("{")]
    assert "relay_stopped" in events
