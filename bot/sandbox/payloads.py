"""Requests to the bot, shaped and signed exactly as Slack shapes and signs them: slash commands,
block_actions, message shortcuts (message_action), view_submission, view_closed and the app_home_opened event.

Pure functions of plain data (no I/O), so the shapes are tested field by field without a browser. The
sandbox posts the bodies to the bot's own /slack/events over HTTP, where Bolt checks the v0 signature as
it checks Slack's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from bot.sandbox.workspace import BOT_USER, TEAM_DOMAIN, TEAM_ID

APP_ID = "A0SANDBOX"
BOT_ID = "BBOT"
VERIFICATION_TOKEN = "sandbox-verification-token"  # Slack still sends one; Bolt ignores it

Json = dict[str, Any]


@dataclass(frozen=True)
class SignedRequest:
    """A body and the headers Slack sends with it."""

    body: bytes
    headers: dict[str, str]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(secret: str, body: bytes, content_type: str, timestamp: int | None = None) -> SignedRequest:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return SignedRequest(
        body,
        {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(secret, body, timestamp),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        },
    )


def _user(user_id: str, name: str) -> Json:
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def _team() -> Json:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _form_payload(payload: Json) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def slash_command(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    trigger_id: str,
) -> bytes:
    """The form Slack posts for a slash command."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urllib.parse.urlencode(fields).encode()


def action(
    *,
    element: Json,
    block_id: str,
    user_id: str,
    user_name: str,
    trigger_id: str,
    container: Json,
    state_values: Json,
    channel: Json | None = None,
    message: Json | None = None,
    view: Json | None = None,
    response_url: str | None = None,
) -> bytes:
    """A block_actions payload for one click or choice. `element` is the action as Slack reports it
    (see `action_of`); a message's container carries its channel, ts and is_ephemeral, a view's its view id."""
    payload: Json = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel is not None:
        payload["channel"] = channel
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    payload["state"] = {"values": state_values}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [{**element, "block_id": block_id, "action_ts": f"{time.time():.6f}"}]
    return _form_payload(payload)


def message_action(
    *,
    callback_id: str,
    user_id: str,
    user_name: str,
    channel: Json,
    message: Json,
    trigger_id: str,
    response_url: str,
) -> bytes:
    """A message shortcut's payload (type message_action), as Slack sends it when someone picks the app's
    shortcut from a message's "More actions" menu: the message itself, where it is, and a trigger for a modal."""
    payload: Json = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": _team(),
        "user": {"id": user_id, "name": user_name},
        "channel": channel,
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": str(message.get("ts", "")),
        "message": message,
    }
    return _form_payload(payload)


def view_payload(view: Json, state_values: Json, *, user_id: str) -> Json:
    """A view as Slack sends it back with an interaction: the view as shown, plus its state and ids."""
    return {
        "id": view.get("id", ""),
        "team_id": TEAM_ID,
        "type": view.get("type", "modal"),
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": state_values},
        "hash": f"{int(time.time())}.{hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:8]}",
        "title": view.get("title", {"type": "plain_text", "text": ""}),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": view.get("id", ""),
        "app_id": APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }


def view_submission(view: Json, state_values: Json, *, user_id: str, user_name: str, trigger_id: str) -> bytes:
    payload = {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view_payload(view, state_values, user_id=user_id),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form_payload(payload)


def view_closed(view: Json, state_values: Json, *, user_id: str, user_name: str, is_cleared: bool = False) -> bytes:
    payload = {
        "type": "view_closed",
        "team": _team(),
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": view_payload(view, state_values, user_id=user_id),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form_payload(payload)


def event(inner: Json, *, event_id: str) -> bytes:
    """An Events API envelope (JSON, not a form)."""
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": TEAM_ID, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
        }
    ).encode()


def app_home_opened(user_id: str, channel_id: str, view: Json | None) -> Json:
    inner: Json = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        inner["view"] = view
    return inner


# --- what the person chose, as Slack reports it ----------------------------------------------------------


