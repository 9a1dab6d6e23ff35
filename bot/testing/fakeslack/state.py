"""What the fake Slack holds: recorded calls and posts, the workspace's users, messages and files, and
the faults a test scripted. Shared by the HTTP handler threads, so every access goes through `lock`."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class RateCheck(Protocol):
    """What the fake asks of its rate model before answering a call."""

    def check(self, method: str, workspace: str, params: dict[str, Any]) -> int | None:
        """None: the call is within the limits (and counted); else the whole seconds of its Retry-After."""


@dataclass
class Call:
    """One Web API call as the fake saw it, with what it answered."""

    method: str
    params: dict[str, Any]
    token: str
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class User:
    """A workspace member, answered by users.info, users.list and users.lookupByEmail."""

    id: str
    team_id: str = "T0001"
    name: str = ""
    real_name: str = ""
    tz: str = "Europe/London"
    email: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name or self.id.lower(),
            "real_name": self.real_name or self.name or self.id,
            "deleted": self.deleted,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_bot": self.is_bot,
            "profile": {
                "email": self.email,
                "real_name": self.real_name or self.name or self.id,
                "display_name": self.name or self.id.lower(),
            },
        }


@dataclass
class Fault:
    """A scripted answer for the next calls of one method: an HTTP status, an error code, a delay."""

    status: int
    error: str | None
    retry_after: int | None
    remaining: int  # -1: until cleared
    delay: float


class SlackState:
    """Everything the fake remembers. `changed` (on `lock`) is notified whenever a call or a post to a
    response URL is recorded, so tests wait on a condition instead of sleeping."""

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        self.base_url = ""  # http://host:port, set once the server has bound its port
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # posts to response URLs
        self.uploads: dict[str, bytes] = {}
        self.files: dict[str, dict[str, Any]] = {}  # file id -> filename, title, channels, image size
        self.users: dict[str, User] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.faults: dict[str, list[Fault]] = {}
        self.delays: dict[str, float] = {}
        # Slack's rate limits, when modelled (bot.testing.fakeslack.ratelimit.RateLimiter); None: unlimited
        self.limiter: RateCheck | None = None
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.responses.clear()
            self.uploads.clear()
            self.files.clear()
            self.messages.clear()
            self.users.clear()
            self.faults.clear()
            self.delays.clear()

    def next_ts(self) -> str:
        """A message timestamp, unique and increasing, shaped like Slack's."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def next_id(self) -> int:
        return next(self._ids)

    def take_fault(self, method: str) -> tuple[Fault | None, float]:
        """The fault that answers this call of `method` (used up as it goes) and how long to wait first."""
        with self.lock:
            fault = None
            queue = self.faults.get(method, [])
            if queue:
                fault = queue[0]
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        queue.pop(0)
            return fault, self.delays.get(method, 0.0) + (fault.delay if fault else 0.0)

    def record_call(self, call: Call) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def record_response(self, payload: dict[str, Any]) -> None:
        with self.changed:
            self.responses.append(payload)
            self.changed.notify_all()

    def store_message(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        with self.lock:
            self.messages[(channel, ts)] = message
