"""Socket Mode: with SLACK_APP_TOKEN set, each server process opens its own WebSocket link to Slack and takes
Slack's requests over it, so the server needs no public URL. /healthz stays on PORT (bot/web/server.py).

The client is Bolt's built-in adapter (`slack_bolt.adapter.socket_mode.SocketModeHandler` on slack_sdk's
dependency-free `SocketModeClient`): on a `disconnect` message it opens the new link before it closes the old
one, so an answer still being computed goes out on the new link. Its one weak spot is a link that dies without
a close frame: it notices by failed pings, so PING_SECONDS is kept short.

What this module adds to the adapter:
- Each envelope is handled once, across all processes of all servers (`HandledEnvelopes`: a table in the bot's
  database). Slack delivers an envelope again when it did not get the ack (`retry_attempt` > 0), on any of the
  app's links, another server's included. That says the ack went missing, not that the work did: our listeners
  commit before they ack, so the work may be done and the ack lost with a dropped link. A redelivery of an
  envelope somebody has taken is therefore answered with the ack it produced the first time (a command's answer
  included), once that is ready, and not handled again; one that never reached a server is handled as new; one
  whose first handler failed before its ack, or whose process died, is handled again. Whether a process died is
  told by a lease its live handler renews, on the database's clock: no server's clock and no handler's
  slowness enters into it.
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
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import ColumnElement, CursorResult, Double, and_, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.config import Settings
from bot.storage.models import SocketEnvelope
from bot.storage.upsert import insert_for
from bot.web.server import EVENTS_PATH, Environ, StartResponse, WSGIApp

logger = logging.getLogger(__name__)

PING_SECONDS = 2.0  # the adapter's ping and link check: a silently dead link is replaced within a few of these
LINK_DISABLED_RETRY_SECONDS = 60.0
# Slack retries an envelope at once, after a minute and after five, then gives up; acks hold answer texts
REMEMBER_SECONDS = 15 * 60.0
SWEEP_EVERY_SECONDS = 60.0  # each process deletes rows REMEMBER_SECONDS past their lease at most this often
REDELIVERY_WAIT_SECONDS = 2.5  # a redelivery waits this long for the first delivery's ack: Slack waits 3 s
# a taking whose handler stopped renewing it for this long, by the database's clock, lost its process
LEASE_SECONDS = 10.0
RENEW_SECONDS = 2.0  # how often a process renews the leases of the envelopes it is still at work on
POLL_SECONDS = 0.05  # how often a waiting redelivery reads the first delivery's row
SLACK_MAX_LINKS = 10  # Socket Mode connections Slack allows an app at once; each server process holds one


class database_seconds(FunctionElement[float]):
    """Now by the database's own clock, in seconds since the epoch: one clock for every server, whatever their
    own clocks say. SQLite's CURRENT_TIMESTAMP has whole seconds only; julianday('now') has milliseconds."""

    type = Double()
    name = "database_seconds"
    inherit_cache = True


@compiles(database_seconds)
def _database_seconds(element: database_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM CLOCK_TIMESTAMP()) AS DOUBLE PRECISION)"


