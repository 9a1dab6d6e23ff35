"""Starting the real `ladderbot serve` process for scenario tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pg import free_port
from tests.slack_requests import SIGNING_SECRET, SlackSender

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunningServer:
    process: subprocess.Popen
    port: int
    database_url: str
    log_path: Path
    started_in: float

    @property
    def sender(self) -> SlackSender:
        return SlackSender("127.0.0.1", self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(slack_api_url: str, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CONTENT_DIR"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        DATABASE_URL=database_url,
        PORT=str(port),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_server(
    slack_api_url: str, database_url: str, *, command: list[str] | None = None, timeout: float = 60, **extra_env: str
) -> RunningServer:
    """Run `ladderbot serve` (or another command serving the same routes) and wait for /healthz."""
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="ladderbot-server-", suffix=".log")[1])
    command = command or [sys.executable, "-m", "bot", "serve"]
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env=server_env(slack_api_url, database_url, port, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = RunningServer(process, port, database_url, log_path, 0.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            reply = server.sender.raw("GET", "/healthz")
            if reply.status == 200:
                server.started_in = time.perf_counter() - started
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{server.log()}")
