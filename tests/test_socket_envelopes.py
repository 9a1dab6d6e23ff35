"""The record of Socket Mode envelopes in the bot's database (bot.web.socket_mode.HandledEnvelopes), on SQLite and
PostgreSQL: one taker per envelope, its ack given back to a redelivery, a failed handler's envelope handled again,
a taking whose lease ran out (its process is gone) taken over by one process only, a row from before leases by
its age, and old rows swept. Skewed clocks and renewals: tests/test_socket_takeover.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import SocketEnvelope
from bot.web.socket_mode import Answered, HandledEnvelopes, Taken, database_seconds


def rows(sessions: sessionmaker[Session]) -> dict[str, SocketEnvelope]:
    with sessions() as session:
        return {row.envelope_key: row for row in session.scalars(select(SocketEnvelope))}


def put(sessions: sessionmaker[Session], key: str, owner: str, age: float, lease: float | None = None) -> datetime:
    """A row in progress, `age` seconds old; its lease runs out `lease` seconds from now by the database's clock
    (negative: it ran out), or None: no lease, as a process from before migration 0009 wrote it."""
    started = datetime.now(UTC) - timedelta(seconds=age)
    lease_until = None if lease is None else database_seconds() + lease
    with sessions() as session:
        session.add(
            SocketEnvelope(envelope_key=key, owner=owner, started_at=started, finished=False, lease_until=lease_until)
        )
        session.commit()
    return started


def test_the_first_delivery_takes_it_and_a_redelivery_gets_its_ack(sessions, record_of):
    record = record_of(wait_seconds=0.2)
    taken = record.take("envelope:1")
    assert isinstance(taken, Taken)
    assert record.take("envelope:1") is None  # somebody has it
    assert record.first_answer("envelope:1") is None  # still at work after the wait: left for Slack's next try
    record.finish(taken, {"text": "saved", "blocks": []})
    answer = record.first_answer("envelope:1")
    assert answer == Answered({"text": "saved", "blocks": []}, HandledEnvelopes.owner())
    # an ack with no payload is an answer too
    empty = record.take("envelope:2")
    assert empty is not None
    record.finish(empty, None)
    assert record.first_answer("envelope:2") == Answered(None, HandledEnvelopes.owner())
    row = rows(sessions)["envelope:1"]
    assert row.finished and row.owner == HandledEnvelopes.owner() and row.started_at.tzinfo is not None


def test_a_redelivery_waits_for_an_ack_still_being_made(sessions, record_of):
    record = record_of(wait_seconds=10)
    taken = record.take("envelope:slow")
    assert taken is not None
    threading.Timer(0.3, record.finish, args=(taken, {"text": "late"})).start()
    answer = record.first_answer("envelope:slow")
    assert isinstance(answer, Answered) and answer.payload == {"text": "late"}


def test_a_failed_first_handler_leaves_it_to_be_handled_again(sessions, record_of):
    record = record_of(wait_seconds=0.2)
    taken = record.take("envelope:f")
    assert taken is not None
    record.forget(taken)
    again = record.first_answer("envelope:f")  # a redelivery after the failure: handled afresh
    assert isinstance(again, Taken)
    record.forget(taken)  # a late forget of the old claim removes nobody else's
    assert "envelope:f" in rows(sessions)


def test_a_taking_whose_lease_ran_out_is_taken_over_once(sessions, record_of):
    started = put(sessions, "envelope:orphan", "elsewhere:4242", age=1, lease=-1)  # its process stopped renewing
    busy = put(sessions, "envelope:busy", "elsewhere:4243", age=30, lease=30)  # at work long, its lease renewed
    record = record_of(wait_seconds=0.2)
    assert record.first_answer("envelope:busy") is None  # its process is at work: left for Slack's next try
    assert rows(sessions)["envelope:busy"].started_at == busy
    taken = record.first_answer("envelope:orphan")
    assert isinstance(taken, Taken) and taken.started_at > started
    row = rows(sessions)["envelope:orphan"]
    assert row.owner == HandledEnvelopes.owner() and not row.finished and row.lease_until is not None
    # another process that read the row as lapsed loses the race: the row has a new lease now
    assert record._take_over("envelope:orphan") is None
    record.forget(Taken("envelope:orphan", started))  # nor does the gone owner's claim remove it
    assert "envelope:orphan" in rows(sessions)


def test_a_row_from_before_leases_is_taken_over_by_its_age(sessions, record_of):
    """Rows a process of before migration 0009 wrote (during a rolling deploy) have no lease: their age decides,
    on this server's clock, as it did then."""
    put(sessions, "envelope:old", "elsewhere:1", age=30)
    put(sessions, "envelope:young", "elsewhere:2", age=1)
    record = record_of(wait_seconds=0.2, lease_seconds=10)
    assert record.first_answer("envelope:young") is None
    assert isinstance(record.first_answer("envelope:old"), Taken)


def test_one_taker_among_many_at_once(sessions, record_of):
    records = [record_of() for _ in range(8)]
    start = threading.Barrier(len(records))
    results: list[Taken | None] = []

    def take(record: HandledEnvelopes) -> None:
        start.wait()
        results.append(record.take("envelope:contended"))

    threads = [threading.Thread(target=take, args=(record,)) for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(records) and sum(1 for r in results if r is not None) == 1


def test_old_rows_are_swept_at_most_once_a_minute(sessions, record_of):
    put(sessions, "envelope:old", "elsewhere:1", age=2 * 3600, lease=-2 * 3600)
    put(sessions, "envelope:old-unleased", "elsewhere:1", age=2 * 3600)  # from before leases: by its age
    record = record_of()
    assert record.take("envelope:new") is not None
    assert set(rows(sessions)) == {"envelope:new"}  # the first take swept the rows two hours old
    put(sessions, "envelope:old2", "elsewhere:1", age=2 * 3600, lease=-2 * 3600)
    assert record.take("envelope:newer") is not None
    assert "envelope:old2" in rows(sessions)  # not again within the minute
