"""The fake Slack's rate model: Slack's tiers, chat.postMessage's per-channel and per-workspace limits,
429 with Retry-After, and the counts a benchmark reads.

The limiter's own tests move a hand-driven clock (no sleeping, no timing); the HTTP ones use rates so slow
that no real time passing during a test can refill a bucket, and read the real 429 through slack_sdk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.testing.fakeslack import FakeSlack, RateLimiter, RateModel, minimum_seconds
from bot.testing.fakeslack.methods import METHODS
from bot.testing.fakeslack.ratelimit import METHOD_TIERS, POST_MESSAGE
from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parent.parent

# 1/100 of Slack's rates: tier 3 is one call in two minutes, a workspace's messages 6 a minute
SLOW = 0.01


class HandClock:
    """A clock for RateLimiter that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


def limiter(clock: HandClock, **model: Any) -> RateLimiter:
    return RateLimiter(RateModel(**model), clock=clock)


def post(rates: RateLimiter, channel: str, workspace: str = "xoxb-one") -> int | None:
    return rates.check(POST_MESSAGE, workspace, {"channel": channel, "text": "hi"})


# the model ------------------------------------------------------------------------------------------


def test_every_method_the_fake_serves_has_a_rule():
    """A method added to the fake needs its tier here, or it would be silently unlimited."""
    assert set(METHODS) - {POST_MESSAGE} <= set(METHOD_TIERS)


def test_a_model_refuses_numbers_that_are_not_rates():
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        RateModel(time_scale=0)
    with pytest.raises(ValueError, match="workspace_messages_per_minute"):
        RateModel(workspace_messages_per_minute=-1)
    with pytest.raises(ValueError, match="tiers without a rate"):
        RateModel(method_tiers={"chat.update": 9})


def test_time_scale_multiplies_every_rate():
    model = RateModel(time_scale=10)
    assert model.method_per_second("chat.update") == pytest.approx(50 / 60 * 10)
    assert model.method_per_second("users.list") == pytest.approx(20 / 60 * 10)
    assert model.channel_messages_per_second == 10
    assert model.workspace_messages_per_second == pytest.approx(100)
    assert model.method_per_second("auth.test") is None and model.method_per_second("no.such") is None


# the limiter, on a hand-driven clock --------------------------------------------------------------------


def test_tier_3_allows_a_burst_then_refuses_until_a_token_refills(clock):
    rates = limiter(clock, burst_seconds=6)  # 50 a minute for 6 seconds: a bucket of 5
    assert [rates.check("conversations.history", "xoxb-one", {}) for _ in range(5)] == [None] * 5
    assert rates.check("conversations.history", "xoxb-one", {}) == 2  # 1.2 s to the next token, in whole seconds
    clock.advance(1.2)
    assert rates.check("conversations.history", "xoxb-one", {}) is None
    assert rates.check("conversations.history", "xoxb-one", {}) == 2
    # another method has its own bucket
    assert rates.check("conversations.open", "xoxb-one", {"users": "U1"}) is None


def test_the_default_burst_is_one_call_for_a_slow_tier(clock):
    rates = limiter(clock)
    assert rates.check("users.list", "xoxb-one", {}) is None
    assert rates.check("users.list", "xoxb-one", {}) == 3  # 20 a minute: a token every 3 s


def test_unlimited_and_unknown_methods_are_never_refused_but_counted(clock):
    rates = limiter(clock, time_scale=SLOW)
    for _ in range(200):
        assert rates.check("auth.test", "xoxb-one", {}) is None
        assert rates.check("no.such.method", "xoxb-one", {}) is None
    assert rates.stats()["methods"]["auth.test"] == {"allowed": 200, "limited": 0}


def test_post_message_is_limited_per_channel_and_a_user_id_is_their_dm(clock):
    rates = limiter(clock)
    assert post(rates, "C1") is None
    assert post(rates, "C1") == 1
    assert post(rates, "C2") is None  # another channel
    assert post(rates, "U7") is None
    assert post(rates, "D7") == 1  # the same DM, named by its channel id
    clock.advance(1)
    assert post(rates, "C1") is None and post(rates, "D7") is None


def test_post_message_is_limited_per_workspace_across_channels(clock):
    rates = limiter(clock)  # 600 a minute: a bucket of 10, a token every 0.1 s
    assert [post(rates, f"U{n}") for n in range(10)] == [None] * 10
    assert post(rates, "U10") == 1  # 0.1 s, said as Slack says it: at least a whole second
    clock.advance(0.1)
    assert post(rates, "U10") is None
    rates = limiter(clock, workspace_messages_per_minute=6)
    assert post(rates, "U1") is None
    assert post(rates, "U2") == 10


