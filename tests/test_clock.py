"""The nudge clock: exactly one DM per person per week, on SQLite and PostgreSQL, through the fake Slack."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update

from bot.cli import main
from bot.clock import PassReport
from bot.clock.nudge_sender import ClaimedNudge, NudgeSender, SendResult
from bot.clock.nudges import NudgeJob
from bot.clock.outbox import LEASE, Lease, backoff, unknown_outcome
from bot.growth import account
from bot.growth import plans as growth
from bot.schedule import zone
from bot.storage.models import Delivery, Person, Plan, Reflection
from tests.clockworld import MONDAY_10_UTC, World
from tests.server import server_env


def test_one_dm_at_the_due_time_and_never_twice(world: World) -> None:
    world.add("U1")
    assert world.clock.run_pass(MONDAY_10_UTC - timedelta(minutes=1)).sent == 0
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert (report.scheduled, report.sent) == (1, 1)
    call = world.fake.calls_to("chat.postMessage")[0]
    assert call.params["channel"] == "U1"  # the first DM by user id: Slack names the DM channel in its answer
    assert call.response["channel"] == "D1"
    assert "Your growth prompt for this week" in call.params["text"]
    [delivery] = world.delivery("U1")
    assert delivery.status == "sent" and delivery.message_ts == call.response["ts"] and delivery.week_key == "2026-W49"
    assert delivery.channel_id == "D1"
    for minutes in (0, 1, 5, 60):  # later ticks, and a restarted clock, send nothing more
        assert world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=minutes)).sent == 0
    assert world.new_clock().run_pass(MONDAY_10_UTC + timedelta(minutes=2)).sent == 0
    assert world.dms() == {"D1": 1}
    assert world.fake.calls_to("conversations.open") == []
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7))  # next week: one more, to the stored DM channel
    assert world.dms() == {"D1": 2}
    assert world.fake.calls_to("chat.postMessage")[-1].params["channel"] == "D1"
    assert world.fake.calls_to("conversations.open") == []


def test_local_times_in_four_zones(world: World) -> None:
    world.add("UB", tz="Europe/Berlin")
    world.add("UN", tz="America/New_York")
    world.add("UK", tz="Asia/Kolkata")
    world.add("UA", tz="Pacific/Auckland")
    sent_at = {}
    # every half hour from Sunday 18:00 to Monday 18:00 UTC, where all four fall; every 6 hours around that
    window = (MONDAY_10_UTC - timedelta(hours=16), MONDAY_10_UTC + timedelta(hours=8))
    start, end = MONDAY_10_UTC - timedelta(days=2), MONDAY_10_UTC + timedelta(days=1)
    for moment in scan_moments(start, end, [window], fine=timedelta(minutes=30)):
        before = world.dms()
        world.clock.run_pass(moment)
        for channel in world.dms() - before:
            sent_at[channel] = moment
    assert sent_at == {
        "DB": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        "DN": datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        "DK": datetime(2026, 11, 30, 4, 30, tzinfo=UTC),
        "DA": datetime(2026, 11, 29, 21, 0, tzinfo=UTC),
    }


def scan_moments(
    start: datetime,
    end: datetime,
    windows: list[tuple[datetime, datetime]],
    *,
    fine: timedelta = timedelta(minutes=15),
    coarse: timedelta = timedelta(hours=6),
) -> Iterator[datetime]:
    """Pass times from `start` to `end`: every `fine` inside the windows where sends are expected, every
    `coarse` outside them, never stepping over the start of a window. A nudge due at any other time is
    sent by the first pass after it, at a moment (or local hour) the test does not expect: the check is
    as sharp as a pass every `fine` all along, for a fraction of the passes."""
    moment = start
    while moment < end:
        yield moment
        step = fine if any(a <= moment < b for a, b in windows) else coarse
        moment = min([a for a, _ in windows if moment < a < moment + step], default=moment + step)


def test_scan_moments_are_fine_inside_the_windows_and_coarse_outside() -> None:
    monday = datetime(2026, 10, 12, tzinfo=UTC)
    window = (monday + timedelta(hours=5), monday + timedelta(hours=12))
    moments = list(scan_moments(monday - timedelta(days=1), monday + timedelta(days=1), [window]))
    inside = [m for m in moments if window[0] <= m < window[1]]
    assert inside == [window[0] + timedelta(minutes=15 * i) for i in range(28)]
    assert [m.hour for m in moments if m not in inside] == [0, 6, 12, 18, 0, 12, 18]


def test_through_a_dst_change(world: World) -> None:
    start = datetime(2026, 10, 12, tzinfo=UTC)
    world.add("UB", tz="Europe/Berlin", now=start)
    # every 15 minutes on Monday mornings, 05:00-12:00 UTC (10:00 in Berlin is 08:00 UTC in summer time and
    # 09:00 in winter time), every 6 hours otherwise: 00, 06, 12 and 18 UTC are never 10 o'clock in Berlin
    mondays = [start + timedelta(weeks=week) for week in range(5)]
    mornings = [(monday + timedelta(hours=5), monday + timedelta(hours=12)) for monday in mondays]
    hours = []
    for moment in scan_moments(start, datetime(2026, 11, 10, tzinfo=UTC), mornings):
        before = world.dms()
        world.clock.run_pass(moment)
        if world.dms() != before:
            hours.append(moment.astimezone(zone("Europe/Berlin")).hour)
    assert hours == [10, 10, 10, 10, 10]  # 12, 19, 26 Oct (after the change), 2 and 9 Nov


def test_a_zone_change_moves_the_next_nudge(world: World) -> None:
    world.add("U1", tz="Europe/Berlin")
    with world.sessions.begin() as session:
        person = session.execute(select(Person).where(Person.user_id == "U1")).scalar_one()
        growth.set_timezone(session, person, "America/New_York", now=MONDAY_10_UTC - timedelta(days=1))
    with world.sessions() as session:
        plan = session.execute(select(Plan)).scalar_one()
        assert plan.tz == "America/New_York" and plan.next_due_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_rate_limited_then_sent_exactly_once(world: World) -> None:
    """A 429 is not a failure: the send waits out Retry-After in line and goes in the same pass, using no
    attempt, however many 429s come first."""
    world.add("U1")
    world.fake.fail("chat.postMessage", status=429, retry_after=0, times=4)
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert report.sent == 1 and report.retrying == 0 and report.failed == 0
    assert report.rate_limited == 4 and report.paced == 4
    [delivery] = world.delivery("U1")
    assert delivery.status == "sent" and delivery.attempts == 1
    statuses = [c.status for c in world.fake.calls_to("chat.postMessage")]
    assert statuses == [429, 429, 429, 429, 200]
    assert world.dms() == {"D1": 1}


def test_server_errors_for_a_while(world: World) -> None:
    world.add("U1")
    world.fake.fail("chat.postMessage", status=500, times=-1)
    for minutes in (0, 1, 3):
        world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=minutes))
    assert world.dms() == {}
    world.fake.clear_faults()
    world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=30))
    assert world.dms() == {"D1": 1}
    assert world.delivery("U1")[0].status == "sent"


def test_slow_slack_does_not_duplicate(world: World) -> None:
    for i in range(6):
        world.add(f"U{i}")
    world.fake.slow("chat.postMessage", 0.2)
    world.clock.run_pass(MONDAY_10_UTC)
    assert world.dms() == {f"D{i}": 1 for i in range(6)}


# chat.postMessage by user id answers these (conversations.open said user_disabled for the deactivated)
@pytest.mark.parametrize("flag,error", [({"deleted": True}, "channel_not_found"), ({"is_bot": True}, "cannot_dm_bot")])
def test_unreachable_people_are_marked_and_not_retried(world: World, flag: dict[str, bool], error: str) -> None:
    world.fake.add_user("U1", **flag)
    world.add("U1")
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert report.failed == 1
    with world.sessions() as session:
        plan = session.execute(select(Plan)).scalar_one()
        assert plan.unreachable_reason == error and plan.next_due_at is None
    calls = len(world.fake.calls)
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7))
    assert len(world.fake.calls) == calls  # nothing loops


def test_down_for_a_day_sends_the_missed_week_once(world: World) -> None:
    world.add("U1")
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(days=1))
    assert report.sent == 1
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(days=1, minutes=1)).sent == 0
    assert [d.week_key for d in world.delivery("U1")] == ["2026-W49"]


def test_more_than_a_few_days_late_is_recorded_as_missed(world: World) -> None:
    world.add("U1")
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(days=4))
    assert report.missed == 1 and report.sent == 0
    assert world.dms() == {}
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7))
    assert [(d.week_key, d.status) for d in world.delivery("U1")] == [("2026-W49", "missed"), ("2026-W50", "sent")]


def test_crash_after_slack_accepted_but_before_the_record(world: World) -> None:
    """The clock died between chat.postMessage and recording the ts: the next pass finds the message in
    the DM's history by its metadata and records it instead of sending it again."""
    world.add("U1")
    clock = world.clock
    clock.nudges.schedule_batch(MONDAY_10_UTC, PassReport())  # one plan: one batch
    [claimed] = clock.nudges.sender.claim(MONDAY_10_UTC)
    delivery_id = claimed.delivery_id
    with world.sessions.begin() as session:  # what the dead clock had done before dying
        session.execute(select(Person)).scalar_one().dm_channel_id = "D1"
    clock.senders.waiting(None).chat_postMessage(
        channel="D1",
        text="nudge",
        metadata={"event_type": "ladderbot_nudge", "event_payload": {"delivery_id": delivery_id}},
    )
    assert world.new_clock().run_pass(MONDAY_10_UTC + timedelta(minutes=1)).sent == 0  # claim not stale yet
    report = world.new_clock().run_pass(MONDAY_10_UTC + LEASE + timedelta(minutes=1))
    assert report.recovered == 1 and report.sent == 0
    assert world.dms() == {"D1": 1}
    assert world.delivery("U1")[0].status == "sent"


