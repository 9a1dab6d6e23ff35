"""Slack's rate limits, kept on our side: one `Pacer` per process that every send draws on, so the bot
never needs Slack's 429s to slow it down.

The Pacer keeps token buckets per workspace: one per Web API method at its Slack tier (Tier 2: 20 a minute,
Tier 3: 50, Tier 4: 100), and for chat.postMessage two, one per channel (Slack's "about one a second per
channel") and one workspace-wide (`messages_per_minute`, which Slack does not publish: configured, then
learned). A call takes a token from each of its buckets or is told how long to wait; nothing sleeps here.

A 429 pauses only the buckets the call drew on, for its Retry-After. The workspace message rate is also
learned: it drops by a fifth on a 429 and creeps back up by a tenth after each quiet stretch without one,
never above the configured rate. Several clocks sending for one workspace divide its rate between them (`set_share`, fed
by bot.clock.shares).

`PacedClient` is a slack_sdk WebClient whose every call goes through the Pacer first. In `wait` mode (the
request path, digests, reminders) it waits its turn and resends after a 429 itself; otherwise (the nudge
dispatcher) it raises `Paced` instead of waiting, so no send thread ever sleeps on a bucket: the dispatcher
puts the send back in line and gives the thread other work.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

from bot import metrics

POST_MESSAGE = "chat.postMessage"
TIER_PER_MINUTE = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
# Slack's published tier of each method the bot calls (https://api.slack.com/docs/rate-limits, each method's page)
METHOD_TIERS = {
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "conversations.open": 3,
    "conversations.history": 3,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "team.info": 3,
}
SAFETY = 0.97  # pace a little under each limit, so network jitter never lands two calls in one slot at Slack
SLOWER = 0.8  # a 429 multiplies the bucket's rate by this
FASTER = 1.1  # each quiet stretch after a slow-down multiplies it by this, up to the configured rate
QUIET_SECONDS = 30.0  # how long without a 429 counts as a quiet stretch (divided by the time scale)
FLOOR = 0.05  # never learn a rate below this share of the configured one
TIER_BURST_SECONDS = 10.0  # a tier bucket holds ten seconds' worth (Slack allows bursts within the minute)
MESSAGE_BURST_SECONDS = 1.0  # the workspace message bucket holds one second's worth
# The longest the clock's pass waits on a workspace: a longer pause (a 429's Retry-After) gives its sends back
# to a later pass, unsent, rather than hold the pass (and every other workspace's digests and reminders)
MAX_HOLD = 60.0


@dataclass(frozen=True)
class SlackRates:
    """The limits the Pacer keeps. `time_scale` multiplies every rate (benchmarks against a fake Slack whose
    limits are scaled the same way); it cannot shrink a Retry-After, which is whole seconds."""

    messages_per_minute: float = 600.0
    channel_per_second: float = 1.0
    time_scale: float = 1.0


class Bucket:
    """A token bucket with a pause (a 429's Retry-After) and a learned rate between FLOOR and its ceiling."""

    def __init__(self, kind: str, per_second: float, burst_seconds: float, now: float, quiet: float = QUIET_SECONDS):
        self.kind = kind  # messages, channel or tier
        self.learns = kind == "messages"  # only the workspace-wide message limit is unpublished
        self.ceiling = per_second
        self.learned = per_second  # what 429s taught us, before the share
        self.share = 1.0  # this clock's part of the workspace's budget
        self.burst_seconds = burst_seconds
        # start half full: Slack's own bucket then keeps a reserve for sends that reach it closer together than
        # they left (the time between taking a token and posting varies)
        self.tokens = max(1.0, self.capacity / 2)
        self.updated = now
        self.paused_until = 0.0
        self.last_limited = -math.inf
        self.last_sped_up = -math.inf
        self.quiet = quiet

    @property
    def rate(self) -> float:
        return self.learned * self.share

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate * self.burst_seconds)

    def _refill(self, now: float) -> None:
        if self.learned < self.ceiling and now - max(self.last_limited, self.last_sped_up) >= self.quiet:
            self.learned = min(self.ceiling, self.learned * FASTER)
            self.last_sped_up = now
        start = max(self.updated, self.paused_until)
        if now > start:
            self.tokens = min(self.capacity, self.tokens + (now - start) * self.rate)
        self.updated = max(self.updated, now)

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        self._refill(now)
        if now < self.paused_until:
            return self.paused_until - now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def limited(self, now: float, retry_after: float) -> None:
        """Slack answered 429: nothing goes until Retry-After has passed, then one call may. A limit Slack does
        not publish (`learns`) is also taken slower from then on; a published one is kept as it is."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0)
        # several 429s of one burst are one lesson: slow down once per Retry-After window
        if self.learns and now >= self.paused_until:
            self.learned = max(self.ceiling * FLOOR, self.learned * SLOWER)
        self.paused_until = max(self.paused_until, now + retry_after)
        self.last_limited = now

    def idle(self, now: float) -> bool:
        """Full and with nothing learned: the same as a new bucket, so it can be dropped."""
        self._refill(now)
        return self.tokens >= self.capacity and self.learned >= self.ceiling and now >= self.paused_until


class Pacer:
    """Every Slack call's place in line, per workspace (`team`: the key of one workspace's budget). Thread-safe."""

    MAX_CHANNEL_BUCKETS = 20_000  # beyond this, idle channel buckets are dropped

    def __init__(self, rates: SlackRates | None = None, clock: Callable[[], float] = time.monotonic):
        self.rates = rates or SlackRates()
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._shares: dict[str, float] = {}
        self._lock = threading.Lock()
        self._credit = threading.local()  # a token taken ahead for this thread's next call (`prepaid`)
        self.rate_limited_calls = 0  # 429s seen, for reports and benchmarks

    def _bucket(self, team: str, kind: str, name: str, per_second: float, burst: float, now: float) -> Bucket:
        key = (team, kind, name)
        bucket = self._buckets.get(key)
        if bucket is None:
            scale = self.rates.time_scale
            bucket = self._buckets[key] = Bucket(kind, per_second * SAFETY * scale, burst, now, QUIET_SECONDS / scale)
            bucket.share = self._shares.get(team, 1.0)
        return bucket

    def _buckets_for(self, team: str, method: str, channel: str | None, now: float) -> list[Bucket]:
        if method == POST_MESSAGE:
            buckets = [
                self._bucket(team, "messages", "", self.rates.messages_per_minute / 60, MESSAGE_BURST_SECONDS, now)
            ]
            if channel:
                buckets.append(self._bucket(team, "channel", channel, self.rates.channel_per_second, 1.0, now))
            return buckets
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return []  # auth.test and the like: no tier worth keeping
        return [self._bucket(team, "tier", method, TIER_PER_MINUTE[tier] / 60, TIER_BURST_SECONDS, now)]

    def delay(self, team: str, method: str, channel: str | None = None) -> float:
        """Seconds until a call could go (0: now), taking nothing."""
        with self._lock:
            now = self.clock()
            return max((b.wait(now) for b in self._buckets_for(team, method, channel, now)), default=0.0)

    def take(self, team: str, method: str, channel: str | None = None) -> float:
        """0 and a token from each of the call's buckets, or the seconds to wait (and nothing taken). A call
        this thread holds a credit for (`prepaid`) uses the credit instead."""
        if getattr(self._credit, "call", None) == (team, method, channel):
            self._credit.call = None
            return 0.0
        with self._lock:
            now = self.clock()
            buckets = self._buckets_for(team, method, channel, now)
            wait = max((b.wait(now) for b in buckets), default=0.0)
            if wait == 0.0:
                for bucket in buckets:
                    bucket.tokens -= 1.0
            if len(self._buckets) > self.MAX_CHANNEL_BUCKETS:
                self._prune(now)
            return wait

    @contextlib.contextmanager
    def prepaid(self, team: str, method: str, channel: str | None) -> Iterator[None]:
        """Within this block, this thread's next `take` for exactly this call is already paid for: the
        dispatcher took the token when it chose the send, so the send thread never waits for one."""
        self._credit.call = (team, method, channel)
        try:
            yield
        finally:
            self._credit.call = None

    def rate_limited(self, team: str, method: str, channel: str | None, retry_after: float) -> None:
        """A 429 for this call: pause and slow the buckets it drew on (for chat.postMessage, the workspace's and,
        if it was posted to within the last second, the channel's: Slack does not say which limit it hit)."""
        with self._lock:
            now = self.clock()
            self.rate_limited_calls += 1
            for bucket in self._buckets_for(team, method, channel, now):
                bucket._refill(now)
                if bucket.kind == "channel" and bucket.tokens >= bucket.capacity:
                    continue  # a channel not posted to within the last second cannot be the limit that was hit
                bucket.limited(now, retry_after)

    def pause(self, team: str) -> float:
        """Seconds left of the pause on the workspace's chat.postMessage budget (a 429's Retry-After, a hold);
        0 if none. A wait for tokens is not a pause."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets_for(team, POST_MESSAGE, None, now)[0]
            return max(0.0, bucket.paused_until - now)

    def hold(self, team: str, seconds: float) -> None:
        """Send nothing for `team` for a while (a clock joining others waits for them to see it)."""
        with self._lock:
            now = self.clock()
            for bucket in self._buckets_for(team, POST_MESSAGE, None, now):
                bucket._refill(now)
                bucket.paused_until = max(bucket.paused_until, now + seconds)
                bucket.tokens = 0.0  # no burst on joining: the others may have used Slack's burst already

    def set_share(self, team: str, clocks: int) -> None:
        """`clocks` clocks (this one included) send for `team` now: this one keeps 1/clocks of its rates."""
        share = 1.0 / max(1, clocks)
        with self._lock:
            if self._shares.get(team, 1.0) == share:
                return
            fewer = share < self._shares.get(team, 1.0)
            self._shares[team] = share
            now = self.clock()
            for (bucket_team, _, _), bucket in self._buckets.items():
                if bucket_team == team:
                    bucket._refill(now)
                    bucket.share = share
                    # another clock joined: whatever burst this one saved is the newcomer's part now
                    bucket.tokens = 0.0 if fewer else min(bucket.tokens, bucket.capacity)

    def rate(self, team: str) -> float:
        """The workspace's chat.postMessage rate per second for this clock now (learned, times its share)."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets_for(team, POST_MESSAGE, None, now)[0]
            bucket._refill(now)
            return bucket.rate

    def learned_rate(self, team: str) -> float:
        """The workspace's chat.postMessage rate per second as learned so far, before any share."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets_for(team, POST_MESSAGE, None, now)[0]
            bucket._refill(now)
            return bucket.learned

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if k[1] == "channel" and b.idle(now)]:
            del self._buckets[key]


class Paced(SlackClientError):
    """Raised instead of calling Slack when the call's bucket is empty (no waiting allowed): nothing was sent.
    `delay`: seconds until it could go."""

    def __init__(self, method: str, delay: float):
        super().__init__(f"{method} paced for {delay:.2f}s")
        self.method = method
        self.delay = delay


def retry_after(exc: SlackApiError) -> float | None:
    """The Retry-After of a 429 answer, in seconds (1 if Slack gave none); None for any other answer."""
    if exc.response.status_code != 429:
        return None
    for name, value in (exc.response.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except ValueError:
                return 1.0
    return 1.0


def _channel_of(api_method: str, params: dict[str, Any] | None, data: Any, json: Any) -> str | None:
    if api_method != POST_MESSAGE:
        return None
    for source in (json, data, params):
        if isinstance(source, dict) and source.get("channel"):
            return str(source["channel"])
    return None


class PacedClient(WebClient):
    """A WebClient that takes its place in line at the Pacer before every call. Slack's own retry of 429s is
    left out: the Pacer answers them (see the module docstring for the two modes)."""

    def __init__(
        self, *, pacer: Pacer, budget: str, wait: bool, max_wait: float = MAX_HOLD, max_429s: int = 5, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.retry_handlers = [h for h in self.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
        self.pacer = pacer
        self.budget = budget
        self.wait = wait
        self.max_wait = max_wait
        self.max_429s = max_429s

    def api_call(  # the same parameters as WebClient.api_call
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        channel = _channel_of(api_method, params, data, json)
        waited = 0.0
        limited = 0
        while True:
            delay = self.pacer.take(self.budget, api_method, channel)
            if delay > 0:
                if not self.wait or waited + delay > self.max_wait:
                    raise Paced(api_method, delay)
                time.sleep(delay)
                waited += delay
                continue
            try:
                response = super().api_call(
                    api_method,
                    http_verb=http_verb,
                    files=files,
                    data=data,
                    params=params,
                    json=json,
                    headers=headers,
                    auth=auth,
                )
                assert isinstance(response, SlackResponse)  # a sync client's answer
                metrics.slack_call(api_method, None)
                return response
            except SlackApiError as exc:
                pause = retry_after(exc)
                metrics.slack_call(api_method, "ratelimited" if pause is not None else str(exc.response.get("error")))
                if pause is None:
                    raise
                self.pacer.rate_limited(self.budget, api_method, channel, pause)
                limited += 1
                if not self.wait or limited > self.max_429s:
                    raise
            except OSError:  # Slack not reached (urllib's errors, timeouts), after the client's own retries
                metrics.slack_call(api_method, "connection")
                raise


class SlackSenders:
    """The paced clients the clock and the request path send with, one per workspace budget and mode, all
    drawing on one Pacer. `token_for(team_id)` gives each workspace's own token (multi-workspace installs, and
    benchmarks with one token a workspace); without it every workspace is the one the single token belongs to,
    so they share one budget ("*")."""

    def __init__(self, pacer: Pacer, template: WebClient, token_for: Callable[[str], str] | None = None):
        self.pacer = pacer
        self.template = template
        self.token_for = token_for
        self._clients: dict[tuple[str, bool, float], PacedClient] = {}
        self._lock = threading.Lock()

    def budget(self, team_id: str | None) -> str:
        """The key of the budget `team_id` sends from."""
        return team_id if self.token_for is not None and team_id else "*"

    def sending(self, team_id: str | None) -> PacedClient:
        """A client that raises Paced rather than wait (the nudge dispatcher's)."""
        return self._client(team_id, wait=False)

    def waiting(self, team_id: str | None, *, max_wait: float = MAX_HOLD) -> PacedClient:
        """A client that waits its turn, up to `max_wait` seconds a call (digests and reminders on the clock's
        thread: no longer than MAX_HOLD, so one paused workspace never holds the pass; the request path with
        a shorter wait, so a follow-up never holds one of Bolt's few threads long)."""
        return self._client(team_id, wait=True, max_wait=max_wait)

    def _client(self, team_id: str | None, *, wait: bool, max_wait: float = MAX_HOLD) -> PacedClient:
        budget = self.budget(team_id)
        with self._lock:
            client = self._clients.get((budget, wait, max_wait))
            if client is None:
                token = self.token_for(budget) if self.token_for is not None and budget != "*" else self.template.token
                client = self._clients[(budget, wait, max_wait)] = PacedClient(
                    pacer=self.pacer,
                    budget=budget,
                    wait=wait,
                    max_wait=max_wait,
                    token=token,
                    base_url=self.template.base_url,
                    timeout=self.template.timeout,
                    retry_handlers=list(self.template.retry_handlers),
                )
        if self.token_for is not None and budget != "*":
            # asked on every use: a refreshed token is used at once, and a removed workspace's sends stop at once
            client.token = self.token_for(budget)
        return client
