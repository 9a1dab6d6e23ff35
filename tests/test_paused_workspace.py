"""A workspace that Slack pauses for long (a 429 with a Retry-After over MAX_HOLD) does not hold the clock's
pass: its claimed nudges are given back unsent, its other rows are left unclaimed, the other workspaces are
sent for, and a pass after the pause sends each of its nudges exactly once. Digests and reminders of a paused
workspace do not hold the pass either. On SQLite and PostgreSQL.

Slack's pause is kept by the process's pacer in real time, while the passes here are minutes apart only on
paper: a pass "after the pause" is a fresh clock's, as in tests/test_pacing.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.clock import Pacer
from bot.clock.dispatch import Dispatcher
from bot.clock.nudge_sender import ClaimedNudge
from bot.clock.pacing import POST_MESSAGE
from bot.storage.models import Delivery, DigestDelivery
from tests.clockworld import MONDAY_10_UTC, World
from tests.test_digest import DIGEST_AT, build_team, digest_messages
from tests.test_pacing import HandClock

PAUSED = [f"U1{i:02d}" for i in range(6)]  # workspace TPAUSED, answered 429 with Retry-After: 300
OTHER = [f"U2{i:02d}" for i in range(4)]  # workspace TOTHER, never limited
LONG = 300  # Slack's Retry-After, seconds: far over MAX_HOLD


def each_team_its_token(team: str) -> str:
    return f"xoxb-{team.lower()}"


def two_workspaces(world: World) -> None:
    # TPAUSED first: its rows have the lower ids, so its line is served first
    for user in PAUSED:
        world.add(user, team="TPAUSED")
    for user in OTHER:
        world.add(user, team="TOTHER")


def rows(world: World, users: list[str]) -> list[Delivery]:
    return [row for user in users for row in world.delivery(user)]


def once_each(users: list[str]) -> dict[str, int]:
    """Posts by user id land in the DM the fake names D + the id's rest."""
    return {"D" + user[1:]: 1 for user in users}


def test_a_long_pause_gives_back_the_workspaces_line_and_the_pass_ends(world: World) -> None:
    """One send thread, so the first post is the paused workspace's and takes the 429; the pass then gives back
    that workspace's line, claims none of its other rows, sends the other workspace's nudges and ends. A pass
    after the pause sends the paused workspace's nudges, each once."""
    two_workspaces(world)
    # batch_size 2: a line holds two, so the paused workspace's other rows are left to claim while it is paused
    clock = world.new_clock(token_for=each_team_its_token, send_workers=1, batch_size=2)
    world.fake.fail("chat.postMessage", status=429, retry_after=LONG, times=1)

    report = clock.run_pass(MONDAY_10_UTC)

    first = world.fake.calls_to("chat.postMessage")[0]
    assert (first.status, first.token) == (429, "xoxb-tpaused")  # the 429 was the paused workspace's
    # (c) the other workspace was not held back: all of it went in this pass, once each
    assert (report.sent, report.retrying, report.failed, report.missed, report.rate_limited) == (len(OTHER), 0, 0, 0, 1)
    assert world.dms() == once_each(OTHER)
    assert {(r.status, r.attempts) for r in rows(world, OTHER)} == {("sent", 1)}
    # (a) the paused workspace's rows: all pending and unclaimed, no attempt used, nothing given up
    paused = rows(world, PAUSED)
    assert {(r.status, r.attempts, r.claim_token, r.error) for r in paused} == {("pending", 0, None, None)}
    given_back = [r for r in paused if r.next_attempt_at is not None]
    assert report.given_back == len(given_back) >= 2  # the 429's nudge and the rest of its line
    assert all(r.next_attempt_at >= MONDAY_10_UTC + timedelta(seconds=LONG) for r in given_back)
    # claims stopped while paused: the rows beyond the first line (and a top-up made before the 429's answer
    # came back, on a loaded machine) were never claimed, so they carry no time of a given-back claim
    assert len(given_back) <= 3 < len(PAUSED)

    # (b) after the pause: each of the paused workspace's nudges exactly once, and none of the other's again
    later = world.new_clock(token_for=each_team_its_token).run_pass(MONDAY_10_UTC + timedelta(minutes=10))
    assert (later.sent, later.given_back, later.rate_limited) == (len(PAUSED), 0, 0)
    assert world.dms() == once_each(PAUSED + OTHER)
    assert {(r.status, r.attempts) for r in rows(world, PAUSED + OTHER)} == {("sent", 1)}


