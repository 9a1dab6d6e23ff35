"""Benchmark: `/ladder senior` over Socket Mode against the same command over HTTP, on the same fake Slack.

Starts two `ladderbot serve` processes (one worker each, WEB_THREADS 8, SQLite): one over HTTP with a signing
secret, one with SLACK_APP_TOKEN connected to the fake Slack's Socket Mode endpoint. Over HTTP a request is a
signed POST on a new connection, timed to the end of the response (Slack opens a connection per request); over
Socket Mode it is an envelope the fake sends on the bot's link, timed to the ack that carries the answer. At 1
and 10 concurrent senders, prints p50, p99, requests/s and errors for both, and the Socket Mode / HTTP ratio.
Run: .venv/bin/python bench/socket_vs_http.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.testing.fakeslack import FakeSlack  # noqa: E402
from tests.server import RunningServer, start_server  # noqa: E402
from tests.slack_requests import SlackSender, slash_command_body  # noqa: E402

CONCURRENCY = (1, 10)
SERVE = [sys.executable, "-m", "bot", "serve", "--no-clock"]


def over_http(sender: SlackSender) -> Callable[[], bool]:
    body = slash_command_body("/ladder", "senior")

    def one() -> bool:
        reply = sender.post(body)
        return reply.status == 200 and b'"blocks"' in reply.body

    return one


def over_socket_mode(fake: FakeSlack) -> Callable[[], bool]:
    form = dict(urllib.parse.parse_qsl(slash_command_body("/ladder", "senior").decode()))
    hub = fake.socket_mode

    def one() -> bool:
        envelope = hub.wait_ack(hub.deliver("slash_commands", dict(form)), 30)
        return bool(envelope.response and envelope.response.get("blocks"))

    return one


def load(send: Callable[[], bool], clients: int, total: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        nonlocal errors
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                ok = send()
            except (OSError, AssertionError):
                ok = False
            seconds = time.perf_counter() - started
            with lock:
                latencies.append(seconds)
                errors += not ok

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": len(latencies) / elapsed,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    args = parser.parse_args()
    total = 100 if args.quick else 600
    fake = FakeSlack().start()
    folder = Path(tempfile.mkdtemp(prefix="ladderbot-bench-socket-"))
    servers: list[RunningServer] = []
    try:
        http = start_server(fake.url, f"sqlite:///{folder / 'http.sqlite3'}", command=SERVE)
        servers.append(http)
        socket_mode = start_server(
            fake.url, f"sqlite:///{folder / 'socket.sqlite3'}", command=SERVE, SLACK_APP_TOKEN="xapp-1-A0001-bench"
        )
        servers.append(socket_mode)
        fake.socket_mode.wait_for_connections(1)
        modes = {"HTTP": over_http(http.sender), "Socket Mode": over_socket_mode(fake)}
        for send in modes.values():  # warm up: first imports, caches, connections
            load(send, 2, 20)
        print(f"/ladder senior, {total} requests per run, one server process each (WEB_THREADS 8), fake Slack")
        print(f"{'mode':<12} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
        results: dict[tuple[str, int], dict[str, float]] = {}
        for clients in CONCURRENCY:
            for name, send in modes.items():
                result = results[(name, clients)] = load(send, clients, total)
                print(
                    f"{name:<12} {clients:>7} {result['p50']:>8.1f} {result['p99']:>8.1f} {result['rps']:>8.0f}"
                    f" {result['errors']:>6.0f}"
                )
        for clients in CONCURRENCY:
            http_run, socket_run = results[("HTTP", clients)], results[("Socket Mode", clients)]
            print(
                f"Socket Mode / HTTP at {clients} client(s): p50 x{socket_run['p50'] / http_run['p50']:.2f}, "
                f"p99 x{socket_run['p99'] / http_run['p99']:.2f}, req/s x{socket_run['rps'] / http_run['rps']:.2f}"
            )
    finally:
        for server in servers:
            server.stop()
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
