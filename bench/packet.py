"""Benchmark: the promotion packet for a person with two years of history (100 evidence items, 100
reflections, 100 answered nudges), on SQLite.

Prints the median time to read the rows and build the Markdown, and to build the PDF from the same packet
(plus the read), over repeated runs, with the process's CPU time (the figure a loaded machine does not
inflate) and the sizes. Goals: Markdown under 1 s, PDF under 3 s.
Run: .venv/bin/python bench/packet.py [--items N] [--runs N] [--out packet.pdf]
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

from sqlalchemy import insert  # noqa: E402

from bot.content.loader import load_content  # noqa: E402
from bot.evidence import packet as pk  # noqa: E402
from bot.evidence.suggest import scorer_for  # noqa: E402
from bot.storage import engine as db  # noqa: E402
from bot.storage import people as repo  # noqa: E402
from bot.storage.models import Delivery, Evidence, Person, Plan, Reflection, Workspace  # noqa: E402
from tests.evidence_samples import SAMPLES  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
USER = "UBENCH001"
GOALS = {"markdown": 1.0, "pdf": 3.0}
NOTES = (
    "I ran it end to end and wrote the follow-up.",
    "My part: the proposal and the review with two other teams.",
    "Took the on-call load off the team for the week.",
)


def populate(url: str, content, items: int) -> None:
    rng = random.Random(14)
    texts = [text for _, text, _ in SAMPLES]
    scorer = scorer_for(content, "senior")
    keys = {text: ",".join(s.key for s in scorer.rank(text, 2)) for text in texts}
    prompts = [p for p in content.prompts if p.level in ("mid", "senior") or p.to_level == "senior"]
    engine = db.make_engine(url)
    with engine.begin() as conn:
        workspace_id = conn.execute(insert(Workspace).values(team_id="T0001").returning(Workspace.id)).scalar_one()
        person_id = conn.execute(
            insert(Person)
            .values(workspace_id=workspace_id, user_id=USER, first_seen_at=NOW, last_seen_at=NOW)
            .returning(Person.id)
        ).scalar_one()
        conn.execute(
            insert(Plan).values(
                person_id=person_id, level="mid", target="senior", focus="api,security", weekday=0,
                local_time="10:00", tz="UTC", stopped=False, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        every = timedelta(weeks=104) / items
        evidence = []
        for i in range(items):
            text = texts[i % len(texts)]
            evidence.append(
                {
                    "person_id": person_id, "source": "message", "text": text, "note": rng.choice(NOTES),
                    "author_user_id": f"U{rng.randrange(10**8):08d}", "channel_id": "C0ENG",
                    "message_ts": f"{1700000000 + i}.000100",
                    "permalink": f"https://example.slack.com/archives/C0ENG/p{1700000000 + i}000100",
                    "level": "senior", "expectations": keys[text], "created_at": NOW - every * i,
                }
            )  # fmt: skip
        conn.execute(insert(Evidence), evidence)
        delivery_ids = []
        for i in range(items):
            prompt = prompts[i % len(prompts)]
            due = NOW - timedelta(weeks=i)
            delivery_ids.append(
                conn.execute(
                    insert(Delivery)
                    .values(
                        person_id=person_id, week_key=f"w{i}", prompt_id=prompt.id, due_at=due, status="sent",
                        attempts=1, sent_at=due, answer="done", answered_at=due + timedelta(hours=3),
                    )
                    .returning(Delivery.id)
                ).scalar_one()
            )  # fmt: skip
        conn.execute(
            insert(Reflection),
            [
                {
                    "person_id": person_id, "delivery_id": delivery_ids[i],
                    "text": f"{texts[(i * 3) % len(texts)][:240]} What I learned: ask earlier.",
                    "shared": False, "created_at": NOW - timedelta(weeks=i, hours=-4),
                }
                for i in range(items)
            ],
        )  # fmt: skip
    engine.dispose()


def main() -> None:
    intro, details = (" ".join(part.split()) for part in __doc__.split("\n\n")[:2])
    parser = argparse.ArgumentParser(description=intro, epilog=details.split(" Run:")[0])
    parser.add_argument(
        "--items", type=int, default=100, help="evidence items, reflections and nudges each (default 100)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="times to read the rows and build both files (default 5); the medians are printed",
    )
    parser.add_argument("--out", default="", help="also write the last PDF here")
    args = parser.parse_args()
    content = load_content(str(ROOT / "content"))
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        db.migrate(url)
        populate(url, content, args.items)
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        level = content.level("senior")
        timings: dict[str, list[float]] = {"markdown": [], "pdf": []}
        cpu: dict[str, list[float]] = {"markdown": [], "pdf": []}  # this process's CPU time: the load-free figure
        text, data = "", b""
        packet = None
        for _ in range(args.runs):
            scorer_for.cache_clear()  # a cold scorer each run, as after a restart
            started, cpu_started = time.perf_counter(), time.process_time()
            with sessions() as session:
                person = repo.get_person(session, "T0001", USER)
                assert person is not None
                packet = pk.load_packet(session, content, person, level, "Bench Person", NOW)
            text = pk.markdown(packet)
            read_and_markdown = time.perf_counter() - started
            read_and_markdown_cpu = time.process_time() - cpu_started
            timings["markdown"].append(read_and_markdown)
            cpu["markdown"].append(read_and_markdown_cpu)
            started, cpu_started = time.perf_counter(), time.process_time()
            data = pk.pdf(packet)
            timings["pdf"].append(read_and_markdown + time.perf_counter() - started)  # read, then the PDF
            cpu["pdf"].append(read_and_markdown_cpu + time.process_time() - cpu_started)
        engine.dispose()
    assert packet is not None
    print(
        f"packet toward {level.title}: {args.items} evidence items, {args.items} reflections, {args.items} "
        f"answered nudges; {packet.coverage.lower()}"
    )
    for kind, values in timings.items():
        median = statistics.median(values)
        verdict = "ok" if median < GOALS[kind] else "OVER GOAL"
        size = len(text.encode()) if kind == "markdown" else len(data)
        print(
            f"{kind:9} median {median * 1000:7.1f} ms  (max {max(values) * 1000:7.1f} ms, goal "
            f"< {GOALS[kind] * 1000:.0f} ms: {verdict}), CPU {statistics.median(cpu[kind]) * 1000:.0f} ms, "
            f"size {size / 1024:.0f} KiB"
        )
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