@compiles(database_seconds, "sqlite")
def _database_seconds_sqlite(element: database_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


class HandledEnvelopes:
    """The envelopes taken and the ack each produced, in the bot's own database (`socket_envelopes`), so every
    process of every server (pod, machine) sees them: Slack may deliver an envelope again on any of the app's
    links, another server's included.

    The first delivery inserts the row (an INSERT that does nothing on a conflict: somebody has it already) and
    sets its ack once the handler acked: one INSERT and one UPDATE per envelope. A redelivery reads the row: an
    ack there is answered again; a row still in progress is polled for its ack for at most `wait_seconds` (Slack
    waits 3 s for an ack); a row gone (its handler failed before an ack) is inserted again.

    A taking holds a lease, `lease_seconds` long, that the process renews every `renew_seconds` while its handler
    is at work (one UPDATE per process for all its envelopes in progress, only while there are any: an ack takes
    milliseconds). A redelivery takes over a taking whose lease ran out, so whose process died, atomically: an
    UPDATE whose WHERE says the lease ran out. Both the lease's end and that test are the database's clock, in
    the same statement, so servers whose clocks disagree agree on it, and a slow but live handler is never taken
    over however long it runs. Rows older than `remember_seconds` past their lease are swept, by each process at
    most once every `sweep_every_seconds` (Slack gives an envelope up after 3 retries, within minutes).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        remember_seconds: float = REMEMBER_SECONDS,
        wait_seconds: float = REDELIVERY_WAIT_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        sweep_every_seconds: float = SWEEP_EVERY_SECONDS,
    ) -> None:
        if renew_seconds >= lease_seconds:
            raise ValueError("renew_seconds must be shorter than lease_seconds, or leases lapse while renewed")
        self.session_factory = session_factory
        self.remember_seconds = remember_seconds
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.sweep_every_seconds = sweep_every_seconds
        self._next_sweep = 0.0  # time.monotonic() of this process's next sweep
        self._held: set[Taken] = set()  # this process's takings whose handler is still at work
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None  # runs while something is held

    @staticmethod
    def owner() -> str:
        """This process, as the record names it: host:pid (after a fork, the new pid)."""
        return f"{socket.gethostname()}:{os.getpid()}"[:100]

    def take(self, key: str) -> Taken | None:
        """This process now handles the envelope (nobody had it, or it was forgotten), or None: somebody has it."""
        self._sweep_if_due()
        return self._insert(key)

    def finish(self, taken: Taken, ack_payload: dict[str, Any] | None) -> None:
        """The handler acked: a redelivery from now on is answered with `ack_payload`. A database that fails here
        is logged and the ack still goes (Slack delivers again what is not acked)."""
        if taken is UNRECORDED:
            return
        self._let_go(taken)
        try:
            with self.session_factory() as session:
                session.execute(
                    update(SocketEnvelope)
                    .where(SocketEnvelope.envelope_key == taken.key)
                    .values(finished=True, ack=json.dumps(ack_payload))
                )
                session.commit()
        except SQLAlchemyError:
            logger.exception("could not record the ack of envelope %s; acking it anyway", taken.key)

    def forget(self, taken: Taken) -> None:
        """Handling failed before an ack: a redelivery is handled afresh. Unless another process took the row
        over meanwhile. A database that fails here leaves the row to be taken over once its lease runs out."""
        if taken is UNRECORDED:
            return
        self._let_go(taken)
        try:
            with self.session_factory() as session:
                session.execute(
                    delete(SocketEnvelope).where(
                        SocketEnvelope.envelope_key == taken.key,
                        SocketEnvelope.started_at == taken.started_at,
                        SocketEnvelope.finished.is_(False),
                    )
                )
                session.commit()
        except SQLAlchemyError:
            logger.warning("could not forget a failed envelope: a redelivery handles it once %.0f s have passed",
                           self.lease_seconds, exc_info=True)  # fmt: skip

    def close(self) -> None:
        """Stop renewing leases: envelopes this process is still at work on may be handled elsewhere once their
        leases run out."""
        with self._held_lock:
            self._held.clear()

    def first_answer(self, key: str) -> Answered | Taken | None:
        """For an envelope somebody took: the ack payload it produced once it is ready (Answered), this process's
        claim when it should handle it after all (Taken: the first handler failed, or its process is gone), or
        None when the first delivery is still at work after `wait_seconds`."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            with self.session_factory() as session:
                row = session.execute(
                    select(
                        SocketEnvelope.owner,
                        SocketEnvelope.started_at,
                        SocketEnvelope.finished,
                        SocketEnvelope.ack,
                        self._lapsed().label("lapsed"),
                    ).where(SocketEnvelope.envelope_key == key)
                ).first()
            if row is None:
                taken = self._insert(key)
                if taken is not None:
                    return taken
            elif row.finished:
                return Answered(json.loads(row.ack) if row.ack else None, row.owner)
            elif row.lapsed:
                taken = self._take_over(key)
                if taken is not None:
                    logger.warning("envelope %s was in progress at %s since %s and its lease ran out: its process "
                                   "is gone; handling it here", key, row.owner, row.started_at.isoformat())  # fmt: skip
                    return taken
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def _lapsed(self) -> ColumnElement[bool]:
        """A taking whose lease ran out, by the database's clock. A row from a process of before migration 0009
        has no lease: it is judged by its age on this server's clock, as that process would have."""
        unleased_since = datetime.now(UTC) - timedelta(seconds=self.lease_seconds)
        return or_(
            SocketEnvelope.lease_until < database_seconds(),
            and_(SocketEnvelope.lease_until.is_(None), SocketEnvelope.started_at < unleased_since),
        )

    def _lease(self) -> ColumnElement[float]:
        return database_seconds() + self.lease_seconds

    def _insert(self, key: str) -> Taken | None:
        now = datetime.now(UTC)  # when it started, for people reading the row; the lease is the database's clock
        with self.session_factory() as session:
            # RETURNING, not the row count: SQLAlchemy keeps an INSERT's count only on request (psycopg gives -1)
            statement = (
                insert_for(session, SocketEnvelope)
                .values(envelope_key=key, owner=self.owner(), started_at=now, finished=False, lease_until=self._lease())
                .on_conflict_do_nothing(index_elements=["envelope_key"])
                .returning(SocketEnvelope.envelope_key)
            )
            inserted = session.execute(statement).first() is not None
            session.commit()
        return self._hold(Taken(key, now)) if inserted else None

    def _take_over(self, key: str) -> Taken | None:
        """Atomically, and only if the lease still ran out when the UPDATE runs: another process may have taken it
        over meanwhile, with a new lease."""
        now = datetime.now(UTC)
        with self.session_factory() as session:
            moved = session.execute(
                update(SocketEnvelope)
                .where(SocketEnvelope.envelope_key == key, SocketEnvelope.finished.is_(False), self._lapsed())
                .values(owner=self.owner(), started_at=now, lease_until=self._lease())
            )
            session.commit()
        assert isinstance(moved, CursorResult)  # an UPDATE's result: it carries the row count
        return self._hold(Taken(key, now)) if moved.rowcount == 1 else None

    def _hold(self, taken: Taken) -> Taken:
        """Renew `taken`'s lease until finish or forget."""
        with self._held_lock:
            self._held.add(taken)
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name="socket-mode-leases", daemon=True)
                self._renewer.start()
        return taken

    def _let_go(self, taken: Taken) -> None:
        with self._held_lock:
            self._held.discard(taken)

    def _renew(self) -> None:
        """The renewing thread: every `renew_seconds`, one UPDATE for all held takings; ends when none is held."""
        while True:
            time.sleep(self.renew_seconds)
            with self._held_lock:
                keys = sorted({taken.key for taken in self._held})
                if not keys:
                    self._renewer = None
                    return
            try:
                with self.session_factory() as session:
                    session.execute(
                        update(SocketEnvelope)
                        .where(
                            SocketEnvelope.envelope_key.in_(keys),
                            SocketEnvelope.owner == self.owner(),  # not one taken over meanwhile
                            SocketEnvelope.finished.is_(False),
                        )
                        .values(lease_until=self._lease())
                    )
                    session.commit()
            except SQLAlchemyError:  # the next round may do; the lease has lease_seconds - renew_seconds to spare
                logger.warning("could not renew the lease of %d Socket Mode envelope(s) in progress: once it runs "
                               "out, a redelivery may handle them again", len(keys), exc_info=True)  # fmt: skip

    def _sweep_if_due(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.sweep_every_seconds
        unleased_cutoff = datetime.now(UTC) - timedelta(seconds=self.remember_seconds)
        try:
            with self.session_factory() as session:
                session.execute(
                    delete(SocketEnvelope).where(
                        or_(
                            SocketEnvelope.lease_until < database_seconds() - self.remember_seconds,
                            and_(SocketEnvelope.lease_until.is_(None), SocketEnvelope.started_at < unleased_cutoff),
                        )
                    )
                )
                session.commit()
        except SQLAlchemyError:  # the next sweep will do; the envelope at hand does not wait for this one
            logger.warning("could not sweep old Socket Mode envelopes", exc_info=True)


@dataclass(frozen=True)
class Taken:
    """This process handles the envelope: its row, by the `started_at` this process wrote."""

    key: str
    started_at: datetime


# an envelope handled without a record (the database could not be read): finish and forget leave it alone
UNRECORDED = Taken("", datetime.min.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Answered:
    """The ack payload a first delivery produced (None: an ack with no payload), and who produced it."""

    payload: dict[str, Any] | None
    owner: str = ""


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
    """Bolt's built-in Socket Mode adapter, handling each envelope once across servers (see the module)."""

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
        try:
            taken = self._claim(client, req, key)
        except SQLAlchemyError:
            # the database is down, or behind its migrations: an answer matters more than the rare second
            # handling of a redelivery, so handle it unrecorded rather than leave Slack without an ack
            logger.exception("could not read the record of a %s envelope; handling it unrecorded", req.type)
            taken = UNRECORDED
        if taken is None:
            return
        try:
            response = run_bolt_app(self.app, req)
        except Exception:
            self.handled.forget(taken)
            raise
        ack = ack_for(req, response)
        if ack is None:
            self.handled.forget(taken)
            logger.warning("no ack for a %s envelope: Bolt answered %s", req.type, response.status)
            return
        self.handled.finish(taken, ack.payload)
        client.send_socket_mode_response(ack)

    def _claim(self, client: SocketModeClient, req: SocketModeRequest, key: str) -> Taken | None:
        """This process's claim on the envelope, or None when it needs no handling here: a redelivery answered
        with the first delivery's ack, or one left for Slack while the first is still at work."""
        taken = self.handled.take(key)
        if taken is not None:
            return taken
        # taken before (by this process, another one, or another server): answer with the ack it produced
        first = self.handled.first_answer(key)
        if isinstance(first, Answered):
            self.redeliveries_answered += 1
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=first.payload))
            logger.info("%s envelope delivered again (retry %s): answered with the ack %s gave the first time, "
                        "not handled again", req.type, req.retry_attempt, first.owner)  # fmt: skip
            return None
        if first is None:
            logger.warning("%s envelope delivered again while its first delivery is still being handled; "
                           "left for Slack to deliver later", req.type)  # fmt: skip
        return first

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


def warn_about_links(settings: Settings) -> bool:
    """More server processes than Slack allows links: say so, once per server, at start-up (in the server's first
    process, before the fork). Whether it warned."""
    if settings.web_concurrency <= SLACK_MAX_LINKS:
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


def connect_socket_mode(
    app: App, settings: Settings, wsgi: WSGIApp, session_factory: sessionmaker[Session]
) -> SocketModeWSGI:
    """In a server process, after the fork: open this process's own link to Slack (Slack allows 10 per app
    and gives each envelope to one of them) and return the HTTP side to serve alongside it. The envelopes are
    recorded in the bot's database, through `session_factory`. A refused app-level token stops the process
    with what to set."""
    handled = HandledEnvelopes(session_factory)
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
