"""The clock as real processes: killed with SIGKILL mid-pass, two at once, and `ladderbot clock` itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.storage.models import utcnow
from tests.clockworld import MONDAY_10_UTC, World
from tests.server import server_env

ROOT = Path(__file__).resolve().parent.parent


def clock_process(world: World, *args: str) -> subprocess.Popen:
    env = server_env(world.fake.url, world.url, 3000, LOG_LEVEL="WARNING")  # PORT is unused by the clock
    with tempfile.NamedTemporaryFile("wb", prefix="ladderbot-clock-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    process.log_path = log.name
    return process


def output(process: subprocess.Popen) -> str:
    return Path(process.log_path).read_text(errors="replace")


def run_due(world: World, at) -> subprocess.Popen:
    return clock_process(world, "nudges", "run-due", "--at", at.isoformat())


def test_sigkill_in_the_middle_of_a_pass(world):
    people = 30
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", 0.25)
    process = run_due(world, MONDAY_10_UTC)
    deadline = time.monotonic() + 30
    while len(world.fake.calls_to("chat.postMessage")) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)  # mid-pass: some sent, some in flight, some not started
    process.wait()
    time.sleep(0.3)  # let in-flight requests land at the fake
    sent_before = sum(world.dms().values())
    assert 0 < sent_before < people
    world.fake.slow("chat.postMessage", 0)
    restarted = run_due(world, MONDAY_10_UTC + timedelta(minutes=1))  # restarted at once
    assert restarted.wait(60) == 0, output(restarted)
    later = run_due(world, MONDAY_10_UTC + timedelta(minutes=20))  # after in-flight claims went stale
    assert later.wait(60) == 0, output(later)
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}  # nobody twice, nobody missing
    assert {d.status for i in range(people) for d in world.delivery(f"U{i:03d}")} == {"sent"}


def test_two_clock_processes_at_once(world):
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
        assert codes == [0, 0], [output(p) for p in processes]
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}


def test_the_clock_process_sends_due_nudges_once_across_restarts(world):
    now = utcnow()
    local = now - timedelta(minutes=2)
    world.add("U1", weekday=local.weekday(), at=f"{local:%H:%M}", now=now - timedelta(days=1))
    for _ in range(2):  # start, deliver, stop; start again: nothing more
        process = clock_process(world, "clock")
        try:
            deadline = time.monotonic() + 30
            while not world.dms() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        assert world.dms() == {"D1": 1}


def test_run_due_dry_run_lists_and_sends_nothing(world):
    world.add("U1")
    process = clock_process(world, "nudges", "run-due", "--at", MONDAY_10_UTC.isoformat(), "--dry-run")
    assert process.wait(60) == 0
    out = output(process)
    assert "U1\t2026-W49\t" in out and "1 due (dry run: nothing sent)" in out
    assert world.fake.calls_to("chat.postMessage") == []


def test_run_due_across_a_dst_change(world):
    """Driven by the `ladderbot nudges run-due` command: Monday 10:00 in Berlin before and after 25 October."""
    from datetime import UTC, datetime

    world.add("UB", tz="Europe/Berlin", now=datetime(2026, 10, 13, tzinfo=UTC))
    steps = [
        (datetime(2026, 10, 19, 7, 59, tzinfo=UTC), 0),  # 09:59 CEST: not yet
        (datetime(2026, 10, 19, 8, 0, tzinfo=UTC), 1),  # 10:00 CEST
        (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), 1),  # 09:00 CET, after the change: not yet
        (datetime(2026, 10, 26, 9, 0, tzinfo=UTC), 2),  # 10:00 CET
        (datetime(2026, 10, 26, 9, 1, tzinfo=UTC), 2),  # no second send
    ]
    for at, expected in steps:
        assert run_due(world, at).wait(60) == 0
        assert sum(world.dms().values()) == expected, at