def test_crash_before_slack_got_it_sends_it_after_the_claim_goes_stale(world: World) -> None:
    world.add("U1")
    clock = world.clock
    clock.nudges.schedule_batch(MONDAY_10_UTC, PassReport())  # one plan: one batch
    clock.nudges.sender.claim(MONDAY_10_UTC)  # ...and the process died here
    report = world.new_clock().run_pass(MONDAY_10_UTC + LEASE + timedelta(minutes=1))
    assert report.sent == 1 and world.dms() == {"D1": 1}


def test_two_clocks_at_once_send_each_nudge_once(world: World) -> None:
    people = 60
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", 0.005)
    world.run_together([world.new_clock(batch_size=7, send_workers=4) for _ in range(2)], MONDAY_10_UTC)
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}


def test_a_pass_with_nothing_due_is_one_indexed_query(world: World) -> None:
    for i in range(50):
        world.add(f"U{i}")
    statements = []
    clock = world.new_clock()
    engine = clock.session_factory.kw["bind"]
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    clock.run_pass(MONDAY_10_UTC - timedelta(hours=1))
    plan_queries = [s for s in statements if "FROM plans" in s]
    assert len(plan_queries) == 1 and "plans.next_due_at <=" in plan_queries[0]


def test_pause_resume_stop(world: World) -> None:
    world.add("U1")
    with world.sessions.begin() as session:
        growth.pause(session, growth.ensure_person(session, "T0001", "U1"), 2, now=MONDAY_10_UTC - timedelta(days=1))
    for week in range(2):
        world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7 * week))
    assert world.dms() == {}
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=14))
    assert world.dms() == {"D1": 1}
    with world.sessions.begin() as session:
        growth.stop(session, growth.ensure_person(session, "T0001", "U1"))
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=21))
    assert world.dms() == {"D1": 1}


