"""Slack's Web API rate limits, modelled for the fake: token buckets per method and workspace.

Slack documents its limits as tiers of calls per minute, per method, per workspace and app
(https://docs.slack.dev/apis/web-api/rate-limits), and one special rule for chat.postMessage: about one
message per second per channel, under a workspace-wide ceiling it does not publish. `RateModel` holds
those numbers (600 messages a minute per workspace is this model's own guess); `RateLimiter` applies them
to the calls the fake receives and answers how long a refused call must wait (its Retry-After).

Each limit is a token bucket: it refills at the limit's rate and holds at most
`max(1, rate_per_second * burst_seconds)` tokens, so a quiet client may send a short burst (one second's
worth by default, and always at least one call) before the steady rate binds. Buckets start full. A call
takes one token from each bucket that applies to it, or none when any of them is empty.

`time_scale` multiplies every rate, so a benchmark can send ten times as fast against ten times looser
limits and finish in a tenth of the time; Retry-After stays whole seconds and at least 1, as Slack sends
it, which is the one thing scaling cannot shrink.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from bot.testing.fakeslack.methods import dm_channel_of

POST_MESSAGE: Final = "chat.postMessage"

TIER_PER_MINUTE: Final[Mapping[int, float]] = MappingProxyType({1: 1, 2: 20, 3: 50, 4: 100})

# The tier of each method the fake serves (docs.slack.dev method pages; the SDKs' method tables agree);
# None: not rate limited.
# chat.postMessage has its own rule (RateModel.channel_per_second and workspace_messages_per_minute).
METHOD_TIERS: Final[Mapping[str, int | None]] = MappingProxyType(
    {
        "api.test": None,
        "auth.test": None,
        "chat.postEphemeral": 4,
        "chat.update": 3,
        "chat.delete": 3,
        "chat.getPermalink": 4,  # Slack: "special rate limits"; modelled as the bot paces it
        "apps.connections.open": 1,
        "conversations.open": 3,
        "conversations.history": 3,
        "users.info": 4,
        "users.list": 2,
        "users.getPresence": 3,
        "users.lookupByEmail": 3,
        "views.open": 4,
        "views.push": 4,
        "views.update": 4,
        "views.publish": 4,
        "files.getUploadURLExternal": 4,
        "files.completeUploadExternal": 4,
    }
)

# A bucket whose level is within this of a whole token has it: the refill is computed in floats, and a
# clock moved on by exactly one token's time must not leave it a rounding error short.
_EPSILON = 1e-9


@dataclass(frozen=True)
class RateModel:
    """Slack's limits as the fake applies them. Rates are per minute (Slack's unit) unless named per second;
    `time_scale` multiplies all of them; `burst_seconds` is how many seconds of a limit's rate its bucket holds."""

    time_scale: float = 1.0
    tier_per_minute: Mapping[int, float] = field(default_factory=lambda: TIER_PER_MINUTE)
    method_tiers: Mapping[str, int | None] = field(default_factory=lambda: METHOD_TIERS)
    channel_per_second: float = 1.0
    workspace_messages_per_minute: float = 600.0
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        numbers = {
            "time_scale": self.time_scale,
            "channel_per_second": self.channel_per_second,
            "workspace_messages_per_minute": self.workspace_messages_per_minute,
            "burst_seconds": self.burst_seconds,
            **{f"tier_per_minute[{tier}]": rate for tier, rate in self.tier_per_minute.items()},
        }
        for name, value in numbers.items():
            if not value > 0 or math.isinf(value):
                raise ValueError(f"RateModel.{name} must be a positive number, got {value!r}")
        unknown = {tier for tier in self.method_tiers.values() if tier is not None} - set(self.tier_per_minute)
        if unknown:
            raise ValueError(f"RateModel.method_tiers names tiers without a rate: {sorted(unknown)}")

    def method_per_second(self, method: str) -> float | None:
        """The scaled rate of a tiered method; None for chat.postMessage, unlimited and unknown methods."""
        tier = self.method_tiers.get(method)
        return None if tier is None else self.tier_per_minute[tier] / 60 * self.time_scale

    @property
    def channel_messages_per_second(self) -> float:
        return self.channel_per_second * self.time_scale

    @property
    def workspace_messages_per_second(self) -> float:
        return self.workspace_messages_per_minute / 60 * self.time_scale

    def capacity(self, per_second: float) -> float:
        """How many tokens a bucket refilling at `per_second` holds: `burst_seconds` of it, at least one call."""
        return max(1.0, per_second * self.burst_seconds)

    def describe(self) -> dict[str, Any]:
        """The model's numbers as JSON (for /_fake/rates and benchmark output)."""
        return {
            "time_scale": self.time_scale,
            "tier_per_minute": {str(tier): rate for tier, rate in self.tier_per_minute.items()},
            "channel_per_second": self.channel_per_second,
            "workspace_messages_per_minute": self.workspace_messages_per_minute,
            "burst_seconds": self.burst_seconds,
        }


