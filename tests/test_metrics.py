"""GET /metrics from the real server: signed requests, a clock pass and Slack calls counted, added up over
gunicorn's processes (WEB_CONCURRENCY=2, prometheus_client's multiprocess mode), kept when a worker dies,
and the clock's backlog read from the database; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from tests import factories
from tests.pg import free_port
from tests.server import ROOT, RunningServer, server_env, start_server
from tests.slack_requests import SlackSender, slash_command_body
from tests.waiting import wait_until

COMMANDS = 8


def scrape(server: RunningServer | SlackSender) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, keyed by name and labels."""
    sender = server.sender if isinstance(server, RunningServer) else server
    reply = sender.raw("GET", "/metrics")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def worker_pids(server: RunningServer) -> set[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


@pytest.fixture
def two_process_server(fake_slack, database_url, content, tmp_path):
    """`ladderbot serve` with two worker processes, the clock in one of them, and a nudge already due."""
    user = factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    running = start_server(
        fake_slack.url,
        database_url,
        command=[sys.executable, "-m", "bot", "serve"],
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    yield running, user
    running.stop()


def test_metrics_add_up_every_process(two_process_server, fake_slack):
    server, user = two_process_server
    wait_until(lambda: len(worker_pids(server)) == 2, what="two workers")
    # the clock (in one worker) sends the due nudge through the paced client
    fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20)

    answered_by = set()
    for _ in range(COMMANDS):
        reply = server.sender.command("/ladder", "senior", user_id=user)
        assert reply.status == 200
    # a new connection per request: both workers answer in time; /healthz says which one did
    wait_until(
        lambda: answered_by.add(server.sender.raw("GET", "/healthz").json()["process"]["pid"]) or len(answered_by) == 2,
        what="both workers answering",
    )
    unsigned = server.sender.post(slash_command_body("/ladder", "senior"), signature="v0=forged")
    assert unsigned.status == 401
    unknown = server.sender.action("no_such_action", "1")  # acknowledged quietly, counted as unhandled
    assert unknown.status == 200

    def settled() -> dict:
        samples = scrape(server)
        return samples if value(samples, "ladderbot_clock_passes_total", outcome="ok") >= 1 else {}

    # every scrape, whichever worker answers it, adds up both workers' files
    for _ in range(4):
        samples = wait_until(settled, timeout=20, what="a clock pass counted")
        assert value(samples, "ladderbot_requests_total", kind="/ladder", outcome="ok") == COMMANDS
        assert value(samples, "ladderbot_request_seconds_count", kind="/ladder") == COMMANDS
        assert value(samples, "ladderbot_requests_total", kind="unverified", outcome="unverified") == 1
        assert value(samples, "ladderbot_requests_total", kind="block_actions", outcome="unhandled") == 1
        assert value(samples, "ladderbot_nudges_total", outcome="sent") == 1
        assert value(samples, "ladderbot_nudge_lateness_seconds_count") == 1
        assert value(samples, "ladderbot_slack_api_calls_total", method="chat.postMessage", error="none") >= 1
        assert value(samples, "ladderbot_clock_pass_seconds_count") >= 1
        assert value(samples, "ladderbot_database_up") == 1
        assert value(samples, "ladderbot_nudges_pending") == 0
        assert value(samples, "ladderbot_clock_lag_seconds") == 0
        assert ("ladderbot_digests_pending", ()) in samples

    # a worker killed outright: gunicorn starts another; what the dead one counted stays in the totals
    victim = next(pid for pid in worker_pids(server))
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(worker_pids(server)) == 2 and victim not in worker_pids(server), what="a new worker")
    reply = server.sender.command("/ladder", "senior", user_id=user)
    assert reply.status == 200
    samples = scrape(server)
    assert value(samples, "ladderbot_requests_total", kind="/ladder", outcome="ok") == COMMANDS + 1


def test_slack_errors_and_429s_are_counted(fake_slack, database_url, content, tmp_path):
    """A nudge's first send answered with a 429: counted by method and error, then the send that went."""
    factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    fake_slack.fail("chat.postMessage", status=429, error="ratelimited", retry_after=1, times=1)
    running = start_server(fake_slack.url, database_url, command=[sys.executable, "-m", "bot", "serve"])
    try:
        fake_slack.wait_for_calls("chat.postMessage", 2, timeout=30)  # the 429, then the send that went

        def sent() -> dict:
            samples = scrape(running)
            return samples if value(samples, "ladderbot_nudges_total", outcome="sent") == 1 else {}

        samples = wait_until(sent, timeout=30, what="the nudge sent after its 429")
        assert value(samples, "ladderbot_slack_api_calls_total", method="chat.postMessage", error="ratelimited") == 1
        assert value(samples, "ladderbot_slack_api_calls_total", method="chat.postMessage", error="none") == 1
        assert value(samples, "ladderbot_sends_paced_total") >= 1
    finally:
        running.stop()


def test_request_kinds_take_only_known_values():
    assert metrics.request_kind({"command": "/ladder"}) == "/ladder"
    assert metrics.request_kind({"type": "view_submission"}) == "view_submission"
    assert metrics.request_kind({"type": "event_callback", "event": {"type": "app_home_opened"}}) == (
        "event:app_home_opened"
    )
    assert metrics.request_kind({"type": "made up by a stranger"}) == "other"
    assert metrics.request_kind({"command": "/" + "x" * 200}) == "/" + "x" * 39
    assert metrics.request_kind({"command": "/with space"}) == "other"
    assert metrics.request_kind(None) == "other"
    assert metrics.request_outcome(200, None) == "ok"
    assert metrics.request_outcome(200, "refused") == "refused"
    assert metrics.request_outcome(401, None) == "unverified"
    assert metrics.request_outcome(413, None) == "rejected"
    assert metrics.request_outcome(500, None) == "error"


def test_a_clock_process_serves_its_own_metrics(fake_slack, database_url, content):
    """`ladderbot clock` with METRICS_PORT: what the clock sent, on its own port (it runs apart from the web)."""
    factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    port = free_port()
    env = server_env(fake_slack.url, database_url, port, METRICS_PORT=str(port))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    clock = subprocess.Popen([sys.executable, "-m", "bot", "clock"], env=env, cwd=ROOT)
    try:
        fake_slack.wait_for_calls("chat.postMessage", 1, timeout=30)
        endpoint = SlackSender("127.0.0.1", port)

        def sent() -> dict:
            try:
                samples = scrape(endpoint)
            except OSError:
                return {}  # not listening yet
            return samples if value(samples, "ladderbot_nudges_total", outcome="sent") == 1 else {}

        samples = wait_until(sent, timeout=30, what="the clock's /metrics")
        assert value(samples, "ladderbot_clock_passes_total", outcome="ok") >= 1
        assert value(samples, "ladderbot_database_up") == 1
        assert endpoint.raw("GET", "/healthz").status == 200
        assert endpoint.raw("GET", "/elsewhere").status == 404
    finally:
        clock.send_signal(signal.SIGTERM)
        clock.wait(20)
