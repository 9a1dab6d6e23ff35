"""Socket Mode: with SLACK_APP_TOKEN set, each server process opens its own WebSocket link to Slack and takes
Slack's requests over it, so the server needs no public URL. /healthz stays on PORT (bot/web/server.py).

The client is Bolt's built-in adapter (`slack_bolt.adapter.socket_mode.SocketModeHandler` on slack_sdk's
dependency-free `SocketModeClient`): on a `disconnect` message it opens the new link before it closes the old
one, so an answer still being computed goes out on the new link. Its one weak spot is a link that dies without
a close frame: it notices by failed pings, so PING_SECONDS is kept short.

What this module adds to the adapter:
- Each envelope is handled once per process (`HandledEnvelopes`). Slack delivers an envelope again when it
  did not get the ack (`retry_attempt` > 0): the ack may have been lost with a dropped link after the work
  was done (our listeners commit before they ack), so a redelivery of an envelope this process has taken is
  answered with the ack it produced the first time, not handled again. One that never reached this process
  is handled as new.
- `disconnect` reasons are logged as what they mean to an operator, and `link_disabled` (Socket Mode turned
  off in the app's settings) stops the adapter's fast reconnecting: Slack refuses new links until it is turned
  back on, so the process asks again once every LINK_DISABLED_RETRY_SECONDS (apps.connections.open is Tier 1).
- `SocketModeWSGI` refuses Slack's HTTP path: in Socket Mode nothing is signed for it (the signing secret
  is optional), so nothing may come in that way.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.config import Settings
from bot.web.server import EVENTS_PATH, Environ, StartResponse, WSGIApp

logger = logging.getLogger(__name__)

PING_SECONDS = 2.0  # the adapter's ping and link check: a silently dead link is replaced within a few of these
LINK_DISABLED_RETRY_SECONDS = 60.0
REMEMBER_SECONDS = 15 * 60.0  # Slack gives up on an envelope after 3 retries, within minutes
REDELIVERY_WAIT_SECONDS = 60.0  # a redelivery waits at most this long for the first delivery's answer


@dataclass
class _Handling:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    ack: SocketModeResponse | None = None


class HandledEnvelopes:
    """The envelopes this process has taken, and the ack each one produced, for a while. Thread-safe."""

    def __init__(self, remember_seconds: float = REMEMBER_SECONDS) -> None:
        self.remember_seconds = remember_seconds
        self._entries: dict[str, _Handling] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[_Handling, bool]:
        """(its record, True when this is the first time this process sees the envelope)."""
        now = time.monotonic()
        with self._lock:
            for old in [k for k, e in self._entries.items() if now - e.started > self.remember_seconds]:
                del self._entries[old]
            entry = self._entries.get(key)
            if entry is not None:
                return entry, False
            entry = self._entries[key] = _Handling(now)
            return entry, True

    def finish(self, key: str, entry: _Handling, ack: SocketModeResponse | None) -> None:
        entry.ack = ack
        entry.done.set()

    def forget(self, key: str, entry: _Handling) -> None:
        """Handling failed before an ack: a redelivery is handled afresh."""
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        entry.done.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def envelope_key(request: SocketModeRequest) -> str:
    """What stays the same when Slack delivers an envelope again: its envelope id, and for an event the
    event id too (Slack's retries of an event keep it)."""
    payload = request.payload if isinstance(request.payload, dict) else {}
    event_id = payload.get("event_id") if request.type == "events_api" else None
    return f"event:{payload.get('team_id', '')}:{event_id}" if event_id else f"envelope:{request.envelope_id}"


def ack_for(request: SocketModeRequest, response: BoltResponse) -> SocketModeResponse | None:
    """The ack Bolt's answer makes (as the adapter's own `send_response` builds it); None when Bolt did not
    answer 200, which Slack takes as a failure."""
    if response.status != 200:
        return None
    body = response.body or ""
    if not body:
        return SocketModeResponse(envelope_id=request.envelope_id)
    content_type = (response.headers.get("content-type") or [""])[0]
    payload = json.loads(body) if content_type.startswith("application/json") else {"text": body}
    return SocketModeResponse(envelope_id=request.envelope_id, payload=payload)


class LadderbotSocketModeHandler(SocketModeHandler):
    """Bolt's built-in Socket Mode adapter, handling each envelope once per process (see the module)."""

    client: SocketModeClient

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        concurrency: int = 10,
        ping_interval: float = PING_SECONDS,
        link_disabled_retry_seconds: float = LINK_DISABLED_RETRY_SECONDS,
    ) -> None:
        super().__init__(
            app, app_token, logger=logging.getLogger("slack_sdk.socket_mode"), ping_interval=ping_interval,
            concurrency=concurrency,
        )  # fmt: skip
        self.handled = HandledEnvelopes()
        self.link_disabled_retry_seconds = link_disabled_retry_seconds
        self.disabled = threading.Event()  # Slack turned Socket Mode off for the app
        self.redeliveries_answered = 0
        self.client.on_message_listeners.append(self._watch)

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        key = envelope_key(req)
        entry, first = self.handled.take(key)
        if not first:
            # taken before by this process: answer with the same ack once it is ready, do not handle it again
            if entry.done.wait(REDELIVERY_WAIT_SECONDS) and entry.ack is not None:
                self.redeliveries_answered += 1
                client.send_socket_mode_response(_same_ack(entry.ack, req.envelope_id))
            logger.info("envelope %s (%s) delivered again (retry %s): answered, not handled again",
                        req.envelope_id, req.type, req.retry_attempt)  # fmt: skip
            return
        try:
            response = run_bolt_app(self.app, req)
        except Exception:
            self.handled.forget(key, entry)
            raise
        ack = ack_for(req, response)
        if ack is None:
            self.handled.forget(key, entry)
            logger.warning("no ack for %s envelope %s: Bolt answered %s", req.type, req.envelope_id, response.status)
            return
        self.handled.finish(key, entry, ack)
        client.send_socket_mode_response(ack)

    def _watch(self, raw: str) -> None:
        """Runs on the receiving thread for every message, before the adapter acts on it."""
        if not raw.startswith("{") or '"disconnect"' not in raw:
            return
        try:
            message: dict[str, Any] = json.loads(raw)
        except ValueError:
            return
        if message.get("type") != "disconnect":
            return
        reason = str(message.get("reason") or "")
        if reason == "link_disabled":
            logger.error(
                "Slack turned Socket Mode off for this app (disconnect: link_disabled). Turn it on again in the "
                "app's settings (Socket Mode), or unset SLACK_APP_TOKEN and give Slack a request URL; asking "
                "Slack for a link again every %.0f s",
                self.link_disabled_retry_seconds,
            )
            self.client.auto_reconnect_enabled = False  # the adapter would retry every few seconds
            if not self.disabled.is_set():
                self.disabled.set()
                threading.Thread(target=self._reconnect_when_enabled, name="socket-mode-disabled", daemon=True).start()
        else:
            # warning: the link will be refreshed soon; refresh_requested: it closes shortly. The adapter opens
            # a new link either way, before it closes the old one
            logger.info("Slack asked for a new Socket Mode link (disconnect: %s); reconnecting", reason or "?")

    def _reconnect_when_enabled(self) -> None:
        while not self.client.closed:
            time.sleep(self.link_disabled_retry_seconds)
            if self.client.closed:
                return
            try:
                self.client.wss_uri = self.client.issue_new_wss_url()
                self.client.connect()  # turns the adapter's own reconnecting back on
            except SlackApiError as exc:
                logger.info("Socket Mode is still off for this app (%s)", exc.response.get("error"))
                continue
            self.disabled.clear()
            logger.info("Socket Mode is on again: connected")
            return


