"""Taking over a Socket Mode envelope whose first handler died, and only then, on SQLite and PostgreSQL
(bot.web.socket_mode.HandledEnvelopes): a taking holds a lease that its live handler renews, and whether the lease
ran out is the database's clock, in the statement that takes over. So a handler slower than any lease is never
handled twice by another server, one whose process was killed is handled once by the redelivery, and servers
whose clocks disagree (by an hour here) agree on both.

The first server in the end-to-end tests is a process of this module's own (`run_first_server`): the real
HandledEnvelopes and LadderbotSocketModeHandler on the same database as a real `ladderbot serve`, with a Bolt app
whose one listener is at work until the test releases it (ours ack in milliseconds)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.storage import engine as db
from bot.storage.models import SocketEnvelope
from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.socketmode import Envelope
from bot.web.socket_mode import (
    Answered,
    HandledEnvelopes,
    LadderbotSocketModeHandler,
    Taken,
    database_seconds,
)
from tests.server import RunningServer, start_server
from tests.test_socket_mode import APP_TOKEN, SERVE, home_opened, new_user, publishes_to, worker_pids
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0


# the record alone, with rows as servers with skewed clocks write them ------------------------------------


def database_now(sessions: sessionmaker[Session]) -> float:
    with sessions() as session:
        return float(session.scalar(select(database_seconds())) or 0)


def row(sessions: sessionmaker[Session], key: str) -> SocketEnvelope | None:
    with sessions() as session:
        return session.get(SocketEnvelope, key)


def put_skewed(sessions: sessionmaker[Session], key: str, *, clock_off_by: float, lease_left: float) -> None:
    """A taking as a server whose clock is `clock_off_by` seconds off writes it: `started_at` by its own clock,
    its lease `lease_left` seconds from now by the database's (negative: it ran out; its process is gone)."""
    with sessions() as session:
        session.add(
            SocketEnvelope(
                envelope_key=key,
                owner="skewed:1",
                started_at=datetime.now(UTC) + timedelta(seconds=clock_off_by),
                finished=False,
                lease_until=database_seconds() + lease_left,
            )
        )
        session.commit()


def test_the_lease_is_the_databases_clock_not_the_servers(sessions, record_of):
    put_skewed(sessions, "envelope:behind-alive", clock_off_by=-HOUR, lease_left=60)
    put_skewed(sessions, "envelope:ahead-alive", clock_off_by=HOUR, lease_left=60)
    put_skewed(sessions, "envelope:behind-gone", clock_off_by=-HOUR, lease_left=-1)
    put_skewed(sessions, "envelope:ahead-gone", clock_off_by=HOUR, lease_left=-1)
    record = record_of(wait_seconds=0.2)
    # a live taking is left alone however old its server's clock makes it look (it was, by the age in
    # started_at: an hour is far past the 10 s bound), and a swept record keeps it (take() sweeps)
    assert record.take("envelope:other") is not None
    assert record.first_answer("envelope:behind-alive") is None
    assert record.first_answer("envelope:ahead-alive") is None
    # a taking whose lease ran out is taken over however young its server's clock makes it look (it was
    # not, by started_at: an hour in the future never grew older than 10 s)
    assert isinstance(record.first_answer("envelope:ahead-gone"), Taken)
    assert isinstance(record.first_answer("envelope:behind-gone"), Taken)
    for key in ("envelope:behind-alive", "envelope:ahead-alive"):
        kept = row(sessions, key)
        assert kept is not None and kept.owner == "skewed:1"
    for key in ("envelope:behind-gone", "envelope:ahead-gone"):
        moved = row(sessions, key)
        assert moved is not None and moved.owner == HandledEnvelopes.owner() and not moved.finished


def test_a_taking_writes_its_lease_by_the_databases_clock(sessions, record_of):
    record = record_of(lease_seconds=30.0, renew_seconds=5.0)
    before = database_now(sessions)
    assert record.take("envelope:leased") is not None
    after = database_now(sessions)
    taken = row(sessions, "envelope:leased")
    assert taken is not None and taken.lease_until is not None
    assert before + 30.0 <= taken.lease_until <= after + 30.0


