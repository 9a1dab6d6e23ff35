"""A scheduling batch that PostgreSQL aborts as a deadlock's victim is run again, and the nudge goes out once.

The clock's batch locks the due plans, then inserts their deliveries, whose foreign-key checks lock the people.
A writer in another process that holds a person and then waits for that person's plan closes the circle, and
PostgreSQL aborts one of the two (seen once in CI, the clock's pass then failed). Here the writer is staged
exactly at that point, from the clock's own connection's `before_cursor_execute` event: it locks the person
the moment the clock is about to insert the delivery, then waits for the plan. The clock checks for deadlocks
first (the writer is told to wait 30 s before it checks), so the clock is the one aborted."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from bot.storage import engine as db
from bot.storage.models import Person
from tests.clockworld import MONDAY_10_UTC, World
from tests.waiting import wait_until

INSERT_DELIVERIES = "INSERT INTO deliveries"
DUE_PLANS = "FOR UPDATE SKIP LOCKED"  # the batch's first statement: its due plans, locked


class Writer:
    """Another transaction that holds the person (FOR UPDATE, as a delete or a key change would) and then
    waits for their plan, which the clock's batch holds."""

    def __init__(self, world: World, person_id: int):
        self.connection = world.engine.connect()
        self.person_id = person_id
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self.errors: list[Exception] = []

    def hold_person_then_wait_for_plan(self) -> None:
        self.connection.execute(text("SET deadlock_timeout = '30s'"))  # the clock (1 s) is the one aborted
        self.pid = self.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        self.connection.execute(text("SELECT 1 FROM people WHERE id = :id FOR UPDATE"), {"id": self.person_id})
        self.thread = threading.Thread(target=self._touch_plan)
        self.thread.start()
        wait_until(lambda: self.waiting_on_a_lock(), timeout=20)

    def _touch_plan(self) -> None:
        try:
            self.connection.execute(
                text("UPDATE plans SET updated_at = now() WHERE person_id = :id"), {"id": self.person_id}
            )
            self.connection.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def waiting_on_a_lock(self) -> bool:
        """Whether this writer's own backend waits on a lock (the cluster is shared with other tests)."""
        with self.connection.engine.connect() as look:
            waiting = look.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"),
                {"pid": self.pid},
            ).scalar_one()
        return bool(waiting)

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.connection.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_aborted_as_a_deadlock_victim_is_scheduled_again_and_sent_once(world: World):
    world.add("U1")
    with world.sessions() as session:
        person_id = session.execute(select(Person.id).where(Person.user_id == "U1")).scalar_one()
    clock = world.new_clock()
    clock_engine = world.engines[-1]
    writer = Writer(world, person_id)
    seen: list[str] = []

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(INSERT_DELIVERIES) and not any(s.startswith(INSERT_DELIVERIES) for s in seen):
            writer.hold_person_then_wait_for_plan()
        elif DUE_PLANS in statement and any(s.startswith(INSERT_DELIVERIES) for s in seen):
            writer.finish()  # the second try: the writer, no longer waiting, has committed
        seen.append(statement)

    event.listen(clock_engine, "before_cursor_execute", before_cursor_execute)
    try:
        report = clock.run_pass(MONDAY_10_UTC)
    finally:
        event.remove(clock_engine, "before_cursor_execute", before_cursor_execute)
        writer.finish()

    assert writer.errors == []  # the writer went on once the clock's batch was aborted
    assert sum(s.startswith(INSERT_DELIVERIES) for s in seen) == 2  # tried, aborted, tried again
    assert report.scheduled == 1 and report.sent == 1, report
    assert world.sent() == 1
    (delivery,) = world.delivery("U1")
    assert delivery.status == "sent"


class Aborted(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing(times: int, sqlstate: str) -> tuple[list[int], Any]:
    """A transaction that fails `times` times with `sqlstate`, then returns "done"; and its call count."""
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("INSERT ...", {}, Aborted(sqlstate))
        return "done"

    return calls, work


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock_detected, serialization_failure
def test_an_aborted_transaction_is_tried_again(sqlstate):
    calls, work = failing(2, sqlstate)
    assert db.retrying_conflicts(work) == "done" and len(calls) == 3


def test_it_gives_up_after_the_last_try_and_never_retries_other_errors():
    calls, work = failing(3, "40P01")
    with pytest.raises(OperationalError):
        db.retrying_conflicts(work)
    assert len(calls) == 3
    calls, work = failing(1, "57014")  # query_canceled: not a conflict, raised at once
    with pytest.raises(OperationalError):
        db.retrying_conflicts(work)
    assert len(calls) == 1
