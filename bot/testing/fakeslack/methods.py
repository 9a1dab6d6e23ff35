"""The fake's Web API: Slack's method names, response shapes and `ok: false` error codes.

`answer` runs one call the way Slack does: scripted faults first, then the token, then the method.
Each method is a plain function of the state and the call's parameters, listed in METHODS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.blocks.kit import blocks_problems, total_text
from bot.testing.fakeslack.oauth import oauth_answer
from bot.testing.fakeslack.socketmode import hub_for
from bot.testing.fakeslack.state import Call, SlackState
from bot.testing.fakeslack.wire import json_param, parse_body, png_size

MAX_MESSAGE_TEXT = 40_000
MAX_TOTAL_BLOCK_TEXT = 13_200  # where Slack was seen answering msg_blocks_too_long
MAX_VIEW_BLOCKS = 100
MAX_VIEW_JSON = 250_000
BAD_TOKENS = {"xoxb-invalid": "invalid_auth", "xoxb-revoked": "token_revoked"}
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})  # the methods an app-level (xapp-) token is for

Params = dict[str, Any]
Answer = dict[str, Any]
Method = Callable[[SlackState, Params], Answer]


def answer(state: SlackState, method: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Answer, dict[str, str]]:
    """(HTTP status, JSON body, extra headers) for one call to /api/<method>; the call is recorded."""
    lower = {k.lower(): v for k, v in headers.items()}
    params = parse_body(raw, lower.get("content-type", ""))
    auth = lower.get("authorization", "")
    token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else str(params.pop("token", ""))

    fault, delay = state.take_fault(method)
    if delay:
        time.sleep(delay)

    extra_headers: dict[str, str] = {}
    # Slack's rate limits (bot.testing.fakeslack.ratelimit), when the fake models them: per workspace, keyed
    # by the `team_id` an org-wide token names, else by the token
    retry_after = state.limiter.check(method, str(params.get("team_id") or token), params) if state.limiter else None
    if retry_after is not None:
        status = 429
        body: Answer = {"ok": False, "error": "ratelimited"}
        extra_headers["Retry-After"] = str(retry_after)
    elif fault is not None and (fault.status != 200 or fault.error):
        status = fault.status
        body = {"ok": False, "error": fault.error or "internal_error"}
        if fault.retry_after is not None:
            extra_headers["Retry-After"] = str(fault.retry_after)
    elif (oauth := oauth_answer(state, method, token, params, lower)) is not None:
        status, body = 200, oauth  # oauth.v2.access, and tokens the OAuth side handed out or revoked (oauth.py)
    elif not token:
        status, body = 200, {"ok": False, "error": "not_authed"}
    elif (method in APP_TOKEN_METHODS) != token.startswith("xapp-"):
        # an app-level token opens Socket Mode links and does nothing else; a bot token cannot open one
        status, body = 200, {"ok": False, "error": "not_allowed_token_type"}
    elif token in BAD_TOKENS or not token.startswith(("xoxb-", "xoxp-", "xapp-")):
        status, body = 200, {"ok": False, "error": BAD_TOKENS.get(token, "invalid_auth")}
    else:
        run = METHODS.get(method)
        if run is None:
            status, body = 404, {"ok": False, "error": "unknown_method"}
        else:
            status, body = 200, run(state, params)
    if method == "auth.test" and body.get("ok"):
        extra_headers["x-oauth-scopes"] = ",".join(state.granted_scopes)  # as Slack says what a token may do
    state.record_call(Call(method, params, token, time.time(), status, body))
    return status, body, extra_headers


def _message_problem(params: Params) -> Answer | None:
    """Slack's refusal for a message's text and blocks, or None when it would post."""
    text = params.get("text") or ""
    blocks = json_param(params.get("blocks"))
    if blocks is None and params.get("blocks") not in (None, ""):
        return {"ok": False, "error": "invalid_blocks_format"}
    if not text and not blocks:
        return {"ok": False, "error": "no_text"}
    if len(text) > MAX_MESSAGE_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if blocks:
        problems = blocks_problems(blocks, max_total_text=None)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        if total_text(blocks) > MAX_TOTAL_BLOCK_TEXT:
            return {"ok": False, "error": "msg_blocks_too_long"}
    return None


def dm_channel_of(user_id: str) -> str:
    """The DM channel between the app and `user_id`: the same id whether conversations.open returned it or
    chat.postMessage was given the user id (Slack keeps one DM per person and app)."""
    return "D" + user_id[1:]


def _dm_refusal(state: SlackState, user_id: str, *, unknown: str, disabled: str) -> str | None:
    """Slack's error for a DM to `user_id` that cannot be had, or None: `cannot_dm_bot` for a bot, and the
    method's own codes for a deactivated or an unknown person. An empty directory lets anyone through
    (tests that add no users)."""
    user = state.users.get(user_id)
    if user is None:
        return unknown if state.users else None
    if user.is_bot:
        return "cannot_dm_bot"
    if user.deleted:
        return disabled
    return None


def _post_channel(state: SlackState, params: Params) -> tuple[str | None, str | None]:
    """(channel, error) for a post: a user id (U..., W... on Enterprise Grid) means the app's DM with that
    person, and Slack answers with that D... channel; an id it cannot resolve is `channel_not_found`."""
    channel = str(params.get("channel") or "")
    if not channel:
        return None, "channel_not_found"
    if channel.startswith(("U", "W")):
        error = _dm_refusal(state, channel, unknown="channel_not_found", disabled="channel_not_found")
        return (None, error) if error else (dm_channel_of(channel), None)
    return channel, None


def api_test(state: SlackState, params: Params) -> Answer:
    return {"ok": True, "args": params}


def auth_test(state: SlackState, params: Params) -> Answer:
    return {
        "ok": True,
        "url": "https://fake.slack.test/",
        "team": "Fake",
        "user": "ladderbot",
        "team_id": state.team_id,
        "user_id": "UBOT",
        "bot_id": "BBOT",
        "is_enterprise_install": False,
    }


def chat_post_message(state: SlackState, params: Params) -> Answer:
    channel, error = _post_channel(state, params)
    if channel is None:
        return {"ok": False, "error": error}
    problem = _message_problem(params)
    if problem:
        return problem
    ts = state.next_ts()
    message = {
        "type": "message",
        "text": params.get("text", ""),
        "blocks": json_param(params.get("blocks")) or [],
        "ts": ts,
        "bot_id": "BBOT",
    }
    metadata = json_param(params.get("metadata"))
    if metadata:
        message["metadata"] = metadata
    state.store_message(channel, ts, message)
    return {"ok": True, "channel": channel, "ts": ts, "message": message}


def chat_post_ephemeral(state: SlackState, params: Params) -> Answer:
    if not params.get("user"):
        return {"ok": False, "error": "user_not_found"}
    channel, error = _post_channel(state, params)
    if channel is None:
        return {"ok": False, "error": error}
    problem = _message_problem(params)
    if problem:
        return problem
    content = {"text": params.get("text", ""), "blocks": json_param(params.get("blocks")) or [], "bot_id": "BBOT"}
    return {"ok": True, "message_ts": state.store_ephemeral(channel, str(params["user"]), content)}


def chat_delete(state: SlackState, params: Params) -> Answer:
    channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
    with state.changed:
        if state.messages.pop((channel, ts), None) is None:
            return {"ok": False, "error": "message_not_found"}
        state.note_change()
    return {"ok": True, "channel": channel, "ts": ts}


def chat_update(state: SlackState, params: Params) -> Answer:
    channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
    with state.lock:
        message = state.messages.get((channel, ts))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    problem = _message_problem(params)
    if problem:
        return problem
    with state.changed:
        message.update(text=params.get("text", ""), blocks=json_param(params.get("blocks")) or [])
        state.note_change()
    return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": message}


def conversations_open(state: SlackState, params: Params) -> Answer:
    users = [u for u in str(params.get("users", "")).split(",") if u]
    if not users:
        return {"ok": False, "error": "users_list_not_supplied"}
    if len(users) > 8:
        return {"ok": False, "error": "too_many_users"}
    for user_id in users:
        error = _dm_refusal(state, user_id, unknown="user_not_found", disabled="user_disabled")
        if error:
            return {"ok": False, "error": error}
    return {"ok": True, "channel": {"id": dm_channel_of(users[0])}}


def conversations_history(state: SlackState, params: Params) -> Answer:
    channel = str(params.get("channel", ""))
    limit = int(params.get("limit") or 100)
    with state.lock:
        found = [dict(m) for (c, _), m in state.messages.items() if c == channel]
    found.sort(key=lambda m: str(m["ts"]), reverse=True)
    if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
        for m in found:
            m.pop("metadata", None)
    return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}


def users_info(state: SlackState, params: Params) -> Answer:
    user = state.users.get(str(params.get("user", "")))
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "user": user.as_slack()}


def users_get_presence(state: SlackState, params: Params) -> Answer:
    user = state.users.get(str(params.get("user", "")))
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "presence": user.presence}


def users_list(state: SlackState, params: Params) -> Answer:
    limit = int(params.get("limit") or 200)
    start = int(params.get("cursor") or 0)
    users = list(state.users.values())
    page = users[start : start + limit]
    cursor = str(start + limit) if start + limit < len(users) else ""
    return {"ok": True, "members": [u.as_slack() for u in page], "response_metadata": {"next_cursor": cursor}}


def users_lookup_by_email(state: SlackState, params: Params) -> Answer:
    email = str(params.get("email", "")).lower()
    for user in state.users.values():
        if user.email.lower() == email and email:
            return {"ok": True, "user": user.as_slack()}
    return {"ok": False, "error": "users_not_found"}


def _view(state: SlackState, params: Params, *, needs_trigger: bool) -> Answer:
    view = json_param(params.get("view"))
    if not isinstance(view, dict):
        return {"ok": False, "error": "invalid_arguments"}
    if needs_trigger and not params.get("trigger_id"):
        return {"ok": False, "error": "invalid_trigger_id"}
    problems = blocks_problems(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS, max_total_text=None)
    if problems:
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
    if len(json.dumps(view)) > MAX_VIEW_JSON:
        return {"ok": False, "error": "view_too_large"}
    return {"ok": True, "view": {"id": f"V{state.next_id():08d}", **view}}


def views_open(state: SlackState, params: Params) -> Answer:
    answer = _view(state, params, needs_trigger=True)
    if answer["ok"]:
        state.open_view(str(params["trigger_id"]), answer["view"], push=False)
    return answer


def views_push(state: SlackState, params: Params) -> Answer:
    answer = _view(state, params, needs_trigger=True)
    if answer["ok"]:
        state.open_view(str(params["trigger_id"]), answer["view"], push=True)
    return answer


def views_update(state: SlackState, params: Params) -> Answer:
    answer = _view(state, params, needs_trigger=False)
    if answer["ok"]:
        view = {k: v for k, v in answer["view"].items() if k != "id"}
        shown = state.update_view(str(params.get("view_id") or ""), str(params.get("external_id") or ""), view)
        if shown is not None:  # the view keeps its id, as in Slack
            answer["view"] = shown
    return answer


def views_publish(state: SlackState, params: Params) -> Answer:
    if not params.get("user_id"):
        return {"ok": False, "error": "invalid_arguments"}
    answer = _view(state, params, needs_trigger=False)
    if answer["ok"]:
        state.publish_home(str(params["user_id"]), answer["view"])
    return answer


def files_get_upload_url_external(state: SlackState, params: Params) -> Answer:
    if not params.get("filename") or not params.get("length"):
        return {"ok": False, "error": "invalid_arguments"}
    file_id = f"F{state.next_id():08d}"
    with state.lock:
        state.files[file_id] = {"id": file_id, "name": str(params["filename"]), "title": "", "channels": []}
    return {"ok": True, "upload_url": f"{state.base_url}/upload/{file_id}", "file_id": file_id}


def files_complete_upload_external(state: SlackState, params: Params) -> Answer:
    files = json_param(params.get("files")) or []
    with state.lock:
        missing = [f.get("id") for f in files if f.get("id") not in state.uploads]
    if not files or missing:
        return {"ok": False, "error": "file_not_found"}
    channel = str(params.get("channel_id") or "")
    shared = []
    with state.lock:
        for f in files:
            info = state.files.setdefault(f["id"], {"id": f["id"], "name": "", "channels": []})
            info["title"] = f.get("title") or info["name"]
            info["image_size"] = png_size(state.uploads[f["id"]])  # None: not a PNG a viewer could open
            if channel:
                info["channels"].append(channel)
            shared.append({k: info[k] for k in ("id", "name", "title")})
    if channel:  # Slack posts the share as a message in the channel
        ts = state.next_ts()
        message: dict[str, Any] = {"ts": ts, "text": str(params.get("initial_comment") or ""), "files": shared}
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        state.store_message(channel, ts, message)
    return {"ok": True, "files": shared}


def chat_get_permalink(state: SlackState, params: Params) -> Answer:
    """A message's permalink, shaped as Slack's; the fake does not hold other people's messages, so any
    channel and ts get one."""
    channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    if not ts:
        return {"ok": False, "error": "message_not_found"}
    permalink = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return {"ok": True, "channel": channel, "permalink": permalink}


def apps_connections_open(state: SlackState, params: Params) -> Answer:
    """A one-use WebSocket URL on the fake's Socket Mode endpoint (bot.testing.fakeslack.socketmode)."""
    hub = hub_for(state)
    url = hub.open_url() if hub is not None else None
    if url is None:  # Socket Mode is off in the app's settings (or this fake runs without the endpoint)
        return {"ok": False, "error": "socket_mode_not_enabled"}
    return {"ok": True, "url": url}


METHODS: dict[str, Method] = {
    "apps.connections.open": apps_connections_open,
    "chat.getPermalink": chat_get_permalink,
    "api.test": api_test,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "users.info": users_info,
    "users.list": users_list,
    "users.getPresence": users_get_presence,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