def test_old_rows_are_swept_by_their_lease_on_the_databases_clock(sessions, record_of):
    # an envelope long done by a server whose clock runs an hour ahead, and one at work now by a server an
    # hour behind: the first is swept, the second kept
    put_skewed(sessions, "envelope:long-done", clock_off_by=HOUR, lease_left=-2 * HOUR)
    put_skewed(sessions, "envelope:at-work", clock_off_by=-HOUR, lease_left=60)
    assert record_of().take("envelope:new") is not None
    assert row(sessions, "envelope:long-done") is None
    assert row(sessions, "envelope:at-work") is not None


def test_a_live_handler_renews_its_lease_and_a_stopped_one_is_taken_over(sessions, record_of):
    first = record_of(lease_seconds=2.0, renew_seconds=0.2)
    other = record_of(wait_seconds=4.0)  # longer than first's lease: without renewals it would take over
    taken = first.take("envelope:slow")
    assert taken is not None
    leased = row(sessions, "envelope:slow")
    assert other.first_answer("envelope:slow") is None  # still at work after the wait: left for Slack
    renewed = row(sessions, "envelope:slow")
    assert leased is not None and renewed is not None and renewed.owner == HandledEnvelopes.owner()
    assert (renewed.lease_until or 0) > (leased.lease_until or 0)
    threading.Timer(0.3, first.finish, args=(taken, {"text": "done at last"})).start()
    assert other.first_answer("envelope:slow") == Answered({"text": "done at last"}, HandledEnvelopes.owner())
    # a process that stops renewing (as one that died does) loses its taking once the lease runs out
    stopped = record_of(lease_seconds=1.0, renew_seconds=0.2)
    assert stopped.take("envelope:stopped") is not None
    stopped.close()
    assert isinstance(record_of(wait_seconds=30.0).first_answer("envelope:stopped"), Taken)


# end to end: a first server that is slow, or killed, and a real `ladderbot serve` that gets the redelivery ------


def run_first_server(slack_url: str, database_url: str, lease_seconds: str, release_path: str) -> None:
    """The first server (a process of its own): takes app_home_opened and is at work on it until `release_path`
    exists, then publishes the Home and acks. A link it loses stays lost: Slack's redeliveries go elsewhere."""
    engine = db.make_engine(database_url)
    lease = float(lease_seconds)
    handled = HandledEnvelopes(db.make_session_factory(engine), lease_seconds=lease, renew_seconds=lease / 10)
    app = App(client=WebClient(token="xoxb-test", base_url=slack_url), signing_secret="", process_before_response=True)

    @app.event("app_home_opened")
    def at_work_until_released(event: dict[str, Any], client: WebClient) -> None:
        release = Path(release_path)
        while not release.exists():
            time.sleep(0.05)
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    handler = LadderbotSocketModeHandler(app, APP_TOKEN, handled, ping_interval=0.5)
    handler.client.connect()
    handler.client.auto_reconnect_enabled = False
    print("connected", flush=True)
    threading.Event().wait()


FIRST_SERVER = "import sys; from tests.test_socket_takeover import run_first_server; run_first_server(*sys.argv[1:])"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack of this test's own: its Socket Mode endpoint carries no link of another test."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def first_server(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "first-server.log").open("wb")
    args = [slack.url, database_url, "2.0", str(tmp_path / "release")]
    process = subprocess.Popen([sys.executable, "-c", FIRST_SERVER, *args], cwd=ROOT, stdout=log, stderr=log)
    yield process
    process.kill()
    process.wait()
    log.close()


def key_of(envelope: Envelope) -> str:
    return f"event:{envelope.payload['team_id']}:{envelope.payload['event_id']}"


