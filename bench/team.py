"""Benchmark: building /growth team for a manager of 50 reports with a year of weekly history, and
/growth org for a workspace of 5,000 people, on SQLite and on a throwaway PostgreSQL cluster.

Prints the median server-side build time (query + Block Kit) over repeated runs and the number of SQL
statements each issues. Goals: /growth team under 200 ms, /growth org under 1 s, no query per report.
Run: .venv/bin/python bench/team.py [--people N] [--reports N] [--weeks N] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select  # noqa: E402

from bot.blocks import team as rt  # noqa: E402
from bot.content.loader import load_content  # noqa: E402
from bot.storage import engine as db  # noqa: E402
from bot.storage.models import Delivery, Follow, Person, Plan, Reflection, Workspace  # noqa: E402
from bot.team.org import org_summary  # noqa: E402
from bot.team.summary import team_summary  # noqa: E402
from tests.pg import PgCluster, find_bindir  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MANAGER = "UMANAGER0"
GOALS = {"team": 0.200, "org": 1.0}


def populate(url: str, content, people: int, reports: int, weeks: int) -> None:
    rng = random.Random(7)
    levels = [lv.id for lv in content.levels]
    areas = [a.id for a in content.growth_areas]
    prompts = [p.id for p in content.prompts]
    engine = db.make_engine(url)
    with engine.begin() as conn:
        workspace_id = conn.execute(insert(Workspace).values(team_id="T0001").returning(Workspace.id)).scalar_one()
        users = [MANAGER] + [f"U{i:08d}" for i in range(people)]
        conn.execute(
            insert(Person),
            [{"workspace_id": workspace_id, "user_id": u, "first_seen_at": NOW, "last_seen_at": NOW} for u in users],
        )
        ids = dict(conn.execute(select(Person.user_id, Person.id)).all())
        plans = []
        for user in users[1:]:
            level = rng.randrange(len(levels) - 1)
            plans.append(
                {
                    "person_id": ids[user],
                    "level": levels[level],
                    "target": levels[level + 1],
                    "focus": ",".join(rng.sample(areas, rng.randint(1, 3))),
                    "weekday": 0,
                    "local_time": "10:00",
                    "tz": "UTC",
                    "stopped": False,
                    "next_due_at": NOW + timedelta(days=rng.randint(0, 6)),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        conn.execute(insert(Plan), plans)
        conn.execute(
            insert(Follow),
            [
                {
                    "workspace_id": workspace_id,
                    "follower_id": ids[MANAGER],
                    "report_id": ids[u],
                    "status": "accepted",
                    "invited_at": NOW,
                    "answered_at": NOW,
                }
                for u in users[1 : reports + 1]
            ],
        )
        batch = []
        for user in users[1:]:
            for week in range(weeks):
                answered = rng.random() < 0.6
                batch.append(
                    {
                        "person_id": ids[user],
                        "week_key": f"w{week}",
                        "prompt_id": rng.choice(prompts),
                        "due_at": NOW - timedelta(weeks=week, hours=2),
                        "status": "sent",
                        "attempts": 1,
                        "answer": "done" if answered else None,
                        "answered_at": NOW - timedelta(weeks=week) if answered else None,
                    }
                )
            if len(batch) >= 20_000:
                conn.execute(insert(Delivery), batch)
                batch = []
        if batch:
            conn.execute(insert(Delivery), batch)
        conn.execute(
            insert(Reflection),
            [
                {"person_id": ids[u], "text": f"reflection of {u}", "shared": rng.random() < 0.3, "created_at": NOW}
                for u in users[1:]
                for _ in range(4)
            ],
        )
    engine.dispose()


def measure(url: str, content, runs: int) -> dict[str, tuple[float, int]]:
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def team_view():
        with sessions() as session:
            summary = team_summary(session, content, "T0001", MANAGER, NOW)
            return rt.build_team_summary(content, summary, "UTC")

    def org_view():
        with sessions() as session:
            return rt.build_org(content, org_summary(session, "T0001", NOW))

    out = {}
    for name, build, repeat in (("team", team_view, runs), ("org", org_view, max(3, runs // 4))):
        build()  # warm the connection pool and caches
        times = []
        for _ in range(repeat):
            statements.clear()
            started = time.perf_counter()
            build()
            times.append(time.perf_counter() - started)
        out[name] = (statistics.median(times), len(statements))
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    content = load_content(ROOT / "content")
    backends = [("sqlite", f"sqlite:///{tempfile.mkdtemp(prefix='ladderbot-bench-')}/bench.sqlite3", None)]
    cluster = None
    if not args.sqlite_only and find_bindir():
        cluster = PgCluster(find_bindir()).start()
        backends.append(("postgresql", cluster.create_database("ladderbot_bench_team"), cluster))
    print(
        f"/growth team: {args.reports} reports, {args.weeks} weeks each; /growth org: {args.people} people "
        f"({args.people * args.weeks:,} deliveries)"
    )
    try:
        for name, url, _ in backends:
            db.migrate(url)
            started = time.perf_counter()
            populate(url, content, args.people, args.reports, args.weeks)
            print(f"\n{name}: populated in {time.perf_counter() - started:.1f}s")
            for view, (seconds, queries) in measure(url, content, args.runs).items():
                goal = GOALS[view]
                verdict = "met" if seconds < goal else "NOT MET"
                print(
                    f"  /growth {view:<5} median {seconds * 1000:7.1f} ms  ({seconds / goal:.2f}x of the "
                    f"{goal * 1000:.0f} ms goal: {verdict}), {queries} SQL statements"
                )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
