"""`ladderbot serve` with WEB_CONCURRENCY server processes: every process answers, exactly one clock runs
(none with --no-clock), a killed clock process hands the clock on, and SIGTERM stops everything cleanly."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path

from bot.content.records import Content
from bot.testing.fakeslack import FakeSlack
from bot.web.clockseat import ClockSeat
from tests import factories
from tests.server import RunningServer, start_server
from tests.waiting import wait_until

SERVE = [sys.executable, "-m", "bot", "serve"]


def add_due_plan(url: str, content: Content) -> str:
    """A person whose weekly nudge fell due a minute ago; returns the user id."""
    return factories.due_plan_in(url, content, "U" + uuid.uuid4().hex[:10].upper())


def nudges_to(fake_slack: FakeSlack, user: str) -> list[object]:
    # the DM channel, or the user id itself where the outbox posts a first DM by user id
    channels = {user, "D" + user[1:]}
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") in channels]


def processes(server: RunningServer, count: int) -> dict[int, bool]:
    """Server process id -> whether it runs the clock, from /healthz on new connections until `count`
    different processes have answered."""
    seen: dict[int, bool] = {}

    def all_seen() -> bool:
        reply = server.sender.raw("GET", "/healthz")
        assert reply.status == 200, reply.body
        process = reply.json()["process"]
        seen[process["pid"]] = process["clock"]
        return len(seen) >= count

    wait_until(all_seen, 30, what=f"/healthz answered by {count} server processes")
    return seen


def clock_process(server: RunningServer, workers: int) -> int:
    def one_clock() -> int | None:
        clocks = [pid for pid, clock in processes(server, workers).items() if clock]
        assert len(clocks) <= 1, clocks
        return clocks[0] if clocks else None

    return wait_until(one_clock, 30, what="a server process running the clock")


def gone(pid: int) -> bool:
    """Exited and reaped, or at least a zombie that runs nothing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def stop_cleanly(server: RunningServer, pids: list[int]) -> None:
    server.stop()
    assert server.process.returncode == 0, server.log()
    for pid in pids:
        wait_until(lambda pid=pid: gone(pid), 10, what=f"server process {pid} to exit")
    assert "Traceback" not in server.log() and "ERROR" not in server.log()


def started_clocks(server: RunningServer) -> int:
    return server.log().count("apscheduler.scheduler: Scheduler started")


def finished_passes(server: RunningServer) -> int:
    return server.log().count('" executed successfully')


def test_two_processes_answer_and_one_clock_sends_a_due_nudge_once(database_url, fake_slack, content):
    user = add_due_plan(database_url, content)
    server = start_server(
        fake_slack.url, database_url, command=SERVE, WEB_CONCURRENCY="2", WEB_THREADS="4", LOG_LEVEL="INFO"
    )
    seen: dict[int, bool] = {}
    try:
        seen = processes(server, 2)
        assert len(seen) == 2 and server.process.pid not in seen  # two workers under the arbiter
        # a worker starts its clock before it serves: both serve, so every clock there will be has started
        assert started_clocks(server) == 1, server.log()
        for _ in range(20):
            reply = server.sender.command("/ladder", "senior")
            assert reply.status == 200 and "blocks" in reply.json()
        [nudge] = wait_until(lambda: nudges_to(fake_slack, user), 30, what="the due nudge")
        assert clock_process(server, 2) in seen
        wait_until(lambda: finished_passes(server) == 1, 30, what="the clock's first pass to finish")
    finally:
        stop_cleanly(server, list(seen))
    # every process is gone, so nothing more can come: never a second time over the server's whole life
    assert len(nudges_to(fake_slack, user)) == 1
    assert started_clocks(server) == 1 and finished_passes(server) == 1, server.log()


def test_no_clock_runs_none_in_any_process(database_url, fake_slack, content):
    user = add_due_plan(database_url, content)
    server = start_server(
        fake_slack.url, database_url, command=[*SERVE, "--no-clock"], WEB_CONCURRENCY="2", LOG_LEVEL="INFO"
    )
    seen: dict[int, bool] = {}
    try:
        seen = processes(server, 2)
        assert not any(seen.values())
        # a worker would start a clock before it serves, and a clock's first pass runs as it starts
        assert started_clocks(server) == 0, server.log()
    finally:
        stop_cleanly(server, list(seen))
    # every process is gone, so nothing more can come: no clock, no pass, no nudge over the server's whole life
    assert started_clocks(server) == 0 and "run_pass_safely" not in server.log(), server.log()
    assert not nudges_to(fake_slack, user)


def test_a_killed_clock_process_hands_the_clock_on_without_a_second_send(database_url, fake_slack, content):
    user = add_due_plan(database_url, content)
    server = start_server(fake_slack.url, database_url, command=SERVE, WEB_CONCURRENCY="2", LOG_LEVEL="INFO")
    pids: list[int] = []
    try:
        wait_until(lambda: nudges_to(fake_slack, user), 30, what="the due nudge")
        first = clock_process(server, 2)
        wait_until(lambda: finished_passes(server) == 1, 30, what="the first clock's first pass to finish")
        os.kill(first, signal.SIGKILL)  # a crash: no hook runs; the kernel frees the seat
        wait_until(lambda: gone(first), 10, what="the killed process to go")
        second = clock_process(server, 2)
        assert second != first
        # the new clock's first pass runs as it starts: once it has finished, the due nudge was looked at again
        wait_until(lambda: finished_passes(server) == 2, 30, what="the second clock's first pass to finish")
        assert started_clocks(server) == 2, server.log()
        pids = list(processes(server, 2))
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert all(wait_until(lambda pid=pid: gone(pid), 10) for pid in pids)
    # every process is gone, so nothing more can come: one send over the server's whole life
    assert len(nudges_to(fake_slack, user)) == 1
    assert finished_passes(server) == 2, server.log()


def test_sqlite_is_migrated_once_by_the_arbiter_not_per_process(databases, fake_slack):
    url = databases.sqlite(migrated=False)
    server = start_server(fake_slack.url, url, command=[*SERVE, "--no-clock"], WEB_CONCURRENCY="3", LOG_LEVEL="INFO")
    seen: dict[int, bool] = {}
    try:
        seen = processes(server, 3)
    finally:
        stop_cleanly(server, list(seen))
    log = server.log()
    assert log.count("Booting worker") == 3
    assert log.count("Context impl SQLiteImpl") == 1  # alembic's one line per migration run


def test_a_freed_seat_goes_to_a_serving_process_never_to_one_shutting_down(tmp_path):
    """Three seats on one lock file, as three workers hold them (flock locks belong to each open file, so one
    process can play all three): when the holder exits, the one shutting down passes the seat on."""
    path = tmp_path / "clock.lock"
    path.touch()
    events: list[str] = []
    seats = {name: ClockSeat(path) for name in ("holder", "leaving", "serving")}
    for name, seat in seats.items():
        seat.runs(lambda name=name: events.append(name) or (lambda: events.append(f"{name} stopped")))
    seats["holder"].take_when_free(lambda: True)
    seats["leaving"].take_when_free(lambda: False)
    seats["serving"].take_when_free(lambda: True)
    assert events == ["holder"] and seats["holder"].held and not seats["serving"].held
    seats["holder"].leave()
    assert events == ["holder", "holder stopped"] and seats["holder"].held  # held until the process exits
    seats["holder"]._close()  # what the kernel does when the holder's process exits
    wait_until(lambda: seats["serving"].held, 10, what="the serving process to take the seat")
    assert events == ["holder", "holder stopped", "serving"] and not seats["leaving"].held
    seats["serving"]._close()