def minimum_seconds(model: RateModel, messages_per_workspace: Mapping[str, int]) -> float:
    """The least real time in which these numbers of chat.postMessage calls, each to a different channel
    (one DM per person), can all be accepted, counted from the first call with every bucket full.

    Only the workspace bucket binds: a channel gets one message, and its bucket holds at least one. That
    bucket (rate r per second, capacity C) accepts C calls at once and then one every 1/r seconds, so the
    n-th is accepted (n - C) / r seconds after the start, or at once when n <= C. Workspaces have their own
    buckets and send side by side, so the answer is the slowest workspace's:
    max over workspaces of max(0, (n - C) / r).
    """
    rate = model.workspace_messages_per_second
    capacity = model.capacity(rate)
    return max((max(0.0, (count - capacity) / rate) for count in messages_per_workspace.values()), default=0.0)


class _Bucket:
    """A token bucket: `level` tokens as of `updated`, refilling at `rate` per second up to `capacity`."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds from `now` until the bucket has a whole token (0: it has one now); refills it up to `now`."""
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.level >= 1 - _EPSILON else (1 - self.level) / self.rate

    def take(self) -> None:
        self.level = max(0.0, self.level - 1)


class RateLimiter:
    """Applies a `RateModel` to the fake's calls (`check`, asked by methods.answer) and counts what it
    allowed and refused, per method and per workspace (`stats`). Thread-safe: the fake's handler threads
    share one. `clock` gives seconds (time.monotonic; tests pass one they move by hand)."""

    def __init__(self, model: RateModel, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._allowed: Counter[tuple[str, str]] = Counter()  # (method, workspace) -> calls
        self._limited: Counter[tuple[str, str]] = Counter()

    def check(self, method: str, workspace: str, params: Mapping[str, Any]) -> int | None:
        """None when the call is within every limit that applies (it takes a token from each), else the
        whole seconds until it would be (at least 1), and it takes nothing."""
        with self._lock:
            now = self._clock()
            buckets = self._buckets_for(method, workspace, params, now)
            wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
            if wait > 0:
                self._limited[method, workspace] += 1
                return max(1, math.ceil(wait - _EPSILON))
            for bucket in buckets:
                bucket.take()
            self._allowed[method, workspace] += 1
            return None

    def _buckets_for(self, method: str, workspace: str, params: Mapping[str, Any], now: float) -> list[_Bucket]:
        if method == POST_MESSAGE:
            channel = str(params.get("channel") or "")
            if channel.startswith(("U", "W")):  # a user id posts to the app's DM with that person
                channel = dm_channel_of(channel)
            return [
                self._bucket(("channel", workspace, channel), self.model.channel_messages_per_second, now),
                self._bucket(("messages", workspace), self.model.workspace_messages_per_second, now),
            ]
        rate = self.model.method_per_second(method)
        return [] if rate is None else [self._bucket(("method", workspace, method), rate, now)]

    def _bucket(self, key: tuple[str, ...], rate: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, self.model.capacity(rate), now)
        return bucket

    def reset(self) -> None:
        """Forget the counts and refill every bucket (the fake's /_fake/reset, between benchmark runs)."""
        with self._lock:
            self._buckets.clear()
            self._allowed.clear()
            self._limited.clear()

    def stats(self) -> dict[str, Any]:
        """What was allowed and refused (429), in total, per method and per workspace, and the model, as JSON."""
        with self._lock:
            allowed, limited = Counter(self._allowed), Counter(self._limited)

        def tally(index: int) -> dict[str, dict[str, int]]:
            names = sorted({key[index] for key in allowed | limited})
            return {
                name: {
                    "allowed": sum(n for key, n in allowed.items() if key[index] == name),
                    "limited": sum(n for key, n in limited.items() if key[index] == name),
                }
                for name in names
            }

        return {
            "allowed": sum(allowed.values()),
            "limited": sum(limited.values()),
            "methods": tally(0),
            "workspaces": tally(1),
            "model": self.model.describe(),
        }
