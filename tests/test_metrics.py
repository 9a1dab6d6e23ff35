"""GET /metrics from the real server: signed requests, a clock pass and Slack calls counted (the clock's and those
Bolt's listeners make), added up over gunicorn's processes (WEB_CONCURRENCY=2, prometheus_client's multiprocess
mode), kept when a worker dies, and the clock's backlog read from the database; on SQLite and PostgreSQL. A
digest found too late is reported and counted as missed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from bot import metrics
from tests import factories
from tests.clockworld import World
from tests.pg import free_port
from tests.server import ROOT, RunningServer, server_env, start_server
from tests.slack_requests import SlackSender, event_body, slash_command_body
from tests.test_digest import DIGEST_AT, build_team
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


def home_opened(user: str) -> bytes:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home", "event_ts": "1.2"}
    return event_body(event, event_id="Ev" + uuid.uuid4().hex[:10])


def test_calls_made_by_bolts_listeners_are_counted(fake_slack, database_url):
    """The App Home is published by a lazy listener with the client Bolt gives it (not the paced client): each
    views.publish is counted, a 429 that Bolt's client waits out and sends again included."""
    running = start_server(fake_slack.url, database_url, command=[sys.executable, "-m", "bot", "serve", "--no-clock"])
    user = "U" + uuid.uuid4().hex[:8].upper()
    try:
        assert running.sender.post(home_opened(user), content_type="application/json").status == 200
        fake_slack.wait_for_calls("views.publish", 1, timeout=20)

        def counted(ok: float, limited: float) -> dict:
            samples = scrape(running)
            seen = (
                value(samples, "ladderbot_slack_api_calls_total", method="views.publish", error="none"),
                value(samples, "ladderbot_slack_api_calls_total", method="views.publish", error="ratelimited"),
            )
            return samples if seen == (ok, limited) else {}

        wait_until(lambda: counted(1, 0), timeout=20, what="the first views.publish counted")

        fake_slack.fail("views.publish", status=429, retry_after=1, times=1)
        assert running.sender.post(home_opened(user), content_type="application/json").status == 200
        fake_slack.wait_for_calls("views.publish", 3, timeout=20)  # the 429, then the publish that went
        samples = wait_until(lambda: counted(2, 1), timeout=20, what="the 429 and the second publish counted")
        # the listener's calls are counted where they were made, not as the clock's: no paced client was used
        assert value(samples, "ladderbot_sends_paced_total") == 0
        assert value(samples, "ladderbot_listener_errors_total") == 0

        # Slack refuses the publish: the lazy listener fails after the ack, counted by error and as a listener error
        fake_slack.fail("views.publish", error="invalid_blocks", times=1)
        assert running.sender.post(home_opened(user), content_type="application/json").status == 200
        fake_slack.wait_for_calls("views.publish", 4, timeout=20)

        def failed() -> dict:
            samples = scrape(running)
            return samples if value(samples, "ladderbot_listener_errors_total") == 1 else {}

        samples = wait_until(failed, timeout=20, what="the lazy listener's failure counted")
        assert value(samples, "ladderbot_slack_api_calls_total", method="views.publish", error="invalid_blocks") == 1
    finally:
        running.stop()
    assert len(fake_slack.calls_to("views.publish")) == 4


def test_the_meter_reads_slacks_answers():
    def answer(status: int, body: dict | None = None, data: bytes | None = None) -> str | None:
        return metrics.answer_error(HttpResponse(status_code=status, headers={}, body=body, data=data))

    assert answer(200, {"ok": True}) is None
    assert answer(200, {"ok": False, "error": "invalid_auth"}) == "invalid_auth"
    assert answer(429, data=b'{"ok": false, "error": "ratelimited"}') == "ratelimited"
    assert answer(500, data=b'{"ok": false, "error": "fatal_error"}') == "fatal_error"
    assert answer(503, data=b"<html>down</html>") == "http_503"
    assert answer(200, {}) == "unknown"
    assert metrics.answer_error(None) == "connection"

    meter = metrics.SlackCallMeter("https://slack.example/api/")
    before = REGISTRY.get_sample_value("ladderbot_slack_api_calls_total", {"method": "team.info", "error": "none"})
    elsewhere = HttpRequest(method="POST", url="https://files.example/upload/v1/abc", headers={})
    api = HttpRequest(method="POST", url="https://slack.example/api/team.info?x=1", headers={})
    ok = HttpResponse(status_code=200, headers={}, body={"ok": True})
    assert meter.can_retry(state=None, request=elsewhere, response=ok) is False  # type: ignore[arg-type]
    assert meter.can_retry(state=None, request=api, response=ok) is False  # type: ignore[arg-type]
    after = REGISTRY.get_sample_value("ladderbot_slack_api_calls_total", {"method": "team.info", "error": "none"})
    assert (after or 0) - (before or 0) == 1  # the upload URL is no Web API method: not counted


def test_a_missed_digest_is_reported_and_counted(world: World) -> None:
    build_team(world)
    labels = {"outcome": "missed"}
    before = REGISTRY.get_sample_value("ladderbot_digests_total", labels) or 0.0
    report = world.clock.run_pass(DIGEST_AT + timedelta(days=4))  # the clock was down for days
    assert (report.digests_missed, report.digests_sent, report.digests_failed) == (1, 0, 0)
    assert report.busy
    assert REGISTRY.get_sample_value("ladderbot_digests_total", labels) == before + 1
    assert world.clock.run_pass(DIGEST_AT + timedelta(days=4, minutes=1)).digests_missed == 0  # counted once


def test_a_digest_retried_until_too_late_is_reported_and_counted_as_missed(world: World) -> None:
    build_team(world)
    world.fake.fail("chat.postMessage", error="internal_error", times=-1)
    first = world.clock.run_pass(DIGEST_AT)
    assert (first.digests_scheduled, first.digests_failed, first.digests_missed) == (1, 1, 0)  # to be retried
    world.fake.clear_faults()
    labels = {"outcome": "missed"}
    before = REGISTRY.get_sample_value("ladderbot_digests_total", labels) or 0.0
    late = world.clock.run_pass(DIGEST_AT + timedelta(days=4))  # its retry comes days later: too late to send
    assert (late.digests_missed, late.digests_sent) == (1, 0)
    assert REGISTRY.get_sample_value("ladderbot_digests_total", labels) == before + 1