def test_remind_me_tomorrow_sends_one_reminder(world: World) -> None:
    world.add("U1")
    world.clock.run_pass(MONDAY_10_UTC)
    [delivery] = world.delivery("U1")
    with world.sessions.begin() as session:
        growth.answer_delivery(
            session,
            growth.ensure_person(session, "T0001", "U1"),
            delivery.id,
            "snoozed",
            now=MONDAY_10_UTC + timedelta(minutes=5),
        )
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(hours=20)).reminders == 0
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(days=1, minutes=6)).reminders == 1
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(days=1, minutes=7)).reminders == 0
    texts = [c.params["text"] for c in world.fake.calls_to("chat.postMessage")]
    assert len(texts) == 2 and texts[1].startswith("Reminder")


def test_forget_leaves_nothing_behind(world: World) -> None:
    world.add("U1")
    world.add("U2")
    world.clock.run_pass(MONDAY_10_UTC)
    with world.sessions.begin() as session:
        person = growth.ensure_person(session, "T0001", "U1")
        growth.add_reflection(session, person, world.delivery("U1")[0].id, "learned a lot", shared=False)
    with world.sessions.begin() as session:
        assert account.forget(session, "T0001", "U1")
    with world.sessions() as session:
        assert session.execute(select(func.count()).select_from(Person).where(Person.user_id == "U1")).scalar() == 0
        for model in (Plan, Delivery, Reflection):
            assert session.execute(select(func.count()).select_from(model)).scalar() == (
                1 if model != Reflection else 0
            )
        assert session.execute(select(Person.user_id)).scalars().all() == ["U2"]


def test_dry_run_sends_nothing(world: World) -> None:
    world.add("U1")
    world.add("UPAUSED")
    with world.sessions.begin() as session:
        growth.pause(
            session, growth.ensure_person(session, "T0001", "UPAUSED"), 2, now=MONDAY_10_UTC - timedelta(days=1)
        )
        session.execute(update(Plan).values(next_due_at=MONDAY_10_UTC))  # both come up in this pass
    report = world.clock.run_pass(MONDAY_10_UTC, dry_run=True)
    assert [w[:2] for w in report.would_send] == [("U1", "2026-W49")]  # a paused plan is owed nothing
    assert world.fake.calls == [] and world.delivery("U1") == []


