"""What the sandbox page asks of the server, and how each ask becomes what Slack's client would do.

The page sends a person's commands, clicks, submissions, closes and tab switches; `SandboxApi` turns each
into the request Slack would send the bot (bot/sandbox/payloads.py, posted by BotLink) and applies the
bot's answer where Slack's client applies it: a command's ack as an ephemeral or in-channel message, a
view_submission's `response_action` (errors under the fields, update, push, clear) on the person's modal
stack. What the bot does through the Web API lands in the fake Slack's state by itself; `state` renders
what the chosen person sees from there, waiting (long poll) until something changed.
"""

from __future__ import annotations

import html
import re
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox import payloads
from bot.sandbox.botlink import BotLink
from bot.sandbox.render import render_message, render_view
from bot.sandbox.timecontrol import JUMPS, MessageTimes, SandboxTime
from bot.sandbox.workspace import BOT_USER, GENERAL, MANAGER, PEOPLE, TEAM_ID, DemoPerson, Shortcut, dm_channel, person
from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.state import ResponseTarget

Json = dict[str, Any]
Result = tuple[str, Json]
CONVERSATIONS = ("dm", "home", "general")
LONG_POLL_SECONDS = 20.0
OK = "200 OK"
BAD = "400 Bad Request"
# a message's "More actions" button: the page lists the app's message shortcuts under it, as Slack does
MORE_BUTTON = (
    '<button type="button" class="sb-more" data-more aria-label="More actions" title="More actions">⋯</button>'
)
_MENTION = re.compile(r"(?<![\w<|@])@([A-Za-z0-9][\w.\-]*)")


def _bad(error: str) -> Result:
    return BAD, {"ok": False, "error": error}


def _ts_key(ts: str) -> tuple[int, int]:
    whole, _, part = ts.partition(".")
    return (int(whole) if whole.isdigit() else 0, int(part) if part.isdigit() else 0)


def escape_mentions(text: str) -> str:
    """What Slack makes of a command's text when the command escapes it (should_escape): @name of a member
    becomes <@U…|name>; anything else stays as typed."""
    names = {p.name: p.user_id for p in PEOPLE}

    def swap(match: re.Match[str]) -> str:
        user_id = names.get(match.group(1).lower())
        return f"<@{user_id}|{match.group(1).lower()}>" if user_id else match.group(0)

    return _MENTION.sub(swap, text)


