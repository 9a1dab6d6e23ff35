"""Socket Mode: with SLACK_APP_TOKEN set, each server process opens its own WebSocket link to Slack and takes
Slack's requests over it, so the server needs no public URL. /healthz stays on PORT (bot/web/server.py).

The client is Bolt's built-in adapter (`slack_bolt.adapter.socket_mode.SocketModeHandler` on slack_sdk's
dependency-free `SocketModeClient`): on a `disconnect` message it opens the new link before it closes the old
one, so an answer still being computed goes out on the new link. Its one weak spot is a link that dies without
a close frame: it notices by failed pings, so PING_SECONDS is kept short.

What this module adds to the adapter:
- Each envelope is handled once per server (`HandledEnvelopes`, shared by its processes). Slack delivers an
  envelope again when it did not get the ack (`retry_attempt` > 0). That says the ack went missing, not that
  the work did: our listeners commit before they ack, so the work may be done and the ack lost with a dropped
  link. A redelivery of an envelope the server has taken is therefore answered with the ack it produced the
  first time (a command's answer included), once that is ready, and not handled again; one that never reached
  the server is handled as new; one whose first handler failed before its ack, or whose process died, is
  handled again.
- `disconnect` reasons are logged as what they mean to an operator, and `link_disabled` (Socket Mode turned
  off in the app's settings) stops the adapter's fast reconnecting: Slack refuses new links until it is turned
  back on, so the process asks again once every LINK_DISABLED_RETRY_SECONDS (apps.connections.open is Tier 1).
- `SocketModeWSGI` refuses Slack's HTTP path: in Socket Mode nothing is signed for it (the signing secret
  is optional), so nothing may come in that way.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
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
SLACK_MAX_LINKS = 10  # Socket Mode connections Slack allows an app at once; each server process holds one


class HandledEnvelopes:
    """The envelopes this server's processes have taken, and the ack each produced, kept for a while.

    Slack may deliver an envelope again on another process's link, so the record is shared: a small SQLite file
    (the standard library's sqlite3, not the bot's database: a scratch record of this server's own, which needs
    no schema migration) made by the server's first process before the fork (`create`) and opened by every
    process after it. Processes of one server share a machine; separate servers (other machines) do not share it.
    """

    def __init__(self, path: Path, remember_seconds: float = REMEMBER_SECONDS) -> None:
        self.path = path
        self.remember_seconds = remember_seconds
        self._owner = os.getpid()  # whose file this is: only that process removes it
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls) -> HandledEnvelopes:
        """In the server's first process, before any fork: a fresh, empty record for this server only."""
        fd, name = tempfile.mkstemp(prefix="ladderbot-envelopes-", suffix=".sqlite3")
        os.close(fd)
        return cls(Path(name))

    def remove(self) -> None:
        """Once the server stops; a forked process leaving the same code path removes nothing."""
        if os.getpid() == self._owner:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _connection(self) -> sqlite3.Connection:
        """Opened on first use, in the process that uses it (never across a fork). Call with the lock held."""
        if self._db is None or self._owner != os.getpid():
            self._owner = os.getpid()
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS envelopes (key TEXT PRIMARY KEY, owner INTEGER NOT NULL,"
                " taken REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0, ack TEXT)"
            )
            self._db = db
        return self._db

    def take(self, key: str) -> bool:
        """True when this process now handles the envelope: nobody had taken it (or forgot it)."""
        now = time.time()
        with self._lock:
            db = self._connection()
            db.execute("DELETE FROM envelopes WHERE taken < ?", (now - self.remember_seconds,))
            return self.take_locked(db, key)

    def finish(self, key: str, ack_payload: dict[str, Any] | None) -> None:
        with self._lock:
            self._connection().execute(
                "UPDATE envelopes SET done = 1, ack = ? WHERE key = ?", (json.dumps(ack_payload), key)
            )

    def forget(self, key: str) -> None:
        """Handling failed before an ack: a redelivery is handled afresh."""
        with self._lock:
            self._connection().execute("DELETE FROM envelopes WHERE key = ? AND done = 0", (key,))

    def first_answer(self, key: str, timeout: float = REDELIVERY_WAIT_SECONDS) -> FirstAnswer:
        """For an envelope taken before: the ack payload it produced once it is ready, or TAKE_IT when this
        process should handle it after all (the first one forgot it, or its process is gone), or WAIT_LONGER."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                db = self._connection()
                row = db.execute("SELECT owner, done, ack FROM envelopes WHERE key = ?", (key,)).fetchone()
                if row is None:
                    if self.take_locked(db, key):
                        return TAKE_IT
                    continue
                owner, done, ack = row
                if done:
                    return Answered(json.loads(ack))
                if owner != os.getpid() and not _alive(owner):
                    moved = db.execute(
                        "UPDATE envelopes SET owner = ?, taken = ? WHERE key = ? AND owner = ? AND done = 0",
                        (os.getpid(), time.time(), key, owner),
                    )
                    if moved.rowcount == 1:
                        return TAKE_IT
            time.sleep(0.02)
        return WAIT_LONGER

    @staticmethod
    def take_locked(db: sqlite3.Connection, key: str) -> bool:
        taken = db.execute(
            "INSERT OR IGNORE INTO envelopes (key, owner, taken) VALUES (?, ?, ?)", (key, os.getpid(), time.time())
        )
        return taken.rowcount == 1


@dataclass(frozen=True)
class Answered:
    """The ack payload a first delivery produced (None: an ack with no payload)."""

    payload: dict[str, Any] | None


TAKE_IT = "take it"
WAIT_LONGER = "wait longer"
FirstAnswer = Answered | str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        handled: HandledEnvelopes,
        *,
        concurrency: int = 10,
        ping_interval: float = PING_SECONDS,
        link_disabled_retry_seconds: float = LINK_DISABLED_RETRY_SECONDS,
    ) -> None:
        super().__init__(
            app, app_token, logger=logging.getLogger("slack_sdk.socket_mode"), ping_interval=ping_interval,
            concurrency=concurrency,
        )  # fmt: skip
        self.handled = handled
        self.link_disabled_retry_seconds = link_disabled_retry_seconds
        self.disabled = threading.Event()  # Slack turned Socket Mode off for the app
        self.redeliveries_answered = 0
        self.client.on_message_listeners.append(self._watch)

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        key = envelope_key(req)
        if not self.handled.take(key):
            # taken before (here or by another process of this server): answer with the ack it produced
            first = self.handled.first_answer(key)
            if isinstance(first, Answered):
                self.redeliveries_answered += 1
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=first.payload))
                logger.info("%s envelope delivered again (retry %s): answered as the first time, not handled again",
                            req.type, req.retry_attempt)  # fmt: skip
                return
            if first == WAIT_LONGER:
                logger.warning("%s envelope delivered again while its first delivery is still being handled; "
                               "left for Slack to deliver later", req.type)  # fmt: skip
                return
        try:
            response = run_bolt_app(self.app, req)
        except Exception:
            self.handled.forget(key)
            raise
        ack = ack_for(req, response)
        if ack is None:
            self.handled.forget(key)
            logger.warning("no ack for a %s envelope: Bolt answered %s", req.type, response.status)
            return
        self.handled.finish(key, ack.payload)
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


def warn_about_links(settings: Settings, handled: HandledEnvelopes) -> bool:
    """More server processes than Slack allows links: say so once per server (the first process to get here;
    the shared record decides), at start-up. Whether it warned."""
    if settings.web_concurrency <= SLACK_MAX_LINKS or not handled.take("warning:too-many-links"):
        return False
    logger.warning(
        "WEB_CONCURRENCY is %d, but Slack allows an app at most %d Socket Mode connections, one per process: "
        "processes beyond that may get no link and then take no requests. Set "
        "WEB_CONCURRENCY to %d or fewer across all servers of this app (raise WEB_THREADS for more at once)",
        settings.web_concurrency,
        SLACK_MAX_LINKS,
        SLACK_MAX_LINKS,
    )
    return True


def connect_socket_mode(app: App, settings: Settings, wsgi: WSGIApp, handled: HandledEnvelopes) -> SocketModeWSGI:
    """In a server process, after the fork: open this process's own link to Slack (Slack allows 10 per app
    and gives each envelope to one of them) and return the HTTP side to serve alongside it. A refused
    app-level token stops the process with what to set."""
    warn_about_links(settings, handled)
    handler = LadderbotSocketModeHandler(app, settings.slack_app_token, handled, concurrency=settings.web_threads)
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