def taking(database_url: str, key: str) -> SocketEnvelope | None:
    """The envelope's row, read afresh from another connection."""
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine)() as session:
            return session.get(SocketEnvelope, key)
    finally:
        engine.dispose()


def serve_second(slack: FakeSlack, database_url: str) -> RunningServer:
    """Another server: `ladderbot serve` with its defaults (a 10 s lease), on the same database."""
    return start_server(
        slack.url, database_url, command=[*SERVE, "--no-clock"], SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="",
        LOG_LEVEL="INFO",
    )  # fmt: skip


def first_server_takes_an_envelope(slack: FakeSlack, database_url: str, process: subprocess.Popen[bytes]):
    hub = slack.socket_mode
    [link] = hub.wait_for_connections(1)
    user = new_user()
    envelope = home_opened(hub, user)
    key = key_of(envelope)
    held = wait_until(lambda: taking(database_url, key), 30, what="the first server to take the envelope")
    assert held.owner.endswith(f":{process.pid}") and not held.finished
    return link, user, envelope, key, held.owner


def test_a_slow_first_handler_still_alive_is_not_handled_again_by_another_server(
    slack, database_url, first_server, tmp_path
):
    hub = slack.socket_mode
    link, user, envelope, key, first_owner = first_server_takes_an_envelope(slack, database_url, first_server)
    second = serve_second(slack, database_url)
    try:
        hub.wait_for_connections(2)
        hub.ack_timeout = 3.0  # from here on Slack delivers again what is not acked in 3 s, as it does
        hub.drop(link)  # the first server's link fails while its handler is at work: the redelivery goes to the second
        said = wait_until(
            lambda: re.search(r"still being handled|its process is gone", second.log()), 60, what="the redelivery"
        )
        assert said.group(0) == "still being handled", second.log()  # left for Slack, not taken over
        # the first handler has been at work for longer than its lease (2 s) several times over, renewing it: with
        # an age bound of that length the second server would have taken it over by now
        assert envelope.deliveries[-1] != link and envelope.retry_attempt >= 1
        (tmp_path / "release").touch()
        wait_until(lambda: getattr(taking(database_url, key), "finished", False), 30, what="the first handler's ack")
        hub.wait_ack(envelope, 60)  # Slack's next try: answered by the second server from the record
        assert envelope.acked and not envelope.given_up
        done = taking(database_url, key)
        assert done is not None and done.owner == first_owner  # never taken over
        assert publishes_to(slack, user) == 1
        assert "its process is gone" not in second.log()
    finally:
        second.stop()
    assert second.process.returncode == 0, second.log()
    assert "Traceback" not in second.log(), second.log()


def test_a_killed_first_handler_is_handled_once_by_the_redelivery(slack, database_url, first_server):
    hub = slack.socket_mode
    _, user, envelope, key, first_owner = first_server_takes_an_envelope(slack, database_url, first_server)
    first_server.kill()  # SIGKILL: no ack, no forget, no more renewals; its link closes with it
    first_server.wait()
    wait_until(lambda: not hub.open_connections(), 30, what="the first server's link to close")
    hub.ack_timeout = 3.0
    second = serve_second(slack, database_url)
    try:
        hub.wait_ack(envelope, 60)  # delivered again to the second server once it connects
        assert envelope.acked and not envelope.given_up and envelope.retry_attempt >= 1
        wait_until(lambda: publishes_to(slack, user) >= 1, 30, what="the Home published by the second server")
        done = wait_until(lambda: getattr(taking(database_url, key), "finished", False) and taking(database_url, key))
        owner_pid = int(done.owner.rsplit(":", 1)[1])
        assert done.owner != first_owner and owner_pid in worker_pids(second)
        assert "its lease ran out: its process is gone; handling it here" in second.log()
        assert publishes_to(slack, user) == 1  # once: the first handler died before it published
    finally:
        second.stop()
    assert second.process.returncode == 0, second.log()
    assert "Traceback" not in second.log(), second.log()