def test_workspaces_do_not_share_buckets(clock):
    rates = limiter(clock)
    assert post(rates, "C1", "xoxb-one") is None
    assert post(rates, "C1", "xoxb-one") == 1
    assert post(rates, "C1", "xoxb-two") is None
    assert rates.check("users.list", "T1", {}) is None
    assert rates.check("users.list", "T2", {}) is None
    assert rates.check("users.list", "T1", {}) == 3


def test_a_refused_call_takes_no_token_and_is_counted(clock):
    rates = limiter(clock)
    assert post(rates, "C1") is None
    assert [post(rates, "C1") for _ in range(20)] == [1] * 20  # its channel is empty
    # had those 20 taken tokens from the workspace's bucket of 10, these would be refused
    assert [post(rates, f"C{n}") for n in range(2, 11)] == [None] * 9
    assert post(rates, "C11") == 1
    stats = rates.stats()
    assert (stats["allowed"], stats["limited"]) == (10, 21)
    assert stats["methods"] == {POST_MESSAGE: {"allowed": 10, "limited": 21}}
    assert stats["workspaces"] == {"xoxb-one": {"allowed": 10, "limited": 21}}
    assert stats["model"]["workspace_messages_per_minute"] == 600
    json.dumps(stats)  # what /_fake/rates sends


def test_time_scale_shrinks_waits_but_retry_after_stays_a_whole_second(clock):
    rates = limiter(clock, time_scale=60)  # tier 3 at 50 a second: a bucket of 50
    assert [rates.check("chat.update", "xoxb-one", {}) for _ in range(50)] == [None] * 50
    assert rates.check("chat.update", "xoxb-one", {}) == 1  # really 0.02 s
    clock.advance(0.02)
    assert rates.check("chat.update", "xoxb-one", {}) is None
    slow = limiter(clock, time_scale=0.5)
    assert slow.check("chat.update", "xoxb-one", {}) is None
    assert slow.check("chat.update", "xoxb-one", {}) == 3  # 2.4 s, rounded up


def test_reset_refills_the_buckets_and_zeroes_the_counts(clock):
    rates = limiter(clock)
    post(rates, "C1")
    assert post(rates, "C1") == 1
    rates.reset()
    assert rates.stats()["allowed"] == 0 and rates.stats()["limited"] == 0
    assert post(rates, "C1") is None


# the least time a number of DMs can take -----------------------------------------------------------------


def test_minimum_seconds():
    model = RateModel()  # 10 a second, a bucket of 10
    assert minimum_seconds(model, {}) == 0
    assert minimum_seconds(model, {"T1": 10}) == 0
    assert minimum_seconds(model, {"T1": 610}) == pytest.approx(60)
    assert minimum_seconds(model, {"T1": 70, "T2": 130}) == pytest.approx(12)  # the slower workspace
    assert minimum_seconds(RateModel(time_scale=10), {"T1": 1100}) == pytest.approx(10)
    assert minimum_seconds(RateModel(workspace_messages_per_minute=30), {"T1": 31}) == pytest.approx(60)


@pytest.mark.parametrize(("model", "count"), [(RateModel(), 250), (RateModel(time_scale=3, burst_seconds=2.5), 400)])
def test_minimum_seconds_is_what_the_limiter_allows(clock, model, count):
    """Sending each DM as soon as the limiter takes it ends within one clock step of minimum_seconds."""
    rates = RateLimiter(model, clock=clock)
    start, step = clock.now, 0.001
    for n in range(count):
        while post(rates, f"U{n}") is not None:
            clock.advance(step)
    assert clock.now - start == pytest.approx(minimum_seconds(model, {"xoxb-one": count}), abs=step * 1.01)


# through the real HTTP fake -------------------------------------------------------------------------------


@pytest.fixture
def start_fake() -> Iterator[Callable[[RateModel], FakeSlack]]:
    """Starts fakes with a rate model, each stopped after the test."""
    started: list[FakeSlack] = []

    def start(model: RateModel) -> FakeSlack:
        started.append(FakeSlack(rate_model=model).start())
        return started[-1]

    yield start
    for fake in started:
        fake.stop()