def find_element(blocks: list[Json], block_id: str, action_id: str) -> Json | None:
    """The interactive element `action_id` in block `block_id`, as the page names them: a block without a
    block_id is "b<index>", an element without an action_id "a<position in its block>" (Slack makes up ids
    for both)."""
    for index, block in enumerate(blocks):
        if str(block.get("block_id") or f"b{index}") != block_id:
            continue
        candidates: list[Json] = []
        if isinstance(block.get("element"), dict):
            candidates.append(block["element"])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        candidates.extend(e for e in block.get("elements", []) if isinstance(e, dict))
        for position, element in enumerate(candidates):
            if str(element.get("action_id") or f"a{position}") == action_id:
                return element
    return None


def _options(element: Json) -> list[Json]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _chosen(element: Json, values: list[str]) -> list[Json]:
    """The options of `element` whose values were chosen, in the element's order; unknown values are dropped
    (the page can only offer what the view listed)."""
    return [option for option in _options(element) if option.get("value") in values]


def state_value(element: Json, values: list[str]) -> Json:
    """One element's entry in state.values, as Slack writes it for the element's type."""
    kind = str(element.get("type", ""))
    first = values[0] if values else None
    if kind == "plain_text_input" or kind in ("number_input", "email_text_input", "url_text_input"):
        return {"type": kind, "value": first if first else None}
    if kind in ("static_select", "radio_buttons", "external_select", "overflow"):
        chosen = _chosen(element, values[:1])
        return {"type": kind, "selected_option": chosen[0] if chosen else None}
    if kind in ("multi_static_select", "checkboxes", "multi_external_select"):
        return {"type": kind, "selected_options": _chosen(element, values)}
    if kind == "timepicker":
        return {"type": kind, "selected_time": first or None}
    if kind == "datepicker":
        return {"type": kind, "selected_date": first or None}
    if kind in ("users_select", "conversations_select", "channels_select"):
        key = {"users_select": "selected_user", "conversations_select": "selected_conversation"}.get(
            kind, "selected_channel"
        )
        return {"type": kind, key: first}
    if kind.startswith("multi_") and kind.endswith("_select"):
        return {"type": kind, "selected_" + kind[len("multi_") : -len("_select")]: values}  # selected_users
    return {"type": kind, "value": first}


def state_values(blocks: list[Json], chosen: dict[tuple[str, str], list[str]]) -> Json:
    """state.values for a view or a message: every input element with what the person chose (Slack lists an
    input even when nothing is chosen), from `chosen` keyed by (block_id, action_id)."""
    out: Json = {}
    for index, block in enumerate(blocks):
        block_id = str(block.get("block_id") or f"b{index}")
        elements: list[Json] = []
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            elements.append(block["element"])
        elif block.get("type") == "actions":
            elements.extend(e for e in block.get("elements", []) if isinstance(e, dict) and e.get("type") != "button")
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            if block["accessory"].get("type") not in ("button", "image", "overflow"):
                elements.append(block["accessory"])
        for element in elements:
            action_id = str(element.get("action_id") or "")
            if (block_id, action_id) in chosen:
                values = chosen[(block_id, action_id)]
            else:
                values = _initial(element)
            out.setdefault(block_id, {})[action_id] = state_value(element, values)
    return out


def _initial(element: Json) -> list[str]:
    """What an element holds before anyone touches it."""
    if "initial_option" in element:
        return [str(element["initial_option"].get("value"))]
    if "initial_options" in element:
        return [str(o.get("value")) for o in element["initial_options"]]
    for key in ("initial_value", "initial_time", "initial_date", "initial_user", "initial_conversation"):
        if element.get(key):
            return [str(element[key])]
    return []


def action_of(element: Json, values: list[str]) -> Json:
    """The `actions[0]` entry Slack sends when `element` is clicked or changed (block_id and action_ts are
    added by `action`)."""
    kind = str(element.get("type", "button"))
    out: Json = {"action_id": element.get("action_id", ""), "type": kind}
    if kind == "button":
        out["text"] = element.get("text", {"type": "plain_text", "text": ""})
        if "value" in element:
            out["value"] = element["value"]
        if "style" in element:
            out["style"] = element["style"]
        if "url" in element:
            out["url"] = element["url"]
        return out
    state = state_value(element, values)
    out.update({k: v for k, v in state.items() if k != "type"})
    if "placeholder" in element:
        out["placeholder"] = element["placeholder"]
    return out
