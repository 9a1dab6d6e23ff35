"""How the sandbox reaches the bot: signed requests posted over HTTP to the bot's own /slack/events, one
connection each, as Slack sends them; the answer read back as Slack's client reads an ack."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any

from bot.sandbox.payloads import signed

EVENTS_PATH = "/slack/events"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Ack:
    """The bot's HTTP answer: status, the JSON it carried (or {"text": ...} for plain text, {} when empty),
    and how long it took."""

    status: int
    body: dict[str, Any]
    seconds: float


class BotLink:
    def __init__(self, host: str, port: int, signing_secret: str) -> None:
        self.host, self.port, self.secret = host, port, signing_secret

    def post(self, body: bytes, *, content_type: str = FORM) -> Ack:
        request = signed(self.secret, body, content_type)
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("POST", EVENTS_PATH, body=request.body, headers=request.headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return Ack(response.status, _ack_body(raw), time.perf_counter() - started)


def _ack_body(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return data if isinstance(data, dict) else {"text": text}
