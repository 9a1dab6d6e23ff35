"""Benchmark: the clock against Slack's rate limits, as the fake Slack models them (issue 11).

Cases: 10,000 people in one workspace due in the same minute, first week (no DM channels known) and second
week (channels stored); two clocks at once over 10,000 (on PostgreSQL when its binaries are there, else
SQLite); 20 workspaces of 500 at real speed; and the learned limit (the pacer set to 900 messages a minute
against a workspace that allows 600).

Each clock is its own process (`bench/nudges_at_scale.py clock ...`), as in production, and so is the fake
Slack (`ladderbot fake-slack --rate-model`). For each case it prints the time to deliver everyone against
the least the model allows (bot.testing.fakeslack.ratelimit.minimum_seconds), the 429s per nudge delivered
(counted by the fake), the lateness p50 and p99 (each nudge's post against its due time), duplicates (posts
carrying the same delivery id) and people not reached.

What the time scale hides: every rate, ours and the fake's, is multiplied by it, so a scaled run is a real
run of a faster Slack; but a Retry-After is whole seconds and cannot shrink, so a 429 costs a scaled run
`scale` times more than it would at real speed. The 20 x 500 case runs at real speed (scale 1).
Run: .venv/bin/python bench/nudges_at_scale.py [--scale 10] [--people 10000] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402
from slack_sdk.http_retry import ConnectionErrorRetryHandler  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bot.clock import Clock, Pacer, SlackRates, SlackSenders  # noqa: E402
from bot.clock.shares import HEARTBEAT, STALE  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.storage import engine as db  # noqa: E402
from bot.storage.models import Delivery, Person, Plan, Workspace  # noqa: E402
from bot.testing.fakeslack.ratelimit import RateModel, minimum_seconds  # noqa: E402
from tests.pg import PgCluster, find_bindir, free_port  # noqa: E402

DUE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
MODEL_MESSAGES_PER_MINUTE = 600.0  # the fake's workspace-wide chat.postMessage limit (Slack publishes none)


# the clock process -----------------------------------------------------------------------------------------


def run_clock(args: argparse.Namespace) -> int:
    """One clock pass at --at, paced at --messages-per-minute x --scale, each workspace with its own token."""
    content = load_content(ROOT / "content")
    template = WebClient(
        token="xoxb-bench",
        base_url=args.slack,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )
    rates = SlackRates(messages_per_minute=args.messages_per_minute, time_scale=args.scale)
    senders = SlackSenders(Pacer(rates), template, token_for=lambda team: f"xoxb-{team}")
    clock = Clock(db.make_session_factory(db.make_engine(args.db)), senders, content, send_workers=8)
    # clocks sharing a workspace look at each other every HEARTBEAT seconds; a scaled run is a faster Slack, so
    # they look `scale` times as often (at real speed the fixed cost of a join, about 3 s, is 0.3% of 10,000)
    clock.shares.heartbeat = HEARTBEAT / args.scale
    clock.shares.stale = STALE / args.scale
    started = time.time()
    report = clock.run_pass(datetime.fromisoformat(args.at))
    out = {
        "started": started,
        "ended": time.time(),
        "sent": report.sent,
        "failed": report.failed,
        "retrying": report.retrying,
        "missed": report.missed,
        "lost": report.lost,
        "paced": report.paced,
        "rate_limited": report.rate_limited,
        "lateness": report.lateness,
        "learned": {team: clock.pacer.learned_rate(team) * 60 / args.scale for team in args.teams.split(",")},
    }
    Path(args.out).write_text(json.dumps(out))
    return 0


# the harness -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_slack(scale: float) -> Iterator[str]:
    """The fake Slack with the rate model, in its own process: yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "fake-slack", "--port", str(port), "--rate-model", "--time-scale", str(scale)]
        + ["--messages-per-minute", str(MODEL_MESSAGES_PER_MINUTE)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                fetch(base, "/_fake/rates")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("fake Slack did not start")
        yield base
    finally:
        process.terminate()
        process.wait()


def fetch(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=120) as response:
        return json.loads(response.read())


def populate(url: str, teams: list[str], people: int) -> None:
    """`people` plans in each workspace, all due at DUE (bulk inserts, not timed)."""
    engine = db.make_engine(url)
    now = DUE - timedelta(days=3)
    with engine.begin() as conn:
        for team in teams:
            workspace_id = conn.execute(
                insert(Workspace).values(team_id=team, created_at=now).returning(Workspace.id)
            ).scalar_one()
            person_ids = conn.execute(
                insert(Person).returning(Person.id),
                [
                    {
                        "workspace_id": workspace_id,
                        "user_id": f"U{team[1:]}{i:06d}",
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "welcomed_at": now,
                        "tz": "UTC",
                    }
                    for i in range(people)
                ],
            ).scalars()
            conn.execute(
                insert(Plan),
                [
                    {
                        "person_id": person_id,
                        "level": "mid",
                        "target": "senior",
                        "focus": "security,api",
                        "weekday": DUE.weekday(),
                        "local_time": f"{DUE:%H:%M}",
                        "tz": "UTC",
                        "stopped": False,
                        "next_due_at": DUE,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for person_id in person_ids
                ],
            )
    engine.dispose()


def delivery_of(call: dict[str, Any]) -> str:
    """The delivery id a post carried in its metadata (a JSON string when sent as a form field)."""
    metadata = call["params"].get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return str((metadata.get("event_payload") or {}).get("delivery_id"))


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] if ordered else float("nan")


def run_case(
    name: str,
    url: str,
    base: str,
    teams: list[str],
    people: int,
    at: datetime,
    *,
    clocks: int,
    scale: float,
    messages_per_minute: float = MODEL_MESSAGES_PER_MINUTE,
) -> dict[str, Any]:
    """Run `clocks` clock processes at once over the database; print and return the figures."""
    urllib.request.urlopen(urllib.request.Request(base + "/_fake/reset", method="POST"), timeout=10).read()
    outs = [Path(tempfile.mktemp(prefix="ladderbot-clock-", suffix=".json")) for _ in range(clocks)]
    command = [sys.executable, str(Path(__file__).resolve()), "clock", "--db", url, "--slack", base + "/api/"]
    command += ["--at", at.isoformat(), "--scale", str(scale), "--messages-per-minute", str(messages_per_minute)]
    command += ["--teams", ",".join(teams)]
    processes = [subprocess.Popen([*command, "--out", str(out)], cwd=ROOT) for out in outs]
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError(f"a clock of case {name!r} failed")
    reports = [json.loads(out.read_text()) for out in outs]
    stats = fetch(base, "/_fake/rates")["stats"]
    calls = fetch(base, "/_fake/calls")["calls"]
    posted = Counter(delivery_of(c) for c in calls if c["method"] == "chat.postMessage" and c["status"] == 200)
    duplicates = sum(n - 1 for n in posted.values() if n > 1)
    week = at.isocalendar()
    engine = db.make_engine(url)
    with engine.connect() as conn:
        reached = conn.execute(
            select(func.count(func.distinct(Delivery.person_id))).where(
                Delivery.status == "sent", Delivery.due_at >= at - timedelta(days=1), Delivery.due_at <= at
            )
        ).scalar_one()
    engine.dispose()
    delivered = sum(r["sent"] for r in reports)
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    model = RateModel(time_scale=scale, workspace_messages_per_minute=MODEL_MESSAGES_PER_MINUTE)
    least = minimum_seconds(model, {team: people for team in teams})
    limited = stats["methods"].get("chat.postMessage", {}).get("limited", 0) + sum(
        m["limited"] for k, m in stats["methods"].items() if k != "chat.postMessage"
    )
    lateness = [x for r in reports for x in r["lateness"]]
    figures = {
        "case": name,
        "people": people * len(teams),
        "delivered": delivered,
        "seconds": seconds,
        "minimum": least,
        "ratio": seconds / least if least else float("nan"),
        "429_per_nudge": limited / max(1, delivered),
        "p50": percentile(lateness, 50) * scale,  # in Slack's time: a scaled second is `scale` real ones
        "p99": percentile(lateness, 99) * scale,
        "duplicates": duplicates,
        "not_reached": people * len(teams) - reached,
        "learned_per_minute": {k: round(v) for k, v in reports[0]["learned"].items()} if len(teams) == 1 else None,
    }
    print(
        f"{name}: {figures['delivered']} of {figures['people']} delivered in {seconds:.1f} s "
        f"(least under the model {least:.1f} s, ratio {figures['ratio']:.3f}); "
        f"429s per nudge {figures['429_per_nudge']:.4f} ({limited}); "
        f"lateness p50 {figures['p50']:.0f} s, p99 {figures['p99']:.0f} s (model time, week {week[1]}); "
        f"duplicates {duplicates}; not reached {figures['not_reached']}"
        + (f"; learned rate {figures['learned_per_minute']}/min" if figures["learned_per_minute"] else ""),
        flush=True,
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    clock = sub.add_parser("clock")
    for flag in ("--db", "--slack", "--at", "--out", "--teams"):
        clock.add_argument(flag, required=True)
    clock.add_argument("--scale", type=float, default=1.0)
    clock.add_argument("--messages-per-minute", type=float, default=MODEL_MESSAGES_PER_MINUTE)
    parser.add_argument("--scale", type=float, default=10.0, help="time scale of the 10,000-people cases")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a tenth of the people, for a smoke run")
    args = parser.parse_args()
    if args.command == "clock":
        return run_clock(args)

    people = args.people // 10 if args.quick else args.people
    directory = tempfile.mkdtemp(prefix="ladderbot-scale-")
    results = []
    with fake_slack(args.scale) as base:
        url = f"sqlite:///{directory}/one.sqlite3"
        db.migrate(url)
        populate(url, ["T0000001"], people)
        results.append(
            run_case("one workspace, first week", url, base, ["T0000001"], people, DUE, clocks=1, scale=args.scale)
        )
        results.append(
            run_case(
                "one workspace, second week",
                url,
                base,
                ["T0000001"],
                people,
                DUE + timedelta(days=7),
                clocks=1,
                scale=args.scale,
            )
        )
        bindir = find_bindir()
        cluster = PgCluster(bindir).start() if bindir else None
        try:
            two = cluster.create_database("two") if cluster else f"sqlite:///{directory}/two.sqlite3"
            db.migrate(two)
            populate(two, ["T0000002"], people)
            backend = "PostgreSQL" if cluster else "SQLite"
            results.append(
                run_case(
                    f"two clocks at once ({backend})", two, base, ["T0000002"], people, DUE, clocks=2, scale=args.scale
                )
            )
        finally:
            if cluster:
                cluster.stop()
        learned = f"sqlite:///{directory}/learned.sqlite3"
        db.migrate(learned)
        populate(learned, ["T0000003"], people // 2)
        results.append(
            run_case(
                "learned limit (pacer set to 900/min, Slack allows 600)",
                learned,
                base,
                ["T0000003"],
                people // 2,
                DUE,
                clocks=1,
                scale=args.scale,
                messages_per_minute=900.0,
            )
        )
    with fake_slack(1.0) as base:
        many = f"sqlite:///{directory}/many.sqlite3"
        db.migrate(many)
        teams = [f"T{i:07d}" for i in range(100, 120)]
        each = max(1, people // 20)
        populate(many, teams, each)
        results.append(
            run_case(f"20 workspaces of {each}, real speed", many, base, teams, each, DUE, clocks=1, scale=1.0)
        )
    worst = max(r["ratio"] for r in results if "learned" not in r["case"])
    print(
        f"worst ratio to the least time {worst:.3f} (goal <= 1.15); most 429s per nudge "
        f"{max(r['429_per_nudge'] for r in results):.4f} (goal <= 0.02); duplicates "
        f"{sum(r['duplicates'] for r in results)}; not reached {sum(r['not_reached'] for r in results)}"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    raise SystemExit(main())
