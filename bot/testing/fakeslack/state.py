"""What the fake Slack holds: recorded calls and posts, the workspace's users, messages and files, and
the faults a test scripted. Shared by the HTTP handler threads, so every access goes through `lock`.

What Slack's client keeps per person is held here too, for the sandbox page (bot/sandbox) that plays that
client: ephemeral messages (seen by one person only), each person's stack of open modals and App Home
view, the trigger ids handed out with interactions, and what each response_url points at, so a post to it
replaces, deletes or adds a message the way Slack does."""

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
    presence: str = "active"  # users.getPresence: "active" or "away"
    status_text: str = ""
    status_emoji: str = ""
    # Enterprise Grid: the organisation and the workspaces of it the user is in (users.info's enterprise_user)
    enterprise_id: str = ""
    teams: tuple[str, ...] = ()

    def as_slack(self) -> dict[str, Any]:
        grid = (
            {"enterprise_user": {"id": self.id, "enterprise_id": self.enterprise_id, "teams": list(self.teams)}}
            if self.enterprise_id
            else {}
        )
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
                "status_text": self.status_text,
                "status_emoji": self.status_emoji,
            },
            **grid,
        }


@dataclass
class Fault:
    """A scripted answer for the next calls of one method: an HTTP status, an error code, a delay."""

    status: int
    error: str | None
    retry_after: int | None
    remaining: int  # -1: until cleared
    delay: float


@dataclass(frozen=True)
class ResponseTarget:
    """Where a response_url leads: the message an interaction came from (ts empty for a slash command, which
    has none), in which channel, for whom, and whether that message is ephemeral."""

    channel: str
    user: str
    ts: str = ""
    ephemeral: bool = False


@dataclass
class Ephemeral:
    """A message only `user` sees, in `channel` (chat.postEphemeral, or a response_url or command answer)."""

    channel: str
    user: str
    message: dict[str, Any]


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


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
        # the bot scopes auth.test reports as granted (its x-oauth-scopes header): manifest.yml's, unless a test
        # takes some away (ladderbot doctor compares them)
        self.granted_scopes = [
            *("commands", "chat:write", "im:write", "im:history", "users:read", "users:read.email", "files:write")
        ]
        # what Slack's client shows each person (the sandbox page reads these)
        self.ephemerals: dict[str, Ephemeral] = {}  # ts -> message
        self.view_stacks: dict[str, list[dict[str, Any]]] = {}  # user -> open modals, the top one last
        self.homes: dict[str, dict[str, Any]] = {}  # user -> App Home view (views.publish)
        self.triggers: dict[str, str] = {}  # trigger_id -> user it was handed to
        self.response_targets: dict[str, ResponseTarget] = {}  # response_url id -> what it answers
        self.revision = 0  # counts every change, so a page can wait for the next one
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
            self.ephemerals.clear()
            self.view_stacks.clear()
            self.homes.clear()
            self.triggers.clear()
            self.response_targets.clear()
            self.note_change()

    def note_change(self) -> None:
        """Something changed (call with `lock` held): wake whoever waits on `changed`."""
        self.revision += 1
        self.changed.notify_all()

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
            self.note_change()

    def record_response(self, payload: dict[str, Any]) -> None:
        """A post to a response URL; when the URL was handed out with a known target, it acts on the
        messages as Slack does (see `_apply_response`)."""
        with self.changed:
            self.responses.append(payload)
            target = self.response_targets.get(str(payload.get("url_id", "")))
            if target is not None:
                self._apply_response(target, payload)
            self.note_change()

    def _apply_response(self, target: ResponseTarget, payload: dict[str, Any]) -> None:
        """delete_original removes the message the interaction came from, replace_original rewrites it in
        place; otherwise a new message: in the channel for everyone when response_type is in_channel,
        else ephemeral for the person who clicked or typed."""
        from_message = bool(target.ts)
        if from_message and _true(payload.get("delete_original")):
            self.messages.pop((target.channel, target.ts), None)
            self.ephemerals.pop(target.ts, None)
            return
        content = {"text": str(payload.get("text") or ""), "blocks": payload.get("blocks") or []}
        if from_message and _true(payload.get("replace_original")):
            original = self.messages.get((target.channel, target.ts))
            if original is None and target.ts in self.ephemerals:
                original = self.ephemerals[target.ts].message
            if original is not None:
                original.update(content)
                return
        ts = self.next_ts()
        message = {"type": "message", "ts": ts, "bot_id": "BBOT", **content}
        if payload.get("response_type") == "in_channel":
            self.messages[(target.channel, ts)] = message
        else:
            self.ephemerals[ts] = Ephemeral(target.channel, target.user, message)

    def store_message(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        with self.changed:
            self.messages[(channel, ts)] = message
            self.note_change()

    def store_ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> str:
        """Keep a message only `user` sees in `channel`; its ts."""
        with self.changed:
            ts = self.next_ts()
            self.ephemerals[ts] = Ephemeral(channel, user, {"type": "message", "ts": ts, **message})
            self.note_change()
            return ts

    def response_url_for(self, target: ResponseTarget) -> str:
        """A new response URL whose posts act on `target`."""
        url_id = str(self.next_id())
        with self.lock:
            self.response_targets[url_id] = target
        return f"{self.base_url}/response/{url_id}"

    def new_trigger(self, user: str) -> str:
        """A trigger id handed to `user` with an interaction; views.open and views.push with it open modals
        for them."""
        trigger = f"{self.next_id()}.{int(time.time())}.sandbox"
        with self.lock:
            self.triggers[trigger] = user
        return trigger

    # each person's modals: views.open/push/update do these, and so do view_submission answers
    # (response_action clear, update, push), as Slack's client would

    def open_view(self, trigger: str, view: dict[str, Any], *, push: bool) -> None:
        with self.changed:
            user = self.triggers.get(trigger)
            if user is None:
                return  # a trigger the fake never handed out (tests make up their own): nobody sees it
            stack = self.view_stacks.setdefault(user, [])
            if not push:
                stack.clear()
            stack.append(view)
            self.note_change()

    def update_view(self, view_id: str, external_id: str, view: dict[str, Any]) -> dict[str, Any] | None:
        """Replace the open view with this id (or external id) in whoever's stack holds it; the stored view,
        or None when no stack holds it."""

        def matches(shown: dict[str, Any]) -> bool:
            return bool(view_id and shown.get("id") == view_id) or bool(
                external_id and shown.get("external_id") == external_id
            )

        with self.changed:
            for stack in self.view_stacks.values():
                for index, shown in enumerate(stack):
                    if matches(shown):
                        stack[index] = {**view, "id": shown["id"]}
                        self.note_change()
                        return stack[index]
            for user, home in self.homes.items():
                if matches(home):
                    self.homes[user] = {**view, "id": home["id"]}
                    self.note_change()
                    return self.homes[user]
            return None

    def push_view(self, user: str, view: dict[str, Any]) -> None:
        with self.changed:
            self.view_stacks.setdefault(user, []).append(view)
            self.note_change()

    def close_views(self, user: str, *, all_of_them: bool) -> None:
        """The top modal closes (submitted or cancelled), or the whole stack (response_action clear)."""
        with self.changed:
            stack = self.view_stacks.get(user, [])
            if all_of_them:
                stack.clear()
            elif stack:
                stack.pop()
            self.note_change()

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        with self.changed:
            self.homes[user] = view
            self.note_change()
