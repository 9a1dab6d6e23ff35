"""Slack's side of Socket Mode, on loopback: the WebSocket endpoint `apps.connections.open` hands out.

What it plays, as Slack documents it (docs.slack.dev, "Using Socket Mode"):
- `apps.connections.open` (an app-level `xapp-` token) returns a one-use `ws://` URL; a connection to it is
  greeted with `hello` (`num_connections`, `connection_info.app_id`).
- Each envelope (`slash_commands`, `interactive`, `events_api`) has an `envelope_id`, the `payload` Slack would
  have POSTed, `accepts_response_payload` (true for commands and interactions, whose answer travels in the
  ack) and, from the second delivery on, `retry_attempt` and `retry_reason`. It goes to ONE open connection,
  chosen at random, as Slack does with up to 10 connections of an app.
- An ack is `{"envelope_id": ..., "payload": {...}}`; the first ack of an envelope counts, on any connection of
  the app (a client that reconnected acks what it received before on its new connection, as slack_sdk does).
- `disconnect` messages with reason `warning` (the link will be refreshed soon; it stays open),
  `refresh_requested` (open a new link: this one closes shortly) and `link_disabled` (Socket Mode was turned
  off for the app: the link closes and `apps.connections.open` refuses until it is turned on again).
- An envelope not acked when its connection ends is delivered again (to an open connection, or the next one
  to say hello) after a short grace, with `retry_attempt` + 1 and `retry_reason` "timeout", up to 3 retries;
  with `ack_timeout` set (Slack waits 3 s), so is one whose ack does not come in time.
  Slack documents such retries for events; the fake redelivers every kind, so that the bot's handling of a
  redelivery is tested for commands and clicks too.

Tests script it through `FakeSlack.socket_mode` (a `SocketModeHub`): `deliver` an envelope and `wait_ack` for
its answer, `disconnect` with a reason, `drop` a connection abruptly (a TCP reset, no close frame), or
`lose_next_ack` to model an ack lost in transit together with its connection, or `repeat_next` to have Slack
deliver an envelope again while the bot is still at work on it.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import socket
import struct
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bot.testing.fakeslack.state import SlackState

APP_ID = "A0001"
MAX_RETRIES = 3  # Slack retries an event three times
DISCONNECT_REASONS = ("warning", "refresh_requested", "link_disabled")

logger = logging.getLogger(__name__)

_hubs: weakref.WeakKeyDictionary[SlackState, SocketModeHub] = weakref.WeakKeyDictionary()


def hub_for(state: SlackState) -> SocketModeHub | None:
    """The Socket Mode endpoint of the fake that holds `state` (for `apps.connections.open`)."""
    return _hubs.get(state)


@dataclass
class Envelope:
    """One envelope as the fake sent it, and what came back."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""
    deliveries: list[int] = field(default_factory=list)  # connection numbers, in order
    acked: bool = False
    response: dict[str, Any] | None = None  # the ack's payload, when it carried one
    acked_on: int | None = None
    given_up: bool = False  # not acked after every retry

    def message(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.retry_attempt:
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = self.retry_reason
        return body


@dataclass
class _Link:
    number: int
    connection: ServerConnection
    refreshing: bool = False  # told to reconnect: gets no new envelopes
    open: bool = True


class SocketModeHub:
    """The WebSocket endpoint, its connections and the envelopes sent through them. Thread-safe."""

    def __init__(
        self,
        state: SlackState,
        host: str = "127.0.0.1",
        *,
        redelivery_grace: float = 0.5,
        close_after: float = 0.5,
        ack_timeout: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host
        # Slack's wait for an ack (3 s) before it delivers an envelope again. None: only the envelopes of a lost
        # link come again, so that a test on a loaded machine sees no redelivery it did not ask for
        self.ack_timeout = ack_timeout
        self.redelivery_grace = redelivery_grace  # how long an ack may still come for a lost connection's envelope
        self.close_after = close_after  # refresh_requested / link_disabled: the link closes this much later
        self.enabled = True  # Socket Mode turned on in the app's settings
        self.envelopes: dict[str, Envelope] = {}
        self.duplicate_acks = 0
        self.unknown_acks = 0
        self.connections_opened = 0
        self.refused_tickets = 0
        self._links: dict[int, _Link] = {}
        self._tickets: set[str] = set()
        self._pending: list[Envelope] = []  # waiting for a connection
        self._lose_next_ack = 0
        self._repeat_next = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self._server: Server = serve(
            self._serve_connection, host, 0, compression=None, ping_interval=None, logger=logger
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        _hubs[state] = self

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> SocketModeHub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack-socket", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            links = list(self._links.values())
        for link in links:
            _reset(link.connection)
        self._server.shutdown()

    # apps.connections.open ---------------------------------------------------------------------

    def open_url(self) -> str | None:
        """A one-use WebSocket URL, or None when Socket Mode is turned off for the app."""
        with self._lock:
            if not self.enabled:
                return None
            ticket = secrets.token_hex(8)
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}"

    # what tests do -------------------------------------------------------------------------------

    def deliver(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None) -> Envelope:
        """Send one envelope to one open connection (or the next to connect). `kind`: slash_commands,
        interactive or events_api; the answer may travel in the ack except for events."""
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=payload,
            accepts_response_payload=(kind != "events_api")
            if accepts_response_payload is None
            else accepts_response_payload,
        )
        with self._lock:
            self.envelopes[envelope.envelope_id] = envelope
            repeat = self._repeat_next > 0
            if repeat:
                self._repeat_next -= 1
        self._send(envelope)
        if repeat:
            self._redeliver(envelope, 0)
        return envelope

    def wait_ack(self, envelope: Envelope, timeout: float = 20.0) -> Envelope:
        """Block until `envelope` is acked (or given up on); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (envelope.acked or envelope.given_up):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"envelope {envelope.envelope_id} ({envelope.type}) not acked in {timeout}s")
                self.changed.wait(left)
        return envelope

    def wait_for_connections(self, count: int, timeout: float = 30.0) -> list[int]:
        """Block until at least `count` connections are open and not refreshing; their numbers."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                ready = [n for n, link in self._links.items() if link.open and not link.refreshing]
                if len(ready) >= count:
                    return ready
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(ready)} Socket Mode connections open after {timeout}s, wanted {count}")
                self.changed.wait(left)

    def open_connections(self) -> list[int]:
        with self._lock:
            return [n for n, link in self._links.items() if link.open]

    def disconnect(self, reason: str, connection: int | None = None) -> list[int]:
        """Send `disconnect` with `reason` to one connection (default: every open one). refresh_requested and
        link_disabled close the link `close_after` seconds later; link_disabled also turns Socket Mode off."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"reason must be one of {DISCONNECT_REASONS}")
        with self._lock:
            if reason == "link_disabled":
                self.enabled = False
            links = [link for n, link in self._links.items() if link.open and connection in (None, n)]
            if reason != "warning":
                for link in links:
                    link.refreshing = True
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink"}})
        for link in links:
            _send_text(link.connection, message)
            if reason != "warning":
                timer = threading.Timer(self.close_after, _close, args=(link.connection,))
                timer.daemon = True
                timer.start()
        return [link.number for link in links]

    def enable(self) -> None:
        """Turn Socket Mode back on after link_disabled: apps.connections.open hands out URLs again."""
        with self._lock:
            self.enabled = True

    def drop(self, connection: int | None = None) -> list[int]:
        """Cut connections abruptly (a TCP reset, no close frame), as a network failure would: one, or all."""
        with self._lock:
            links = [link for n, link in self._links.items() if link.open and connection in (None, n)]
        for link in links:
            _reset(link.connection)
        return [link.number for link in links]

    def lose_next_ack(self) -> None:
        """The next ack that arrives is lost in transit, and the connection it came on drops with it: the
        bot did the work, but Slack never heard so and will deliver that envelope again."""
        with self._lock:
            self._lose_next_ack += 1

    def repeat_next(self, count: int = 1) -> None:
        """The next `count` envelopes are delivered twice at once, the second time as a retry (retry_attempt 1):
        what Slack does when its wait for the ack runs out while the bot is still at work on the first."""
        with self._lock:
            self._repeat_next += count

    def unacked(self) -> list[Envelope]:
        with self._lock:
            return [e for e in self.envelopes.values() if not e.acked and not e.given_up]

    # the connection side ---------------------------------------------------------------------------

    def _serve_connection(self, connection: ServerConnection) -> None:
        request = connection.request
        ticket = (request.path.split("ticket=", 1) + [""])[1] if request is not None else ""
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
            if not valid:
                self.refused_tickets += 1
            else:
                self.connections_opened += 1
                number = self.connections_opened
                link = _Link(number, connection)
                self._links[number] = link
                count = sum(1 for other in self._links.values() if other.open)
        if not valid:
            connection.close(4001, "invalid or used ticket")  # Slack refuses a URL used twice
            return
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "fake-applink", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        _send_text(connection, json.dumps(hello))
        with self.changed:
            self.changed.notify_all()
            waiting, self._pending = self._pending, []
        for envelope in waiting:
            self._send(envelope)
        try:
            for raw in connection:
                self._receive(link, raw)
        except ConnectionClosed:
            pass
        except OSError:  # reset by a drop() of our own
            pass
        finally:
            self._closed(link)

    def _receive(self, link: _Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            envelope_id = str(message["envelope_id"])
        except (ValueError, TypeError, KeyError):
            logger.warning("fake Socket Mode: not an ack on connection %s: %.200r", link.number, raw)
            return
        lost = False
        with self.changed:
            envelope = self.envelopes.get(envelope_id)
            if envelope is None:
                self.unknown_acks += 1
            elif self._lose_next_ack:
                self._lose_next_ack -= 1
                lost = True
            elif envelope.acked:
                self.duplicate_acks += 1
            else:
                envelope.acked = True
                envelope.acked_on = link.number
                payload = message.get("payload")
                envelope.response = payload if isinstance(payload, dict) else None
            self.changed.notify_all()
        if lost:
            _reset(link.connection)

    def _closed(self, link: _Link) -> None:
        with self.changed:
            link.open = False
            self._links.pop(link.number, None)
            orphans = [e for e in self.envelopes.values() if not e.acked and e.deliveries[-1:] == [link.number]]
            self.changed.notify_all()
        for envelope in orphans:
            self._later(self.redelivery_grace, envelope)

    def _later(self, seconds: float, envelope: Envelope) -> None:
        """Deliver `envelope` again in `seconds` unless it is acked or delivered again meanwhile."""
        timer = threading.Timer(seconds, self._redeliver, args=(envelope, envelope.retry_attempt))
        timer.daemon = True
        timer.start()

    def _redeliver(self, envelope: Envelope, attempt: int) -> None:
        with self.changed:
            if envelope.acked or envelope.retry_attempt != attempt:
                return  # its ack came in meanwhile (on any connection), or it went out again already
            if envelope.retry_attempt >= MAX_RETRIES:
                envelope.given_up = True
                self.changed.notify_all()
                return
            envelope.retry_attempt += 1
            envelope.retry_reason = "timeout"
        self._send(envelope)

    def _send(self, envelope: Envelope) -> None:
        with self._lock:
            ready = [link for link in self._links.values() if link.open and not link.refreshing]
            if not ready:
                self._pending.append(envelope)
                return
            link = self._random.choice(ready)
            envelope.deliveries.append(link.number)
            message = json.dumps(envelope.message())
        if not _send_text(link.connection, message):
            # the link died as we sent: its close handler may already have run, so see to the envelope here
            with self._lock:
                gone = not link.open
            if gone:
                self._later(self.redelivery_grace, envelope)
        elif self.ack_timeout is not None:
            self._later(self.ack_timeout, envelope)


def _send_text(connection: ServerConnection, text: str) -> bool:
    try:
        connection.send(text)
        return True
    except (ConnectionClosed, OSError):
        return False


def _close(connection: ServerConnection) -> None:
    try:
        connection.close(1000, "")
    except (ConnectionClosed, OSError):
        pass


def _reset(connection: ServerConnection) -> None:
    """Close the TCP connection with a reset: the peer sees it fail, with no WebSocket close frame."""
    try:
        connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    connection.close_socket()
