"""Benchmark: one clock pass with N nudges due in 20 workspaces, against the same N due in one workspace.

What this measures is the clock's own cost of many workspaces, unpaced: every rate limit far above what the
fake Slack serves, so the pass runs as fast as the database, the send pool and the fake allow. Each workspace
sends with its own token and its own budget (as in OAuth mode), so 20 workspaces mean 20 budgets, 20 lines in
the dispatcher and claims topped up per workspace. At Slack's real pace the same comparison is in
bench/nudges_at_scale.py (20 workspaces of 500 against its rate model).

The fake Slack runs in its own process on loopback, a fresh one per pass; each pass gets a fresh SQLite file.
One workspace and 20 workspaces alternate for a few rounds and the medians are compared (the machine is shared).
Run: .venv/bin/python bench/clock_workspaces.py [--nudges 10000] [--workspaces 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nudges import fake_slack  # noqa: E402 - bench/nudges.py: a fresh fake Slack process, no rate model
from nudges_at_scale import DUE, populate  # noqa: E402 - bench/nudges_at_scale.py: plans due in given workspaces
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.http_retry import ConnectionErrorRetryHandler  # noqa: E402

from bot.clock import Clock, Pacer, PassReport, SlackRates, SlackSenders  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.content.records import Content  # noqa: E402
from bot.storage import engine as db  # noqa: E402

SEND_WORKERS = 8
# unpaced: limits and tiers far above what the fake can serve, so only the clock's own work is timed
UNPACED = SlackRates(messages_per_minute=100_000_000, channel_per_second=1_000_000, time_scale=10_000)


def timed_pass(directory: str, name: str, teams: list[str], each: int, content: Content) -> tuple[float, PassReport]:
    url = f"sqlite:///{directory}/{name}.sqlite3"
    db.migrate(url)
    populate(url, teams, each)
    with fake_slack() as slack_url:
        template = WebClient(
            token="xoxb-bench",
            base_url=slack_url,
            timeout=10,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
        )
        senders = SlackSenders(Pacer(UNPACED), template, token_for=lambda team: f"xoxb-{team}")
        engine = db.make_engine(url)
        clock = Clock(db.make_session_factory(engine), senders, content, send_workers=SEND_WORKERS)
        started = time.perf_counter()
        report = clock.run_pass(DUE)
        seconds = time.perf_counter() - started
        engine.dispose()
    return seconds, report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nudges", type=int, default=10_000, help="nudges due in each case")
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    content = load_content(ROOT / "content")
    directory = tempfile.mkdtemp(prefix="ladderbot-bench-workspaces-")
    each = args.nudges // args.workspaces
    many = [f"T{i:07d}" for i in range(1, args.workspaces + 1)]
    one_times, many_times = [], []
    for round_no in range(1, args.rounds + 1):
        seconds, report = timed_pass(directory, f"one{round_no}", ["T0000000"], each * args.workspaces, content)
        assert report.sent == each * args.workspaces and not report.failed, report
        one_times.append(seconds)
        one_p99 = report.late(99)
        seconds, report = timed_pass(directory, f"many{round_no}", many, each, content)
        assert report.sent == each * args.workspaces and not report.failed, report
        many_times.append(seconds)
        print(
            f"round {round_no}: {each * args.workspaces} nudges in 1 workspace {one_times[-1]:.2f} s "
            f"(lateness p99 {one_p99:.1f} s); in {args.workspaces} workspaces of {each} {many_times[-1]:.2f} s "
            f"(lateness p99 {report.late(99):.1f} s)",
            flush=True,
        )
    one, spread = statistics.median(one_times), statistics.median(many_times)
    total = each * args.workspaces
    print(
        f"median pass, unpaced, {total} nudges: 1 workspace {one:.2f} s ({total / one:.0f}/s); "
        f"{args.workspaces} workspaces {spread:.2f} s ({total / spread:.0f}/s); ratio {spread / one:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
