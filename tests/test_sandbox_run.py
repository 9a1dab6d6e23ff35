"""scripts/run: with no Slack variable it starts the sandbox (its URL printed, the page served); with a bot token
and signing secret it runs `ladderbot serve`; it runs scripts/setup only when .venv is missing or pyproject.toml
changed since setup last finished (setup's stamp), so a second start is quick and works offline."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bot.testing.fakeslack import FakeSlack
from tests.pg import free_port
from tests.server import ROOT, start_server

RUN = ROOT / "scripts" / "run"
STAMP = ROOT / ".venv" / ".setup-stamp"
SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID")


def without_slack(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PORT"))}
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING", **extra)
    return env


def set_up() -> None:
    """These tests run the real scripts/run: it must not reinstall (slow, and offline it cannot)."""
    if not (ROOT / ".venv" / "bin" / "ladderbot").exists() or not STAMP.exists():
        pytest.skip("run scripts/setup first (it writes .venv/.setup-stamp)")
    if (ROOT / "pyproject.toml").stat().st_mtime > STAMP.stat().st_mtime:
        pytest.skip("pyproject.toml changed since scripts/setup last ran: run it again")


def test_with_no_slack_variable_it_starts_the_sandbox(tmp_path: Path) -> None:
    set_up()
    port = free_port()
    command = ["bash", str(RUN), "--port", str(port), "--empty", "--database", str(tmp_path / "s.sqlite3")]
    env = without_slack(HOME=str(tmp_path))
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            assert process.stdout is not None
            said = [process.stdout.readline() for _ in range(2)]
            assert "No Slack credentials set: starting the sandbox" in said[0]
            assert f"open http://127.0.0.1:{port}/ in a browser" in said[1]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
                assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
                assert b"ladderbot sandbox" in page.read()
        finally:
            process.send_signal(signal.SIGINT)  # scripts/run exec'd ladderbot: the signal reaches it
            assert process.wait(20) == 0


def test_with_a_token_and_a_signing_secret_it_serves_slack(fake_slack: FakeSlack, tmp_path: Path) -> None:
    set_up()
    server = start_server(fake_slack.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}", command=["bash", str(RUN)])
    try:
        health = server.sender.raw("GET", "/healthz")
        assert health.status == 200 and health.json()["status"] == "ok"
        assert "sandbox" not in server.log()
    finally:
        server.stop()


def fake_checkout(folder: Path) -> Path:
    """scripts/run in a folder of its own, with a scripts/setup and a ladderbot that only say they ran."""
    (folder / "scripts").mkdir(parents=True)
    shutil.copy(RUN, folder / "scripts" / "run")
    (folder / "scripts" / "setup").write_text(
        "mkdir -p .venv/bin\n"
        "printf '#!/bin/sh\\necho ladderbot \"$@\"\\n' > .venv/bin/ladderbot\n"
        "chmod +x .venv/bin/ladderbot\n"
        "echo setup ran\n"
        "touch .venv/.setup-stamp\n"
    )
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return folder / "scripts" / "run"


def test_setup_runs_only_when_the_venv_is_missing_or_pyproject_changed(tmp_path: Path) -> None:
    run = fake_checkout(tmp_path)

    def ran(*args: str, **env: str) -> str:
        done = subprocess.run(
            ["bash", str(run), *args], env=without_slack(**env), capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = ran("--port", "3001")
    assert first == "setup ran\nladderbot sandbox --port 3001\n"  # no .venv yet
    assert ran() == "ladderbot sandbox\n"  # set up already: straight to the sandbox
    earlier = time.time() - 100
    os.utime(tmp_path / ".venv" / ".setup-stamp", (earlier, earlier))  # pyproject.toml changed since setup
    assert ran() == "setup ran\nladderbot sandbox\n"
    assert ran(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s") == "ladderbot serve\n"
    (tmp_path / ".venv" / ".setup-stamp").unlink()  # a setup that did not finish
    assert ran() == "setup ran\nladderbot sandbox\n"
