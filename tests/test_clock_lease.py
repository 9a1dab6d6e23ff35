"""Claims are leases, on SQLite and PostgreSQL: a live clock renews its claims however long its pass runs, so
no other clock takes them; a dead clock's claims are taken once its lease expires, and each row is sent once;
a row whose claim was taken is not sent by the clock that lost it. Leases here last a fraction of a second
(the production default is outbox.LEASE), so passes slower than the lease take a second or two."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot.clock import Clock, PassReport
from bot.clock.outbox import Lease
from bot.storage.models import Delivery, DigestDelivery
from tests.clockworld import MONDAY_10_UTC, World
from tests.test_digest import DIGEST_AT, build_team, digest_messages

SHORT_LEASE = timedelta(seconds=0.6)
# where a heartbeat thread must renew in time while another clock runs a pass on a loaded 2-core machine,
# a longer lease leaves its renewals (every third of it) room for a scheduling or lock delay
HEARTBEAT_LEASE = timedelta(seconds=2)


def everyone_once(world: World, people: int) -> None:
    """Nobody twice, nobody missing, every row recorded as sent."""
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}
    with world.sessions() as session:
        assert set(session.execute(select(Delivery.status)).scalars()) == {"sent"}


def test_three_clocks_through_a_pass_longer_than_the_lease(world: World) -> None:
    """Clock A's pass takes several leases (slow posts, one send thread); clocks B and C run pass after pass
    meanwhile, each at the moment it starts (in A's frame: the pass time plus the real time since). A renews
    its claims, so B and C never take one: nothing is lost, sent twice or left unsent."""
    people = 60
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", 0.1)
    clocks = [world.new_clock(batch_size=5, send_workers=1, lease=SHORT_LEASE) for _ in range(3)]
    start = time.monotonic()
    reports: list[PassReport] = []
    done = threading.Event()

    def moment() -> datetime:
        return MONDAY_10_UTC + timedelta(seconds=time.monotonic() - start)

    def keep_passing(clock: Clock) -> None:
        while not done.is_set():
            try:
                reports.append(clock.run_pass(moment()))
            except OperationalError as exc:  # SQLite's one writer: this tick gives up, the next one runs
                assert "locked" in str(exc)

    others = [threading.Thread(target=keep_passing, args=(clock,)) for clock in clocks[1:]]
    for thread in others:
        thread.start()
    try:
        reports.append(clocks[0].run_pass(MONDAY_10_UTC))
        first_pass = time.monotonic() - start
    finally:
        done.set()
        for thread in others:
            thread.join()
    for clock in clocks:  # whatever B or C still held when they stopped is finished by a last pass
        reports.append(clock.run_pass(moment()))
    assert first_pass > 2 * SHORT_LEASE.total_seconds()  # the pass outlived its lease, more than once
    assert sum(r.lost for r in reports) == 0  # no live clock's claim was taken
    assert sum(r.sent for r in reports) == people
    everyone_once(world, people)


def test_a_dead_clocks_claims_are_taken_once_its_lease_expires(world: World) -> None:
    people = 12
    for i in range(people):
        world.add(f"U{i:03d}")
    dead = world.new_clock(lease=HEARTBEAT_LEASE)
    dead.nudges.schedule_batch(MONDAY_10_UTC, PassReport())
    with Lease(dead.session_factory, MONDAY_10_UTC, HEARTBEAT_LEASE) as lease:
        assert len(dead.nudges.sender.claim(MONDAY_10_UTC, lease)) == people
        time.sleep(HEARTBEAT_LEASE.total_seconds())  # alive for a whole lease: renewed, not taken
        alive_at = lease.clock()
        assert world.new_clock(lease=HEARTBEAT_LEASE).run_pass(alive_at).sent == 0
    # ...and the clock died here: its claims are no longer renewed
    taker = world.new_clock(lease=HEARTBEAT_LEASE)
    assert taker.run_pass(alive_at + HEARTBEAT_LEASE / 2).sent == 0  # not expired yet
    report = taker.run_pass(alive_at + HEARTBEAT_LEASE * 2)
    assert report.sent == people and report.lost == 0
    everyone_once(world, people)


def test_a_nudge_whose_claim_was_taken_is_not_sent(world: World) -> None:
    world.add("U000")
    clock = world.new_clock(lease=SHORT_LEASE)
    clock.nudges.schedule_batch(MONDAY_10_UTC, PassReport())
    with Lease(clock.session_factory, MONDAY_10_UTC, SHORT_LEASE) as lease:
        [item] = clock.nudges.sender.claim(MONDAY_10_UTC, lease)
        with world.sessions.begin() as session:  # another clock took the row meanwhile
            session.execute(update(Delivery).values(claim_token="theirs"))
        result = clock.nudges.sender.send(item, MONDAY_10_UTC, lease)
        report = PassReport()
        clock.nudges.sender.record([result], MONDAY_10_UTC, report)
    assert result.outcome == "lost" and (report.sent, report.lost) == (0, 1)
    assert world.fake.calls_to("chat.postMessage") == []
    [delivery] = world.delivery("U000")
    assert (delivery.status, delivery.claim_token) == ("sending", "theirs")  # left to its owner


def test_a_digest_whose_claim_was_taken_is_not_sent(world: World) -> None:
    build_team(world)
    digests = world.new_clock(lease=SHORT_LEASE).digests
    digests._schedule(DIGEST_AT, PassReport())
    report = PassReport()
    with Lease(digests.session_factory, DIGEST_AT, SHORT_LEASE) as lease:
        [(digest_id, token)] = digests._claim(DIGEST_AT, lease)
        with world.sessions.begin() as session:  # another clock took the row meanwhile
            session.execute(update(DigestDelivery).values(claim_token="theirs"))
        digests._send(digest_id, token, DIGEST_AT, report, lease)
    assert report.digests_sent == 0 and digest_messages(world.fake) == []
    with world.sessions() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert (row.status, row.claim_token) == ("sending", "theirs")
