"""Benchmark: ladderbot's /ladder and /interview against bare Bolt apps on the same server stack.

Starts `ladderbot serve` (against the fake Slack server), a bare Bolt app acking "ok" from the request thread
(the floor) and one in Bolt's default mode (for reference). Sends signed slash commands, a new connection per
request as Slack does, at 1, 10 and 50 concurrent clients, and prints p50, p99, requests/s, errors, the ratios
to the floor, start-up time and resident memory. Then the same server at WEB_CONCURRENCY 1, 2 and 4 processes
next to the floor at the same process counts: requests/s at 50 clients, the ratio to the floor and the speed-up
over one process. Run: .venv/bin/python bench/commands.py [--quick] [--processes-only]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.testing.fakeslack import FakeSlack  # noqa: E402
from tests.server import RunningServer, start_server  # noqa: E402
from tests.slack_requests import sign, slash_command_body  # noqa: E402

CONCURRENCY = (1, 10, 50)
PROCESSES = (1, 2, 4)
PROCESS_CLIENTS = 50
COMMANDS = (("/ladder", "senior"), ("/interview", "senior"))


def request_bytes(command: str, text: str) -> bytes:
    body = slash_command_body(command, text)
    now = int(time.time())
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {now}\r\n"
        f"X-Slack-Signature: {sign(body, now)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def one_request(port: int, payload: bytes) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(payload)
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        response = b"".join(chunks)
        ok = response.startswith(b"HTTP/1.1 200") and (b'"blocks"' in response or response.endswith(b"ok"))
        return time.perf_counter() - started, ok
    except OSError:
        return time.perf_counter() - started, False


def load(port: int, payload: bytes, clients: int, total: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [total]

    def worker():
        nonlocal errors
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            seconds, ok = one_request(port, payload)
            with lock:
                latencies.append(seconds)
                errors += not ok

    for _ in range(min(20, total)):  # warm up
        one_request(port, payload)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": len(latencies) / wall,
        "errors": errors,
    }


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master + worker)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def start_pair(fake: FakeSlack, db_dir: str, processes: int) -> dict[str, RunningServer]:
    """ladderbot (its clock on, nothing due) and the floor, both with `processes` server processes."""
    servers: dict[str, RunningServer] = {}
    try:
        servers["ladderbot"] = start_server(
            fake.url, f"sqlite:///{db_dir}/bench-{processes}.sqlite3", WEB_CONCURRENCY=str(processes)
        )
        servers["bolt-floor"] = start_server(
            fake.url,
            f"sqlite:///{db_dir}/unused.sqlite3",
            command=[sys.executable, str(ROOT / "bench" / "bare_app.py")],
            BARE_MODE="floor",
            WEB_CONCURRENCY=str(processes),
        )
    except Exception:
        for server in servers.values():
            server.stop()
        raise
    return servers


def compare_processes(fake: FakeSlack, db_dir: str, total: int) -> bool:
    """Throughput at 1, 2 and 4 processes, ladderbot next to the floor; True when no request failed."""
    command, text = COMMANDS[0]
    results: dict[tuple[str, int], dict] = {}
    for processes in PROCESSES:
        servers = start_pair(fake, db_dir, processes)
        try:
            for name, server in servers.items():
                payload = request_bytes(command, text)
                # every process warm (its first request pays Bolt's auth.test and a cold render cache), not only
                # the one the sequential warm-up in load() happens to reach
                load(server.port, payload, PROCESS_CLIENTS, 100 * processes)
                results[(name, processes)] = load(server.port, payload, PROCESS_CLIENTS, total)
        finally:
            for server in servers.values():
                server.stop()
    print(f"\n{command} {text} at {PROCESS_CLIENTS} clients by server processes (WEB_CONCURRENCY)")
    header = (
        f"{'processes':>9}  {'server':<12}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}"
        f"{'vs 1 process':>14}{'vs floor':>10}"
    )
    print(header)
    print("-" * len(header))
    for processes in PROCESSES:
        for name in ("ladderbot", "bolt-floor"):
            r = results[(name, processes)]
            speed_up = r["rps"] / results[(name, 1)]["rps"]
            to_floor = r["rps"] / results[("bolt-floor", processes)]["rps"]
            print(
                f"{processes:>9}  {name:<12}{r['p50']:9.2f}{r['p99']:9.2f}{r['rps']:9.0f}{r['errors']:8d}"
                f"{speed_up:13.2f}x{to_floor:9.2f}x"
            )
    return all(r["errors"] == 0 for r in results.values())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--processes-only", action="store_true", help="only the run at 1, 2 and 4 processes")
    args = parser.parse_args()
    per_level = {1: 150, 10: 600, 50: 1500} if args.quick else {1: 500, 10: 2000, 50: 4000}

    fake = FakeSlack().start()
    db_dir = tempfile.mkdtemp(prefix="ladderbot-bench-")
    if args.processes_only:
        try:
            return 0 if compare_processes(fake, db_dir, per_level[50]) else 1
        finally:
            fake.stop()
    servers: dict[str, RunningServer] = {}
    try:
        servers["ladderbot"] = start_server(fake.url, f"sqlite:///{db_dir}/bench.sqlite3")
        for mode in ("floor", "default"):
            servers[f"bolt-{mode}"] = start_server(
                fake.url,
                f"sqlite:///{db_dir}/unused.sqlite3",
                command=[sys.executable, str(ROOT / "bench" / "bare_app.py")],
                BARE_MODE=mode,
            )
        print("server         start-up  RSS")
        for name, server in servers.items():
            print(f"{name:<14} {server.started_in:6.2f} s  {rss_mb(server.process.pid):5.1f} MB")
        print()
        results: dict[tuple[str, str, int], dict] = {}
        for command, text in COMMANDS:
            for clients in CONCURRENCY:
                for name, server in servers.items():
                    payload = request_bytes(command, text)  # freshly signed: Slack's window is 5 minutes
                    results[(name, command, clients)] = load(server.port, payload, clients, per_level[clients])
        header = f"{'command':<22}{'clients':>8}  {'server':<14}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}"
        print(header)
        print("-" * len(header))
        for command, text in COMMANDS:
            for clients in CONCURRENCY:
                for name in servers:
                    r = results[(name, command, clients)]
                    print(
                        f"{command + ' ' + text:<22}{clients:>8}  {name:<14}{r['p50']:9.2f}{r['p99']:9.2f}"
                        f"{r['rps']:9.0f}{r['errors']:8d}"
                    )
        print()
        print(
            "ladderbot against the floor (goals: p50 at 1 client <= 1.5x; req/s at 50 clients >= 0.67x;"
            " p99 at 50 clients < 100 ms; no errors)"
        )
        verdicts = []
        for command, text in COMMANDS:
            lb1, fl1 = results[("ladderbot", command, 1)], results[("bolt-floor", command, 1)]
            lb50, fl50 = results[("ladderbot", command, 50)], results[("bolt-floor", command, 50)]
            p50_ratio = lb1["p50"] / fl1["p50"]
            rps_ratio = lb50["rps"] / fl50["rps"]
            errors = sum(results[("ladderbot", command, c)]["errors"] for c in CONCURRENCY)
            ok = p50_ratio <= 1.5 and rps_ratio >= 2 / 3 and lb50["p99"] < 100 and errors == 0
            verdicts.append(ok)
            print(
                f"  {command + ' ' + text:<20} p50@1 {p50_ratio:4.2f}x   req/s@50 {rps_ratio:4.2f}x   "
                f"p99@50 {lb50['p99']:6.1f} ms   errors {errors}   {'MEETS GOALS' if ok else 'MISSES GOALS'}"
            )
        print(f"\nladderbot RSS after the run: {rss_mb(servers['ladderbot'].process.pid):.1f} MB")
        for server in servers.values():
            server.stop()  # out of the way of the next run
        no_errors = compare_processes(fake, db_dir, per_level[50])
        return 0 if all(verdicts) and no_errors else 1
    finally:
        for server in servers.values():
            server.stop()
        fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