def _same_ack(ack: SocketModeResponse, envelope_id: str) -> SocketModeResponse:
    return SocketModeResponse(envelope_id=envelope_id, payload=ack.payload)


class SocketModeWSGI:
    """The server's HTTP side in Socket Mode: everything but Slack's HTTP path, which is refused."""

    def __init__(self, wsgi: WSGIApp, handler: LadderbotSocketModeHandler) -> None:
        self.wsgi = wsgi
        self.handler = handler

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == EVENTS_PATH:
            body = json.dumps({"error": "this server takes Slack's requests over Socket Mode"}).encode()
            start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.wsgi(environ, start_response)


def connect_socket_mode(app: App, settings: Settings, wsgi: WSGIApp) -> SocketModeWSGI:
    """In a server process, after the fork: open this process's own link to Slack (Slack allows 10 per app
    and gives each envelope to one of them) and return the HTTP side to serve alongside it. A refused
    app-level token stops the process with what to set."""
    handler = LadderbotSocketModeHandler(app, settings.slack_app_token, concurrency=settings.web_threads)
    try:
        handler.client.connect()
    except SlackApiError as exc:
        handler.client.close()
        error = exc.response.get("error")
        raise SystemExit(
            f"Slack refused SLACK_APP_TOKEN for Socket Mode ({error}): set it to an app-level token with the "
            "connections:write scope (Basic Information -> App-Level Tokens), and turn Socket Mode on."
        ) from None
    logger.info("connected to Slack over Socket Mode")
    return SocketModeWSGI(wsgi, handler)
