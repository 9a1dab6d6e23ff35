"""A throwaway PostgreSQL cluster for the test run: initdb, start on a free loopback port, stop.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as `nobody`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

CANDIDATE_BINDIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/pgsql/bin")
START_ATTEMPTS = 3  # a free port can be taken by another process (an xdist worker) before postgres binds it


def find_bindir() -> str | None:
    configured = os.environ.get("LADDERBOT_PG_BINDIR")
    if configured:
        return configured
    for candidate in CANDIDATE_BINDIRS:
        if Path(candidate, "pg_ctl").exists():
            return candidate
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and Path(out, "pg_ctl").exists():
            return out
    return None


def memory_tmpdir() -> str | None:
    """/dev/shm where there is one: a database in memory is a scratch database, and creating one there takes
    a tenth of the time it takes on this machine's disk even with fsync off (a PostgreSQL copy: 20 ms, not 200)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgCluster:
    def __init__(self, bindir: str, *, in_memory: bool = False):
        """in_memory: the cluster's files in /dev/shm when there is one (the tests; benchmarks keep the disk)."""
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ladderbot-pg-", dir=memory_tmpdir() if in_memory else None))
        self.data = self.root / "data"
        self.user: str | None = None
        self._admin: psycopg.Connection[tuple[object, ...]] | None = None
        if os.geteuid() == 0:
            self.user = "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(self.bindir, args[0])), *args[1:]],
            user=self.user,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )

    def start(self) -> PgCluster:
        result = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        for attempt in range(START_ATTEMPTS):
            result = self._pg_ctl_start()
            if result.returncode == 0:
                return self
            if attempt + 1 < START_ATTEMPTS:
                self.port = free_port()
        log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = str(self.root / "server.log")
        return self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "60", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new database, empty or a copy of `template` (which must have no open connection)."""
        if self._admin is None:
            dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
            self._admin = psycopg.connect(dsn, autocommit=True)
        copy_of = f' TEMPLATE "{template}"' if template else ""
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        self._admin.execute(f'CREATE DATABASE "{name}"{copy_of}')
        return self.url(name)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