def web_client(fake: FakeSlack | str, token: str = "xoxb-one") -> WebClient:
    """A client with no retry handlers, so a 429 reaches the test."""
    url = fake if isinstance(fake, str) else fake.url
    return WebClient(token=token, base_url=url, retry_handlers=[])


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_limited_call_gets_a_real_429_with_retry_after(start_fake):
    limited_fake = start_fake(RateModel(time_scale=SLOW, burst_seconds=600))
    client = web_client(limited_fake)
    for _ in range(5):  # tier 3 at half a call a minute, 600 s of it: a bucket of 5
        assert client.conversations_history(channel="C1")["ok"]
    with pytest.raises(SlackApiError) as info:
        client.conversations_history(channel="C1")
    response = info.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    retry_after = int(response.headers["Retry-After"])
    assert 100 <= retry_after <= 120  # 120 s to the next token, less what passed since the bucket emptied
    assert [c.status for c in limited_fake.calls_to("conversations.history")] == [200] * 5 + [429]


def test_tokens_and_team_ids_are_workspaces_of_their_own(start_fake):
    limited_fake = start_fake(RateModel(time_scale=SLOW))  # a workspace's messages: one every 10 s
    one, two = web_client(limited_fake, "xoxb-one"), web_client(limited_fake, "xoxb-two")
    assert one.chat_postMessage(channel="U1", text="hi")["ok"]
    with pytest.raises(SlackApiError) as info:
        one.chat_postMessage(channel="U2", text="hi")  # the workspace's bucket of 1 is empty
    assert info.value.response.status_code == 429
    assert two.chat_postMessage(channel="U2", text="hi")["ok"]
    assert one.chat_postMessage(channel="U2", text="hi", team_id="T2")["ok"]  # an org-wide token naming a team
    stats = limited_fake.rate_limiter.stats()
    assert stats["workspaces"] == {
        "xoxb-one": {"allowed": 1, "limited": 1},
        "xoxb-two": {"allowed": 1, "limited": 0},
        "T2": {"allowed": 1, "limited": 0},
    }


def test_rates_endpoint_and_reset(start_fake):
    limited_fake = start_fake(RateModel(time_scale=SLOW))  # a channel's messages: one every 100 s
    client = web_client(limited_fake)
    client.chat_postMessage(channel="C1", text="hi")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="again")
    status, body = get_json(f"{limited_fake.base}/_fake/rates")
    assert status == 200 and body["ok"]
    assert body["stats"]["methods"] == {POST_MESSAGE: {"allowed": 1, "limited": 1}}
    assert body["stats"]["model"]["time_scale"] == SLOW
    request = urllib.request.Request(f"{limited_fake.base}/_fake/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    assert get_json(f"{limited_fake.base}/_fake/rates")[1]["stats"]["allowed"] == 0
    assert client.chat_postMessage(channel="C1", text="after the reset")["ok"]  # the buckets are full again
    limited_fake.reset()
    assert limited_fake.rate_limiter.stats()["allowed"] == 0


def test_a_fake_without_a_rate_model_limits_nothing(fake_slack):
    assert fake_slack.rate_limiter is None and fake_slack.state.limiter is None
    client = web_client(fake_slack)
    for n in range(30):
        assert client.chat_postMessage(channel="C1", text=f"{n}")["ok"]
    assert get_json(f"{fake_slack.base}/_fake/rates") == (404, {"ok": False, "error": "no_rate_model"})


# the command line -------------------------------------------------------------------------------------------


@pytest.fixture
def fake_slack_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`ladderbot fake-slack --rate-model` on a free port, and the API URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "fake-slack", "--port", "0", "--rate-model"]
        + ["--time-scale", str(SLOW), "--messages-per-minute", "60"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        assert first.startswith("fake Slack Web API on http://"), first + second
        assert "60/min per workspace" in second and "x0.01" in second, second
        yield process, first.split()[5]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_rate_model_flags_start_a_fake_that_limits(fake_slack_process):
    _, url = fake_slack_process
    client = web_client(url)
    assert client.chat_postMessage(channel="U1", text="hi")["ok"]
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="U2", text="hi")  # 60 a minute x 0.01: one a 100 s
    assert info.value.response.status_code == 429
    assert 90 <= int(info.value.response.headers["Retry-After"]) <= 100
    stats = get_json(url.replace("/api/", "/_fake/rates"))[1]["stats"]
    assert stats["model"]["workspace_messages_per_minute"] == 60 and stats["limited"] == 1


def test_the_rate_model_flags_refuse_nonsense(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "fake-slack", "--port", "0", "--time-scale", "2")
    assert result.code == 2 and "--time-scale and --messages-per-minute need --rate-model" in result.stderr
    result = run_cli(monkeypatch, capsys, "fake-slack", "--rate-model", "--time-scale", "0")
    assert result.code == 2 and "argument --time-scale: must be a positive number, got '0'" in result.stderr
    result = run_cli(monkeypatch, capsys, "fake-slack", "--rate-model", "--messages-per-minute", "lots")
    assert result.code == 2 and "must be a positive number, got 'lots'" in result.stderr
