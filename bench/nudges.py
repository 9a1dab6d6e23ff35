"""Benchmark: one clock pass with 10,000 nudges due, against the floor; an idle pass over 100,000 plans.

The fake Slack server runs in its own process on loopback, a fresh one for each measurement. The floor
is the same number of bare chat.postMessage calls made with slack_sdk at the same concurrency as the
clock's send pool. Floor and pass alternate for a few rounds; the ratio is between their medians.
Run: .venv/bin/python bench/nudges.py [--people N] [--idle-plans N] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.clock import Clock, PassReport, SlackRates  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.content.records import Content  # noqa: E402
from bot.services import make_web_client  # noqa: E402
from bot.storage import engine as db  # noqa: E402
from bot.storage.models import Person, Plan, Workspace  # noqa: E402
from tests.pg import free_port  # noqa: E402

DUE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
WORKERS = 8


@contextlib.contextmanager
def fake_slack() -> Iterator[str]:
    """A fresh fake Slack process for one measurement (its stored messages would otherwise grow its heap
    from one measurement to the next): yields its API url."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "fake-slack", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/"
    client = make_web_client(Settings(slack_bot_token="xoxb-bench", slack_signing_secret="x", slack_api_url=url))
    try:
        for _ in range(100):
            try:
                client.api_call("auth.test")
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        else:
            raise RuntimeError("fake Slack did not start")
        yield url
    finally:
        process.terminate()
        process.wait()


def populate(url: str, people: int, due: datetime, *, with_channel: bool) -> None:
    """`people` plans due at `due` (bulk inserts, not the timed part)."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        workspace_id = conn.execute(
            insert(Workspace).values(team_id="TBENCH", created_at=due).returning(Workspace.id)
        ).scalar()
        now = due - timedelta(days=3)
        conn.execute(
            insert(Person),
            [
                {
                    "workspace_id": workspace_id,
                    "user_id": f"U{i:07d}",
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "tz": "UTC",
                    "dm_channel_id": f"D{i:07d}" if with_channel else None,
                }
                for i in range(people)
            ],
        )
        conn.execute(
            insert(Plan),
            [
                {
                    "person_id": i + 1,
                    "level": "mid",
                    "target": "senior",
                    "focus": "security,api",
                    "weekday": due.weekday(),
                    "local_time": f"{due:%H:%M}",
                    "tz": "UTC",
                    "stopped": False,
                    "next_due_at": due,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(people)
            ],
        )
    engine.dispose()


def fresh_db(directory: str, name: str) -> str:
    url = f"sqlite:///{directory}/{name}.sqlite3"
    db.migrate(url)
    return url


def clock_for(url: str, slack_url: str, content: Content) -> Clock:
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret="x", slack_api_url=slack_url)
    # unpaced (limits far above what the fake can serve): this measures the clock's own cost against the floor;
    # bench/nudges_at_scale.py measures it at Slack's pace
    rates = SlackRates(messages_per_minute=100_000_000, channel_per_second=1_000_000)
    engine = db.make_engine(url)
    return Clock(db.make_session_factory(engine), make_web_client(settings), content, send_workers=WORKERS, rates=rates)


def timed_pass(
    directory: str, name: str, slack_url: str, content: Content, people: int, *, with_channel: bool
) -> tuple[Clock, float, PassReport]:
    """A fresh database with `people` plans due, and one clock pass over it: (clock, seconds, report)."""
    url = fresh_db(directory, name)
    populate(url, people, DUE, with_channel=with_channel)
    clock = clock_for(url, slack_url, content)
    started = time.perf_counter()
    report = clock.run_pass(DUE)
    return clock, time.perf_counter() - started, report


def floor(slack_url: str, count: int) -> float:
    client = make_web_client(Settings(slack_bot_token="xoxb-bench", slack_signing_secret="x", slack_api_url=slack_url))
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda i: client.chat_postMessage(channel=f"D{i:07d}", text="x"), range(count)))
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--idle-plans", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="floor/pass pairs to alternate")
    args = parser.parse_args()
    content = load_content(ROOT / "content")
    directory = tempfile.mkdtemp(prefix="ladderbot-bench-")
    # the machine is shared and a single run of either can be off by 30%: alternate them and compare medians
    floors, passes = [], []
    for round_no in range(1, args.rounds + 1):
        with fake_slack() as slack_url:
            floors.append(floor(slack_url, args.people))
        with fake_slack() as slack_url:
            clock, seconds, report = timed_pass(
                directory, f"steady{round_no}", slack_url, content, args.people, with_channel=True
            )
            assert report.sent == args.people, report
            passes.append(seconds)
            again = time.perf_counter()
            assert clock.run_pass(DUE + timedelta(minutes=1)).sent == 0
            next_tick = time.perf_counter() - again
        print(
            f"round {round_no}: floor ({args.people} bare chat.postMessage calls, {WORKERS} threads) "
            f"{floors[-1]:.2f} s; pass ({args.people} due, DM channels known) {seconds:.2f} s; "
            f"ratio {seconds / floors[-1]:.2f}x; the next tick, nothing due, {next_tick * 1000:.1f} ms"
        )
    floor_seconds, steady = statistics.median(floors), statistics.median(passes)
    print(
        f"median floor {floor_seconds:.2f} s ({args.people / floor_seconds:.0f}/s); median pass {steady:.2f} s "
        f"({args.people / steady:.0f}/s); ratio to floor {steady / floor_seconds:.2f}x (goal <= 1.5x)"
    )

    with fake_slack() as slack_url:
        _, first, report = timed_pass(directory, "first", slack_url, content, args.people, with_channel=False)
    print(
        f"pass, {args.people} due, first week (conversations.open too): {first:.2f} s, "
        f"ratio to the median floor {first / floor_seconds:.2f}x"
    )

    with fake_slack() as slack_url:
        url = fresh_db(directory, "idle")
        populate(url, args.idle_plans, DUE + timedelta(days=3), with_channel=True)
        clock = clock_for(url, slack_url, content)
        clock.run_pass(DUE)  # warm the connection
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            clock.run_pass(DUE)
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(
            f"pass, {args.idle_plans} plans, none due: median {timings[10] * 1000:.2f} ms, "
            f"max {timings[-1] * 1000:.2f} ms (goal < 50 ms)"
        )

        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "x",
            "SLACK_API_URL": slack_url,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "clock"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(4)
        print(
            f"ladderbot clock process RSS (after its first pass over {args.idle_plans} plans): "
            f"{rss_mb(process.pid):.1f} MB"
        )
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
