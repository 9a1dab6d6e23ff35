"""Starting the real `ladderbot serve` process for scenario tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pg import free_port
from tests.slack_requests import SIGNING_SECRET, SlackSender

ROOT = Path(__file__).resolve().parent.parent
START_ATTEMPTS = 3  # the free port chosen can be taken by another process (an xdist worker) before the server binds it


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
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
        """SIGTERM, as a platform stops a server: gunicorn finishes its requests and exits, and a coverage
        measurement running inside saves its data. SIGKILL only if that takes too long."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
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
        # the fake Slack enforces no limits unless a test asks for its rate model: pace as a far larger
        # workspace would, so a module's many users.list calls never wait out Slack's Tier 2 minute
        SLACK_RATE_SCALE="1000",
    )
    env.update(extra)
    return env


class PortTaken(RuntimeError):
    pass


def listening(pid: int, port: int) -> bool:
    """Whether process `pid` or one of its children holds a TCP socket listening on `port` (from /proc; where
    there is no /proc, assume so)."""
    if not Path("/proc/net/tcp").exists():
        return True
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]
    inodes = set()
    for owner in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{owner}/fd").iterdir()]
        except OSError:
            continue  # exited meanwhile
        inodes |= {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if state == "0A" and local_port == port and inode in inodes:  # 0A: LISTEN
                return True
    return False


def start_server(
    slack_api_url: str, database_url: str, *, command: list[str] | None = None, timeout: float = 60, **extra_env: str
) -> RunningServer:
    """Run `ladderbot serve` (or another command serving the same routes) and wait for /healthz."""
    for attempt in range(START_ATTEMPTS):
        try:
            return _start_on_a_free_port(slack_api_url, database_url, command, timeout, extra_env)
        except PortTaken:
            if attempt + 1 == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _start_on_a_free_port(
    slack_api_url: str, database_url: str, command: list[str] | None, timeout: float, extra_env: dict[str, str]
) -> RunningServer:
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="ladderbot-server-", suffix=".log")[1])
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command or [sys.executable, "-m", "bot", "serve"],
            env=server_env(slack_api_url, database_url, port, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = RunningServer(process, port, database_url, log_path, 0.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Connection in use" in server.log():  # gunicorn retries binding for five seconds, deaf to SIGTERM
            process.kill()
            process.wait()
            raise PortTaken(port)
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        if listening(process.pid, port):  # ours: another process that took the port would answer too
            try:
                if server.sender.raw("GET", "/healthz").status == 200:
                    server.started_in = time.perf_counter() - started
                    return server
            except OSError:
                pass  # listening, not answering yet
        time.sleep(0.02)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{server.log()}")