class SandboxApi:
    def __init__(
        self,
        fake: FakeSlack,
        bot: BotLink,
        sandbox_time: SandboxTime,
        commands: tuple[tuple[str, str, str], ...],
        shortcuts: tuple[Shortcut, ...] = (),
        stamps: MessageTimes | None = None,
    ) -> None:
        self.fake = fake
        self.state = fake.state
        self.bot = bot
        self.time = sandbox_time
        self.commands = commands
        self.shortcuts = shortcuts
        self.stamps = stamps or MessageTimes(sandbox_time)
        self.errors: dict[str, dict[str, str]] = {}  # view id -> block id -> error shown under that field
        self._events = 0

    # --- routing --------------------------------------------------------------------------------------

    def handle(self, method: str, route: str, query: dict[str, str], body: Json) -> Result:
        if method == "GET" and route == "workspace":
            return OK, self.workspace()
        if method == "GET" and route == "state":
            return self.view_state(query)
        if method == "GET" and route == "log":
            return OK, self.log(int(query.get("after", "0") or 0) if query.get("after", "0").isdigit() else 0)
        if method != "POST":
            return "404 Not Found", {"ok": False, "error": f"no such route: {method} {route}"}
        who = person(str(body.get("user", "")))
        if who is None:
            return _bad("pick a person of the demo workspace")
        routes = {
            "command": self.command,
            "say": self.say,
            "shortcut": self.shortcut,
            "action": self.action,
            "submit": self.submit,
            "close": self.close,
            "home": self.open_home,
            "time": self.jump,
        }
        run = routes.get(route)
        if run is None:
            return "404 Not Found", {"ok": False, "error": f"no such route: POST {route}"}
        return run(who, body)

    # --- reading --------------------------------------------------------------------------------------

    def workspace(self) -> Json:
        return {
            "team": TEAM_ID,
            "people": [
                {
                    "id": p.user_id,
                    "name": p.name,
                    "real_name": p.real_name,
                    "tz": p.tz,
                    "role": p.role,
                    "title": p.title,
                    "away": p.away,
                }
                for p in PEOPLE
            ],
            "default_person": MANAGER.user_id,
            "commands": [{"command": c, "description": d, "usage_hint": u} for c, d, u in self.commands],
            "shortcuts": [
                {"name": s.name, "callback_id": s.callback_id, "description": s.description} for s in self.shortcuts
            ],
            "jumps": list(JUMPS),
        }

    def users(self) -> dict[str, str]:
        with self.state.lock:
            return {u.id: u.name or u.id for u in self.state.users.values()}

    def files(self) -> dict[str, str]:
        """Uploaded files by id, as URLs the page loads (GET /sandbox/files/<id>)."""
        with self.state.lock:
            return {file_id: f"/sandbox/files/{file_id}" for file_id in self.state.uploads}

    def view_state(self, query: dict[str, str]) -> Result:
        """What the person sees in one conversation, once the fake Slack's revision passes `since`."""
        who = person(query.get("user", ""))
        conv = query.get("conv", "dm")
        if who is None or conv not in CONVERSATIONS:
            return _bad("user must be a demo person and conv one of " + ", ".join(CONVERSATIONS))
        since = int(query["since"]) if query.get("since", "").isdigit() else -1
        wait = float(query.get("wait", LONG_POLL_SECONDS)) if query.get("wait", "").isdigit() else LONG_POLL_SECONDS
        deadline = time.monotonic() + min(wait, LONG_POLL_SECONDS)
        with self.state.changed:
            while self.state.revision <= since:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.state.changed.wait(left)
            revision = self.state.revision
        users, files = self.users(), self.files()
        if conv == "home":
            with self.state.lock:
                home = self.state.homes.get(who.user_id)
            body = (
                render_view(home, users=users, files=files) if home else '<p class="sb-empty">Opening the Home tab…</p>'
            )
        else:
            body = self.conversation_html(who, channel_of(who, conv), users, files)
        return OK, {
            "ok": True,
            "revision": revision,
            "conv": conv,
            "html": body,
            "modal": self.modal(who, users, files),
            "now": self.time.now().isoformat(),
            "now_label": _local_label(self.time.now(), who.tz),
            "log_size": len(self.state.calls),
            "unread": self.unread(who),
        }

    def unread(self, who: DemoPerson) -> dict[str, int]:
        """How many messages each conversation holds for the person (the page shows new ones as a badge)."""
        with self.state.lock:
            dm = sum(1 for (c, _) in self.state.messages if c == dm_channel(who.user_id))
            general = sum(1 for (c, _) in self.state.messages if c == GENERAL)
        return {"dm": dm, "general": general}

    def messages_for(self, who: DemoPerson, channel: str) -> list[tuple[Json, bool]]:
        """(message, ephemeral) in the order they were posted: the channel's messages and the ephemeral
        ones only this person sees there."""
        with self.state.lock:
            found = [(dict(m), False) for (c, _), m in self.state.messages.items() if c == channel]
            found += [
                (dict(e.message), True)
                for e in self.state.ephemerals.values()
                if e.channel == channel and e.user == who.user_id
            ]
        found.sort(key=lambda item: _ts_key(str(item[0].get("ts", ""))))
        return found

    def conversation_html(self, who: DemoPerson, channel: str, users: dict[str, str], files: dict[str, str]) -> str:
        rows = []
        today = self.time.now().astimezone(ZoneInfo(who.tz)).date()
        for message, ephemeral in self.messages_for(who, channel):
            ts = str(message.get("ts", ""))
            moment = self.stamps.at(ts)
            when = _message_label(moment, who.tz, today) if moment else ""
            sender = person(str(message.get("user") or "")) if not message.get("bot_id") else None
            if sender is None:
                avatar, name, tag = "lb", "ladderbot", ' <span class="sb-app-tag">APP</span>'
            else:
                avatar, name, tag = sender.real_name[:2], sender.real_name, ""
            stamp = f' datetime="{moment.isoformat()}"' if moment else ""
            rows.append(
                f'<article class="sb-message{" sb-ephemeral" if ephemeral else ""}" data-ts="{html.escape(ts)}"'
                f' data-channel="{html.escape(channel)}" data-ephemeral="{str(ephemeral).lower()}">'
                f'<div class="sb-avatar" aria-hidden="true">{html.escape(avatar)}</div><div class="sb-message-main">'
                f"<header><strong>{html.escape(name)}</strong>{tag} <time{stamp}>{html.escape(when)}</time>"
                f"{'' if ephemeral or not self.shortcuts else MORE_BUTTON}</header>"
                f"{render_message({**message, 'ephemeral': ephemeral}, users=users, files=files)}</div></article>"
            )
        if not rows:
            return '<p class="sb-empty">No messages yet. Type a command below.</p>'
        return "\n".join(rows)

    def modal(self, who: DemoPerson, users: dict[str, str], files: dict[str, str]) -> Json | None:
        with self.state.lock:
            stack = list(self.state.view_stacks.get(who.user_id, []))
        if not stack:
            return None
        view = stack[-1]
        view_id = str(view.get("id", ""))
        errors = self.errors.get(view_id, {})
        return {
            "view_id": view_id,
            "depth": len(stack),
            "html": render_view(view, users=users, files=files, errors=errors),
            "title": str((view.get("title") or {}).get("text", "")),
            "submit": str((view.get("submit") or {}).get("text", "")),
            "close": str((view.get("close") or {}).get("text", "Cancel")),
        }

    def log(self, after: int) -> Json:
        with self.state.lock:
            calls = list(enumerate(self.state.calls))[after:]
        return {
            "size": after + len(calls),
            "calls": [
                {"index": i, "method": c.method, "params": c.params, "status": c.status, "response": c.response}
                for i, c in calls
            ],
        }

    # --- acting ---------------------------------------------------------------------------------------

    def command(self, who: DemoPerson, body: Json) -> Result:
        line = str(body.get("text", "")).strip()
        conv = str(body.get("conv", "dm"))
        if conv not in ("dm", "general"):
            return _bad("commands are typed in the Messages tab or in #general")
        name, _, text = line.partition(" ")
        known = {c for c, _, _ in self.commands}
        if name not in known:
            return _bad(f"{name or 'that'} is not a command here; try {', '.join(sorted(known))}")
        channel = channel_of(who, conv)
        return OK, self.run_command(who, channel, name, text.strip())

    def say(self, who: DemoPerson, body: Json) -> Result:
        """A plain message from the person, posted in #general or the bot's DM. The app subscribes to no
        message events (manifest.yml), so, as in Slack, the bot hears nothing of it; its message shortcuts
        ("More actions") work on it."""
        text = str(body.get("text", "")).strip()
        conv = str(body.get("conv", "dm"))
        if conv not in ("dm", "general"):
            return _bad("messages are written in the Messages tab or in #general")
        if not text:
            return _bad("write something")
        channel = channel_of(who, conv)
        ts = self.state.next_ts()
        message = {"type": "message", "user": who.user_id, "text": text[:4000], "ts": ts, "team": TEAM_ID}
        self.state.store_message(channel, ts, message)
        return OK, {"ok": True, "ts": ts}

    def shortcut(self, who: DemoPerson, body: Json) -> Result:
        """One of the app's message shortcuts picked from a message's menu: a message_action payload."""
        callback_id = str(body.get("callback_id", ""))
        if callback_id not in {s.callback_id for s in self.shortcuts}:
            return _bad("the app has no such message shortcut")
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        found = self._message(who, channel, ts)
        if found is None:
            return _bad("that message is gone")
        message, ephemeral = found
        if ephemeral:
            return _bad("Slack offers no shortcuts on a message only you can see")
        if message.get("bot_id"):
            message = {**message, "user": BOT_USER}
        shown = {"type": "message", **{k: v for k, v in message.items() if k != "type"}}
        request = payloads.message_action(
            callback_id=callback_id,
            user_id=who.user_id,
            user_name=who.name,
            channel={"id": channel, "name": "general" if channel == GENERAL else "directmessage"},
            message=shown,
            trigger_id=self.state.new_trigger(who.user_id),
            response_url=self.state.response_url_for(ResponseTarget(channel, who.user_id)),
        )
        ack = self.bot.post(request)
        return OK, {"ok": ack.status == 200, "status": ack.status, "ms": round(ack.seconds * 1000, 1)}

    def run_command(self, who: DemoPerson, channel: str, name: str, text: str) -> Json:
        response_url = self.state.response_url_for(ResponseTarget(channel, who.user_id))
        request = payloads.slash_command(
            command=name,
            text=escape_mentions(text),
            user_id=who.user_id,
            user_name=who.name,
            channel_id=channel,
            channel_name="general" if channel == GENERAL else "directmessage",
            response_url=response_url,
            trigger_id=self.state.new_trigger(who.user_id),
        )
        ack = self.bot.post(request)
        if ack.status != 200:
            self.state.store_ephemeral(
                channel, who.user_id, {"text": f'{name} failed with the error "http_{ack.status}"'}
            )
        elif ack.body.get("text") or ack.body.get("blocks"):
            message = {"text": str(ack.body.get("text") or ""), "blocks": ack.body.get("blocks") or []}
            message["bot_id"] = payloads.BOT_ID
            if ack.body.get("response_type") == "in_channel":
                ts = self.state.next_ts()
                self.state.store_message(channel, ts, {"type": "message", "ts": ts, **message})
            else:
                self.state.store_ephemeral(channel, who.user_id, message)
        return {"ok": ack.status == 200, "status": ack.status, "ms": round(ack.seconds * 1000, 1)}

    def action(self, who: DemoPerson, body: Json) -> Result:
        source = str(body.get("source", "message"))
        block_id, action_id = str(body.get("block_id", "")), str(body.get("action_id", ""))
        values = [str(v) for v in body.get("values") or []]
        chosen = _chosen(body.get("inputs"))
        trigger = self.state.new_trigger(who.user_id)
        if source == "message":
            channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
            found = self._message(who, channel, ts)
            if found is None:
                return _bad("that message is gone")
            message, ephemeral = found
            element = payloads.find_element(message.get("blocks") or [], block_id, action_id)
            if element is None:
                return _bad("no such button or menu in that message")
            request = payloads.action(
                element=payloads.action_of(element, values),
                block_id=block_id,
                user_id=who.user_id,
                user_name=who.name,
                trigger_id=trigger,
                container={"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
                state_values=payloads.state_values(message.get("blocks") or [], chosen),
                channel={"id": channel, "name": "general" if channel == GENERAL else "directmessage"},
                message=None if ephemeral else {**message, "user": "UBOT", "team": TEAM_ID},
                response_url=self.state.response_url_for(ResponseTarget(channel, who.user_id, ts, ephemeral)),
            )
        else:
            view = self._view(who, source, str(body.get("view_id", "")))
            if view is None:
                return _bad("that view is closed")
            element = payloads.find_element(view.get("blocks") or [], block_id, action_id)
            if element is None:
                return _bad("no such button or menu in that view")
            state_values = payloads.state_values(view.get("blocks") or [], chosen)
            request = payloads.action(
                element=payloads.action_of(element, values),
                block_id=block_id,
                user_id=who.user_id,
                user_name=who.name,
                trigger_id=trigger,
                container={"type": "view", "view_id": view.get("id", "")},
                state_values=state_values,
                view=payloads.view_payload(view, state_values, user_id=who.user_id),
            )
        ack = self.bot.post(request)
        return OK, {"ok": ack.status == 200, "status": ack.status, "ms": round(ack.seconds * 1000, 1)}

    def submit(self, who: DemoPerson, body: Json) -> Result:
        view = self._view(who, "modal", str(body.get("view_id", "")))
        if view is None:
            return _bad("that modal is closed")
        view_id = str(view.get("id", ""))
        state_values = payloads.state_values(view.get("blocks") or [], _chosen(body.get("inputs")))
        request = payloads.view_submission(
            view, state_values, user_id=who.user_id, user_name=who.name, trigger_id=self.state.new_trigger(who.user_id)
        )
        ack = self.bot.post(request)
        answer = ack.body
        action = answer.get("response_action")
        errors: dict[str, str] = {}
        if ack.status != 200:
            errors = {"": f"The app answered {ack.status}; try again."}
        elif action == "errors":
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
        elif action == "update" and isinstance(answer.get("view"), dict):
            self.state.update_view(view_id, "", answer["view"])
        elif action == "push" and isinstance(answer.get("view"), dict):
            self.state.push_view(who.user_id, {**answer["view"], "id": f"V{self.state.next_id():08d}"})
        else:
            self.state.close_views(who.user_id, all_of_them=action == "clear")
        with self.state.changed:
            if errors:
                self.errors[view_id] = errors
            else:
                self.errors.pop(view_id, None)
            self.state.note_change()
        return OK, {"ok": not errors, "errors": errors, "ms": round(ack.seconds * 1000, 1)}

    def close(self, who: DemoPerson, body: Json) -> Result:
        view = self._view(who, "modal", str(body.get("view_id", "")))
        if view is None:
            return OK, {"ok": True}
        self.state.close_views(who.user_id, all_of_them=False)
        if view.get("notify_on_close"):
            state_values = payloads.state_values(view.get("blocks") or [], _chosen(body.get("inputs")))
            self.bot.post(payloads.view_closed(view, state_values, user_id=who.user_id, user_name=who.name))
        return OK, {"ok": True}

    def open_home(self, who: DemoPerson, body: Json) -> Result:
        with self.state.lock:
            home = self.state.homes.get(who.user_id)
            self._events += 1
            event_id = f"Ev0SANDBOX{self._events:06d}"
        inner = payloads.app_home_opened(who.user_id, dm_channel(who.user_id), home)
        ack = self.bot.post(payloads.event(inner, event_id=event_id), content_type="application/json")
        return OK, {"ok": ack.status == 200, "status": ack.status}

    def jump(self, who: DemoPerson, body: Json) -> Result:
        jump = str(body.get("jump", ""))
        if jump not in JUMPS:
            return _bad("jump must be one of " + ", ".join(JUMPS))
        done = self.time.jump(jump, who.user_id, who.tz)
        with self.state.changed:
            self.state.note_change()  # the page shows the new time even when the pass sent nothing
        return OK, {
            "ok": True,
            "before": done.before.isoformat(),
            "after": done.after.isoformat(),
            "now_label": _local_label(done.after, who.tz),
            "report": done.report,
        }

    def invite_on_start(self, user_ids: tuple[str, ...]) -> None:
        """The demo's pending invitations: the manager runs /growth team add for them, so the reports get a
        real invitation DM to answer."""
        if user_ids:
            mentions = " ".join(f"<@{u}>" for u in user_ids)
            self.run_command(MANAGER, dm_channel(MANAGER.user_id), "/growth", f"team add {mentions}")

    # --- lookups --------------------------------------------------------------------------------------

    def _message(self, who: DemoPerson, channel: str, ts: str) -> tuple[Json, bool] | None:
        """A message `who` can see: in #general or their own DM with the bot (never another person's DM)."""
        if channel not in (GENERAL, dm_channel(who.user_id)):
            return None
        with self.state.lock:
            stored = self.state.messages.get((channel, ts))
            if stored is not None:
                return dict(stored), False
            ephemeral = self.state.ephemerals.get(ts)
            if ephemeral is not None and ephemeral.user == who.user_id and ephemeral.channel == channel:
                return dict(ephemeral.message), True
        return None

    def _view(self, who: DemoPerson, source: str, view_id: str) -> Json | None:
        with self.state.lock:
            if source == "home":
                home = self.state.homes.get(who.user_id)
                return dict(home) if home else None
            stack = self.state.view_stacks.get(who.user_id, [])
            if stack and str(stack[-1].get("id", "")) == view_id:
                return dict(stack[-1])
        return None


def _chosen(inputs: Any) -> dict[tuple[str, str], list[str]]:
    """The page's [{block_id, action_id, values}] as {(block_id, action_id): values}."""
    out: dict[tuple[str, str], list[str]] = {}
    for item in inputs if isinstance(inputs, list) else []:
        if isinstance(item, dict):
            key = (str(item.get("block_id", "")), str(item.get("action_id", "")))
            out[key] = [str(v) for v in item.get("values") or [] if v is not None]
    return out


def _local_label(moment: datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return local.strftime("%a %d %b %Y, %H:%M ") + tz.rsplit("/", 1)[-1].replace("_", " ")


def channel_of(who: DemoPerson, conv: str) -> str:
    """The channel id of a conversation the page names ("general", else the person's DM with the bot)."""
    return GENERAL if conv == "general" else dm_channel(who.user_id)


def _message_label(moment: datetime, tz: str, today: date) -> str:
    """A message's time as the person's clock showed it in the sandbox: "14:05" today, else with its day."""
    local = moment.astimezone(ZoneInfo(tz))
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%a %d %b, %H:%M")
