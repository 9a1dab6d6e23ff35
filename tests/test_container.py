"""The container image (Dockerfile), built here with podman and run with chroot.

No registry can be reached from this machine, so the image is built on a base made locally from Debian's
packages (debootstrap: bookworm with python3 and python3-venv, imported into podman once per machine and
kept as localhost/ladderbot-test-base:bookworm), passed as the BASE_IMAGE build argument. `podman run`
fails on this machine's cgroups, so the built image's file system is mounted (a container created, never
started) and its programs are run with chroot as the image's user, with the image's environment.

Needs root, podman and debootstrap (`apt-get install podman debootstrap`), and reaches Debian's and PyPI's
package servers; skipped with the reason when one is missing. About a minute with the base and the
dependency layer cached, a few minutes the first time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.pg import free_port
from tests.slack_requests import SIGNING_SECRET, SlackSender
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
BASE = "localhost/ladderbot-test-base:bookworm"
IMAGE = "localhost/ladderbot:test"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def podman(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def make_base() -> None:
    """A minimal Debian with python3 (3.11 on bookworm) and venv, as podman image BASE. The machine's CA bundle
    goes in, and PIP_CERT points at it, so pip inside the build trusts what the host trusts."""
    with tempfile.TemporaryDirectory(prefix="ladderbot-base-") as folder:
        rootfs = Path(folder) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        if HOST_CA_BUNDLE.exists():
            shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--change", f"ENV PIP_CERT={HOST_CA_BUNDLE}", "-", BASE],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )
        assert tar.wait() == 0
        assert tar.stdout is not None
        tar.stdout.close()


@dataclass(frozen=True)
class Built:
    rootfs: Path
    config: dict
    healthcheck: list[str]  # podman's inspect keeps it beside Config
    uid: int

    def env(self, **extra: str) -> list[str]:
        return [*self.config.get("Env", []), *(f"{k}={v}" for k, v in extra.items())]

    def command(self, *argv: str, **env: str) -> list[str]:
        """argv run inside the image, as its user, in its working directory, with only its environment."""
        workdir = self.config.get("WorkingDir") or "/"
        script = f'cd {workdir} && exec "$@"'
        return [
            "chroot",
            f"--userspec={self.uid}:{self.uid}",
            str(self.rootfs),
            "/usr/bin/env",
            "-i",
            *self.env(**env),
            "/bin/sh",
            "-c",
            script,
            "sh",
            *argv,
        ]

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*argv, **env), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    missing = [tool for tool in ("podman", "debootstrap", "chroot") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install podman debootstrap)")
    if os.geteuid() != 0:
        pytest.skip("podman build --isolation=chroot and chroot need root here")
    if subprocess.run(["podman", "image", "exists", BASE]).returncode != 0:
        make_base()
    # Docker's image format, as `docker build` makes: OCI's has no HEALTHCHECK
    podman(
        "build", "--isolation=chroot", "--format=docker", "--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGE, str(ROOT)
    )
    [inspected] = json.loads(podman("image", "inspect", IMAGE))
    container = podman("create", IMAGE)  # created, never started: a writable file system to chroot into
    try:
        rootfs = Path(podman("mount", container))
        user = inspected["Config"]["User"]
        passwd = (rootfs / "etc/passwd").read_text().splitlines()
        uid = next(int(line.split(":")[2]) for line in passwd if line.split(":")[0] == user)
        yield Built(rootfs, inspected["Config"], inspected["Healthcheck"]["Test"], uid)
    finally:
        podman("umount", container)
        podman("rm", container)


def test_the_image_is_set_up_to_serve_as_a_user(built):
    config = built.config
    assert config["User"] == "ladderbot" and built.uid != 0
    assert config["Entrypoint"] == ["ladderbot"] and config["Cmd"] == ["serve"]
    assert "3000/tcp" in config["ExposedPorts"]
    assert "/healthz" in " ".join(built.healthcheck)
    # only what runs: no build tree, no tests, no caches; the code is root's and read-only to the user
    assert not (built.rootfs / "app/tests").exists() and not (built.rootfs / "app/.venv").exists()
    assert not (built.rootfs / "root/.cache/pip").exists()
    assert built.run("touch", "/app/bot/written").returncode != 0
    assert built.run("touch", "/app/data/written").returncode == 0


def test_commands_run_inside_the_image(built):
    helped = built.run("ladderbot", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "doctor" in helped.stdout

    checked = built.run("ladderbot", "content", "check")
    assert checked.returncode == 0, checked.stderr
    assert "/app/content: OK:" in checked.stdout

    previewed = built.run("ladderbot", "preview", "/ladder senior")
    assert previewed.returncode == 0, previewed.stderr
    assert "Senior" in previewed.stdout


def test_serve_inside_the_image_passes_its_health_check(built, fake_slack):
    """`ladderbot serve` from the image (its default command) on SQLite in its data folder, talking to the fake
    Slack on loopback; the image's own HEALTHCHECK command passes, and /metrics answers."""
    port = free_port()
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-container",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "PORT": str(port),
    }
    argv = [*built.config["Entrypoint"], *built.config["Cmd"]]
    server = subprocess.Popen(
        built.command(*argv, **settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        sender = SlackSender("127.0.0.1", port)

        def healthy() -> bool:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                return sender.raw("GET", "/healthz").status == 200
            except OSError:
                return False

        wait_until(healthy, timeout=60, what="the server in the image answering /healthz")
        check = built.healthcheck
        assert check[0] == "CMD"
        probe = built.run(*check[1:], PORT=str(port))
        assert probe.returncode == 0, probe.stderr
        reply = sender.command("/ladder", "senior")
        assert reply.status == 200 and "Senior" in reply.body.decode()
        assert b"ladderbot_requests_total" in sender.raw("GET", "/metrics").body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.stdout is not None
    with server.stdout:
        log = server.stdout.read().decode()
    assert all(line.startswith("{") for line in log.splitlines() if line.strip()), log  # LOG_FORMAT=json
    assert (built.rootfs / "app/data/ladderbot.sqlite3").exists()


def test_compose_runs_migrate_then_web_and_clock_on_postgresql():
    """compose.yaml's shape (no container engine needed): PostgreSQL 15 healthy before the migrate step, web
    and clock only after it succeeded, all from this Dockerfile, no secret written in the file."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"] == "postgres:15"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["web"]["command"] == ["serve", "--no-clock"]
    assert services["clock"]["command"] == ["clock"]
    for name in ("web", "clock"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["build"] == "." and services[name]["restart"] == "unless-stopped"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://ladderbot:${POSTGRES_PASSWORD")
    assert services["clock"]["environment"]["METRICS_PORT"] == services["clock"]["environment"]["PORT"]
    for name, service in services.items():
        for key, setting in (service.get("environment") or {}).items():
            if any(word in key for word in ("TOKEN", "SECRET", "PASSWORD", "KEYS")):
                assert str(setting).startswith("${"), f"{name}: {key} is written in compose.yaml"
