"""The clock as real processes: killed with SIGKILL mid-pass, two at once, and `ladderbot clock` itself
stopped and started again. (`ladderbot nudges run-due` as a command, dry run and across a DST change, is
in test_clock.py: it runs in this process, where only its output and its sends are checked.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.clock.outbox import LEASE
from bot.storage.models import utcnow
from tests.clockworld import MONDAY_10_UTC, World
from tests.server import server_env
from tests.waiting import stays, wait_until

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ClockProcess:
    """A `python -m bot ...` process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def clock_process(world: World, *args: str, log_level: str = "WARNING") -> ClockProcess:
    env = server_env(world.fake.url, world.url, 3000, LOG_LEVEL=log_level)  # PORT is unused by the clock
    with tempfile.NamedTemporaryFile("wb", prefix="ladderbot-clock-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    return ClockProcess(process, Path(log.name))


def run_due(world: World, at: datetime) -> ClockProcess:
    return clock_process(world, "nudges", "run-due", "--at", at.isoformat())


SLOW_POST = 0.25  # seconds the fake Slack takes over each chat.postMessage in the SIGKILL test
# No post of the dead clock lands after this long a quiet stretch. One delay would do on an idle machine; under
# load a post already sent may wait longer to be accepted and handled by the fake, and one landing after the
# count below would be taken for a send of the restarted clock (or posted twice once the lease has lapsed).
IN_FLIGHT_QUIET = 8 * SLOW_POST


def no_new_posts_for(world: World, seconds: float) -> bool:
    sent = world.sent()
    return stays(lambda: world.sent() == sent, seconds)


def test_sigkill_in_the_middle_of_a_pass(world: World) -> None:
    people = 30
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", SLOW_POST)
    process = run_due(world, MONDAY_10_UTC)
    wait_until(lambda: len(world.fake.calls_to("chat.postMessage")) >= 5, 30, what="the first posts")
    os.kill(process.process.pid, signal.SIGKILL)  # mid-pass: some sent, some in flight, some not started
    process.process.wait()
    # posts in flight when the clock died still land, within a delay or so: wait for a quiet stretch
    wait_until(lambda: no_new_posts_for(world, IN_FLIGHT_QUIET), 30, what="in-flight posts to land")
    sent_before = world.sent()
    assert 0 < sent_before < people
    world.fake.slow("chat.postMessage", 0)
    # restarted at once: the dead clock claimed all 30 in one batch, and its lease has not expired yet
    restarted = run_due(world, MONDAY_10_UTC + timedelta(minutes=1))
    assert restarted.wait(60) == 0, restarted.output()
    assert world.sent() == sent_before
    later = run_due(world, MONDAY_10_UTC + LEASE + timedelta(minutes=1))  # no longer renewed: the lease expired
    assert later.wait(60) == 0, later.output()
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}  # nobody twice, nobody missing
    assert {d.status for i in range(people) for d in world.delivery(f"U{i:03d}")} == {"sent"}


def test_two_clock_processes_at_once(world: World) -> None:
    people = 80
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", 0.005)
    processes = [run_due(world, MONDAY_10_UTC) for _ in range(2)]
    codes = [p.wait(120) for p in processes]
    if world.url.startswith("sqlite"):
        # one SQLite writer at a time: a clock that met the lock gives up this tick; the next tick finishes
        assert run_due(world, MONDAY_10_UTC + timedelta(minutes=1)).wait(60) == 0
    else:
        assert codes == [0, 0], [p.output() for p in processes]
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}


def test_the_clock_process_sends_due_nudges_once_across_restarts(world: World) -> None:
    now = utcnow()
    local = now - timedelta(minutes=2)
    world.add("U1", weekday=local.weekday(), at=f"{local:%H:%M}", now=now - timedelta(days=1))
    for _ in range(2):  # start, deliver, stop; start again: nothing more
        process = run_clock_for_one_pass(world)
        assert world.dms() == {"D1": 1}, process.output()
        assert "nudge pass failed" not in process.output()  # the pass ran through, it did not just end


def run_clock_for_one_pass(world: World) -> ClockProcess:
    """`ladderbot clock` until its first pass is over (APScheduler logs each finished tick; the first runs
    at start, the next a minute later), then SIGTERM."""
    process = clock_process(world, "clock", log_level="INFO")
    try:
        wait_until(lambda: "executed successfully" in process.output(), 30, what="the clock's first pass")
    finally:
        process.process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.process.kill()
    return process
