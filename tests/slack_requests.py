"""Requests signed and shaped exactly as Slack sends them (v0 signatures)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

SIGNING_SECRET = "test-signing-secret"


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = "U0001",
    team_id: str = "T0001",
    response_url: str = "https://hooks.slack.test/commands/1",
    channel_id: str = "C0001",
) -> bytes:
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1337.42.abcdef",
    }
    return urllib.parse.urlencode(fields).encode()


def block_action_body(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0001",
    team_id: str = "T0001",
    response_url: str = "https://hooks.slack.test/actions/1",
    channel_id: str = "C0001",
    message_ts: str = "1700000000.000100",
    container_type: str = "message",
) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0001",
        "token": "verification-token-unused",
        "container": {
            "type": container_type,
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": channel_id.startswith("C"),
        },
        "trigger_id": "1337.42.abcdef",
        "channel": {"id": channel_id, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class SlackSender:
    """Posts to a running ladderbot, one new connection per request as Slack does."""

    def __init__(self, host: str, port: int, secret: str = SIGNING_SECRET):
        self.host, self.port, self.secret = host, port, secret

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
        path: str = "/slack/events",
        extra_headers: dict[str, str] | None = None,
    ) -> Reply:
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature if signature is not None else sign(body, timestamp, self.secret),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        headers.update(extra_headers or {})
        return self.raw("POST", path, body, headers)

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return Reply(
                response.status, data, {k.lower(): v for k, v in response.getheaders()}, time.perf_counter() - started
            )
        finally:
            connection.close()

    def command(self, command: str, text: str = "", **kwargs: Any) -> Reply:
        return self.post(slash_command_body(command, text, **kwargs))

    def action(self, action_id: str, value: str, **kwargs: Any) -> Reply:
        return self.post(block_action_body(action_id, value, **kwargs))


def view_submission_body(
    callback_id: str,
    values: dict[str, Any],
    *,
    private_metadata: str = "",
    user_id: str = "U0001",
    team_id: str = "T0001",
) -> bytes:
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0001",
        "token": "verification-token-unused",
        "trigger_id": "1337.42.view",
        "view": {
            "id": "V0001",
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": "1.abc",
            "title": {"type": "plain_text", "text": "x"},
            "app_id": "A0001",
            "bot_id": "BBOT",
        },
        "response_urls": [],
    }
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


def event_body(event: dict[str, Any], *, team_id: str = "T0001", event_id: str = "Ev0001") -> bytes:
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": team_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "UBOT", "is_bot": True}],
        }
    ).encode()
