"""Exactly one clock per server, whatever the number of server processes (WEB_CONCURRENCY).

The clock runs in whichever gunicorn worker holds an exclusive `flock` on a file the arbiter created before
forking. The kernel grants that lock to one process at a time and drops it the moment the holder exits or
crashes, so a killed worker hands the clock to another one at once (every worker waits on the lock in a
thread; the outbox makes a pass cut short safe to run again).

Why not in the arbiter: gunicorn forks workers from it at any time (at start and after every crash), and a
fork copies a running scheduler's held locks and open database and Slack connections into the worker,
without the threads that own them. A worker builds its own app, engine and clock after the fork instead.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

StartClock = Callable[[], Callable[[], None]]  # starts the clock in this process; returns how to stop it


class ClockSeat:
    """One seat per server: created in the arbiter, taken by at most one worker at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._start: StartClock | None = None
        self._stop: Callable[[], None] | None = None
        self._fd: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls) -> ClockSeat:
        """In the arbiter, before any fork: a fresh lock file for this server only."""
        fd, name = tempfile.mkstemp(prefix="ladderbot-clock-", suffix=".lock")
        os.close(fd)
        return cls(Path(name))

    def remove(self) -> None:
        """In the arbiter once every worker has exited."""
        self.path.unlink(missing_ok=True)

    @property
    def held(self) -> bool:
        """Whether this process runs the clock."""
        return self._stop is not None

    def runs(self, start: StartClock) -> None:
        """In a worker, while building the app: what to start once this worker holds the seat."""
        self._start = start

    def take_when_free(self, serving: Callable[[], bool]) -> None:
        """In a worker, once it serves: take the seat now if it is free, else wait for it in a thread. A worker
        that is already shutting down (`serving()` is false) when the seat frees up does not start a clock."""
        if self._start is None:
            return  # this worker was built without a clock (--no-clock)
        # opened here, after the fork: a descriptor shared with the arbiter or a sibling would share the lock
        self._fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            threading.Thread(target=self._wait, args=(serving,), name="ladderbot-clock-seat", daemon=True).start()
            return
        self._take(serving)

    def _wait(self, serving: Callable[[], bool]) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks (without the GIL) until the holder exits
            self._take(serving)

    def _take(self, serving: Callable[[], bool]) -> None:
        with self._lock:
            if self._stop is not None:
                return
            if self._start is None or not serving():
                self._close()  # this worker is exiting: hand the seat on rather than start a clock now
                return
            self._stop = self._start()
        logger.info("this server process (pid %s) runs the clock", os.getpid())

    def leave(self) -> None:
        """In a worker as it exits: no new clock tick starts here. The seat stays held until the process has
        exited, so a pass still running (it finishes, or gunicorn's graceful timeout cuts it short) never
        overlaps a pass of the worker that takes the seat next."""
        with self._lock:
            stop, self._start = self._stop, None
        if stop is not None:
            stop()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