def test_a_workspace_already_paused_long_is_not_claimed_and_holds_nothing(world: World) -> None:
    """The pacer holds a long pause from an earlier pass of this process: the pass claims none of that
    workspace's rows and sends the others with every send thread; a pass after the pause sends the rest."""
    two_workspaces(world)
    clock = world.new_clock(token_for=each_team_its_token)
    clock.pacer.rate_limited("TPAUSED", POST_MESSAGE, None, LONG)  # as if Slack had just said Retry-After: 300

    report = clock.run_pass(MONDAY_10_UTC)

    assert (report.sent, report.given_back, report.retrying, report.failed) == (len(OTHER), 0, 0, 0)
    assert world.dms() == once_each(OTHER)
    assert {(r.status, r.attempts, r.claim_token, r.next_attempt_at) for r in rows(world, PAUSED)} == {
        ("pending", 0, None, None)
    }
    assert world.new_clock(token_for=each_team_its_token).run_pass(MONDAY_10_UTC + timedelta(minutes=10)).sent == len(
        PAUSED
    )
    assert world.dms() == once_each(PAUSED + OTHER)


def test_a_digest_of_a_workspace_paused_long_waits_for_a_later_pass(world: World) -> None:
    """The digest's post is answered 429 with Retry-After: 300. The waiting client does not sit that out (it
    waits at most MAX_HOLD): the digest is pending again from then on, no attempt used, and the pass ends."""
    build_team(world)
    world.fake.fail("chat.postMessage", status=429, retry_after=LONG, times=1)
    report = world.clock.run_pass(DIGEST_AT)
    assert (report.digests_sent, report.digests_failed) == (0, 0)
    with world.sessions() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert (row.status, row.attempts, row.claim_token) == ("pending", 0, None)
        assert row.next_attempt_at is not None and row.next_attempt_at > DIGEST_AT + timedelta(minutes=4)
    assert world.new_clock().run_pass(DIGEST_AT + timedelta(minutes=10)).digests_sent == 1
    assert len(digest_messages(world.fake)) == 1


def test_a_reminder_of_a_workspace_paused_long_waits_for_a_later_pass(world: World) -> None:
    world.add("U1")
    assert world.clock.run_pass(MONDAY_10_UTC).sent == 1
    remind_at = MONDAY_10_UTC + timedelta(days=1)
    with world.sessions.begin() as session:
        session.execute(update(Delivery).values(remind_at=remind_at))
    world.fake.fail("chat.postMessage", status=429, retry_after=LONG, times=1)
    assert world.clock.run_pass(remind_at).reminders == 0
    assert world.delivery("U1")[0].reminded_at is None  # due again, for a later pass
    assert world.new_clock().run_pass(remind_at + timedelta(minutes=10)).reminders == 1
    assert world.dms() == {"D1": 2}  # the nudge, and its reminder once


# the dispatcher on its own ------------------------------------------------------------------------------------


def claimed(delivery_id: int, team: str) -> ClaimedNudge:
    due = datetime(2026, 11, 30)
    return ClaimedNudge(delivery_id, delivery_id, f"U{delivery_id}", None, "p", due, 1, None, None, team, "tok")


def test_the_dispatcher_gives_back_a_long_paused_line_and_keeps_a_short_one() -> None:
    hand = HandClock()
    pacer = Pacer(clock=hand)
    dispatch = Dispatcher(pacer, lambda team: team, slots=8)
    dispatch.add([claimed(1, "TLONG"), claimed(2, "TLONG"), claimed(3, "TSHORT"), claimed(4, "TOK")])
    dispatch.put_back(claimed(5, "TLONG"), 0.5)  # a send put back in line a moment ago
    pacer.rate_limited("TLONG", POST_MESSAGE, None, LONG)
    pacer.rate_limited("TSHORT", POST_MESSAGE, None, 30)  # under MAX_HOLD: waited for in this pass
    assert [item.delivery_id for item in dispatch.ready()] == [4]
    [(items, pause)] = dispatch.given_back()
    assert sorted(item.delivery_id for item in items) == [1, 2, 5] and pause == LONG
    assert dispatch.given_back() == []  # taken once
    assert dispatch.queued("TLONG") == 0 and dispatch.queued("TSHORT") == 1
    assert dispatch.budgets() == {"TSHORT", "TOK"}  # TOK's send is in flight