def test_many_batches_scheduled_while_earlier_ones_are_sent(world: World) -> None:
    """The pass schedules the next batch of plans while the send pool works on the last: every plan due in
    the pass is sent once, the plans move to next week, and a mixed bag (paused, late) is still right."""
    people = 45
    for i in range(people):
        world.add(f"U{i:03d}")
    world.add("UPAUSED")
    with world.sessions.begin() as session:
        plan = session.execute(select(Plan).join(Person).where(Person.user_id == "UPAUSED")).scalar_one()
        plan.paused_until = MONDAY_10_UTC + timedelta(days=2)
    world.fake.slow("chat.postMessage", 0.01)  # keep the pool busy so scheduling overlaps with sending
    report = world.new_clock(batch_size=10, send_workers=2).run_pass(MONDAY_10_UTC)
    assert (report.scheduled, report.sent, report.failed, report.retrying) == (people, people, 0, 0)
    assert world.dms() == {f"D{i:03d}": 1 for i in range(people)}
    with world.sessions() as session:
        due = set(session.execute(select(Plan.next_due_at)).scalars())
        statuses = set(session.execute(select(Delivery.status)).scalars())
    assert due == {MONDAY_10_UTC + timedelta(days=7)} and statuses == {"sent"}


class _SenderWithABug(NudgeSender):
    """A sender whose send step raises for one delivery, as a bug in our own code would."""

    def send(self, item: ClaimedNudge, now: datetime, lease: Lease | None = None, *, wait: bool = False) -> SendResult:
        if item.user_id == "UBUG":
            raise RuntimeError("a bug")
        return super().send(item, now, lease, wait=wait)


def test_a_bug_in_one_send_neither_hangs_the_pass_nor_strands_the_row(world: World) -> None:
    for user in ("U1", "UBUG", "U2"):
        world.add(user)
    sender = _SenderWithABug(world.sessions, world.clock.senders, world.content, batch_size=2, backoff=backoff)
    report = PassReport()
    job = NudgeJob(world.sessions, sender, world.content, send_workers=2, shares=world.clock.shares)
    job.run(MONDAY_10_UTC, report)
    assert (report.sent, report.retrying) == (2, 1)
    [delivery] = world.delivery("UBUG")
    # retried on a later pass; a bug may have raised after the post, so that pass looks in the DM first
    assert (delivery.status, delivery.error) == ("pending", unknown_outcome("RuntimeError"))
    report = world.new_clock().run_pass(MONDAY_10_UTC + timedelta(hours=1))
    assert report.sent == 1 and world.delivery("UBUG")[0].status == "sent"
    assert len(world.fake.calls_to("conversations.history")) == 1
    assert world.dms() == {"D1": 1, "DBUG": 1, "D2": 1}


# `ladderbot nudges run-due`, run in this process: its output and its sends (as a process: test_clock_process)


def run_due(world: World, monkeypatch: pytest.MonkeyPatch, at: datetime, *flags: str) -> int:
    for name, value in server_env(world.fake.url, world.url, 3000).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONTENT_DIR", raising=False)
    code = main(["nudges", "run-due", "--at", at.isoformat(), *flags])
    # a one-shot command leaves its engine's connections to the process's exit; in this process they are
    # swept now, quietly, rather than warned about in whichever later test the garbage collector runs in
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    return code


def test_run_due_dry_run_lists_and_sends_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.add("U1")
    assert run_due(world, monkeypatch, MONDAY_10_UTC, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "U1\t2026-W49\t" in out and "1 due (dry run: nothing sent)" in out
    assert world.fake.calls_to("chat.postMessage") == []


def test_run_due_across_a_dst_change(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Driven by the `ladderbot nudges run-due` command: Monday 10:00 in Berlin before and after 25 October."""
    world.add("UB", tz="Europe/Berlin", now=datetime(2026, 10, 13, tzinfo=UTC))
    steps = [
        (datetime(2026, 10, 19, 7, 59, tzinfo=UTC), 0),  # 09:59 CEST: not yet
        (datetime(2026, 10, 19, 8, 0, tzinfo=UTC), 1),  # 10:00 CEST
        (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), 1),  # 09:00 CET, after the change: not yet
        (datetime(2026, 10, 26, 9, 0, tzinfo=UTC), 2),  # 10:00 CET
        (datetime(2026, 10, 26, 9, 1, tzinfo=UTC), 2),  # no second send
    ]
    for at, expected in steps:
        assert run_due(world, monkeypatch, at) == 0
        assert world.sent() == expected, at
    assert "scheduled 1, sent 1, recovered 0" in capsys.readouterr().out
