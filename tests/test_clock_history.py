"""The DM's history is read before a resend only when the last try's outcome is unknown (issue 11, item 4):
after a 429 or any other answer from Slack the resend posts straight away; after a timeout or a dead clock it
looks for the first try (finding the DM with conversations.open if needed) and records it instead of posting
again. Both databases, the real client against the fake Slack."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock.outbox import CRASHED, LEASE, outcome_unknown, unknown_outcome
from bot.storage.models import DigestDelivery, Person
from tests.clockworld import MONDAY_10_UTC, World
from tests.test_digest import DIGEST_AT, build_team, charts, digest_messages

LOOKUPS = ("conversations.history", "conversations.open")
# Outlasting slack_sdk's retries (3 for a 429, 2 for a 5xx): the pass ends with the error Slack answered.
CLEAN_ERRORS = [
    pytest.param(500, None, 3, "internal_error", id="500"),
    pytest.param(200, "fatal_error", 1, "fatal_error", id="slack-error"),
]
CLIENT_TIMEOUT = 1  # seconds; the fake answers the scripted post later than this, after posting it


def lookups(world: World) -> int:
    return sum(len(world.fake.calls_to(method)) for method in LOOKUPS)


@pytest.mark.parametrize("status,error,times,recorded", CLEAN_ERRORS)
def test_after_a_clean_slack_error_the_resend_reads_no_history(
    world: World, status: int, error: str | None, times: int, recorded: str
) -> None:
    world.add("U1")
    world.fake.fail("chat.postMessage", status=status, error=error, retry_after=0, times=times)
    assert world.clock.run_pass(MONDAY_10_UTC).retrying == 1
    [delivery] = world.delivery("U1")
    assert delivery.error == recorded and not outcome_unknown(delivery.error)
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    assert report.sent == 1 and world.dms() == {"D1": 1}
    assert lookups(world) == 0


def test_a_rate_limited_send_goes_in_the_same_pass_and_reads_no_history(world: World) -> None:
    world.add("U1")
    world.fake.fail("chat.postMessage", status=429, retry_after=0, times=4)
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert (report.sent, report.retrying, report.rate_limited) == (1, 0, 4)
    assert world.dms() == {"D1": 1} and lookups(world) == 0


def test_after_a_timeout_the_resend_finds_the_first_try_and_posts_nothing(world: World) -> None:
    world.add("U1")
    world.clock.senders.template.timeout = CLIENT_TIMEOUT
    world.fake.fail("chat.postMessage", delay=CLIENT_TIMEOUT + 0.5, times=1)  # posted, answered too late
    assert world.clock.run_pass(MONDAY_10_UTC).retrying == 1
    [delivery] = world.delivery("U1")
    assert outcome_unknown(delivery.error)
    world.fake.wait_for_calls("chat.postMessage", 1)  # the fake has posted it by now
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    assert report.recovered == 1 and report.sent == 0
    # the first try went to the user id and its DM was never stored: conversations.open finds it
    assert len(world.fake.calls_to("conversations.open")) == 1
    assert len(world.fake.calls_to("conversations.history")) == 1
    assert len(world.fake.calls_to("chat.postMessage")) == 1 and world.dms() == {"D1": 1}
    assert world.delivery("U1")[0].status == "sent"


def test_a_clean_error_while_looking_keeps_the_outcome_unknown(world: World) -> None:
    """The look itself fails with Slack's answer before anything is posted: the next try must still look."""
    world.add("U1")
    world.clock.senders.template.timeout = CLIENT_TIMEOUT
    world.fake.fail("chat.postMessage", delay=CLIENT_TIMEOUT + 0.5, times=1)
    world.clock.run_pass(MONDAY_10_UTC)
    world.fake.wait_for_calls("chat.postMessage", 1)
    world.fake.fail("conversations.open", error="internal_error", times=1)
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2)).retrying == 1
    assert outcome_unknown(world.delivery("U1")[0].error)
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=10))
    assert report.recovered == 1 and world.dms() == {"D1": 1}


def test_a_rate_limited_look_waits_in_line_and_still_looks(world: World) -> None:
    """The look is answered 429: it is put back in line, not failed, and looks again in the same pass."""
    world.add("U1")
    world.clock.senders.template.timeout = CLIENT_TIMEOUT
    world.fake.fail("chat.postMessage", delay=CLIENT_TIMEOUT + 0.5, times=1)
    world.clock.run_pass(MONDAY_10_UTC)
    world.fake.wait_for_calls("chat.postMessage", 1)
    world.fake.fail("conversations.open", status=429, retry_after=0, times=4)
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    assert (report.recovered, report.retrying, report.rate_limited) == (1, 0, 4)
    assert world.dms() == {"D1": 1} and len(world.fake.calls_to("chat.postMessage")) == 1


def test_a_clock_that_died_after_a_rate_limited_try_is_looked_for(world: World) -> None:
    """Slack's error first (a known outcome), then a pass claims the row and dies after Slack accepted the post: the
    row taken from the dead clock is marked unknown, so the next clock reads the history and records it."""
    world.add("U1")
    world.fake.fail("chat.postMessage", error="internal_error", times=1)
    world.clock.run_pass(MONDAY_10_UTC)
    assert world.delivery("U1")[0].error == "internal_error"
    retry_at = MONDAY_10_UTC + timedelta(minutes=2)
    [claimed] = world.clock.nudges.sender.claim(retry_at)  # this clock dies after posting
    with world.sessions.begin() as session:
        session.execute(select(Person)).scalar_one().dm_channel_id = "D1"
    world.clock.senders.waiting(None).chat_postMessage(
        channel="D1",
        text="nudge",
        metadata={"event_type": "ladderbot_nudge", "event_payload": {"delivery_id": claimed.delivery_id}},
    )
    report = world.new_clock().run_pass(retry_at + LEASE + timedelta(minutes=1))
    assert report.recovered == 1 and report.sent == 0
    assert len(world.fake.calls_to("conversations.history")) == 1 and world.dms() == {"D1": 1}


def test_a_rate_limited_digest_resend_reads_no_history(world: World) -> None:
    build_team(world)
    world.fake.fail("chat.postMessage", status=429, retry_after=0, times=4)
    report = world.clock.run_pass(DIGEST_AT)
    assert (report.digests_sent, report.digests_failed) == (1, 0)  # waited out in line, not failed
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    assert lookups(world) == 0


def test_a_timed_out_chart_is_found_not_uploaded_again(world: World) -> None:
    build_team(world)
    world.clock.senders.template.timeout = CLIENT_TIMEOUT
    world.fake.fail("files.completeUploadExternal", delay=CLIENT_TIMEOUT + 0.5, times=1)
    assert world.clock.run_pass(DIGEST_AT).digests_failed == 1
    world.fake.wait_for_calls("files.completeUploadExternal", 1)
    with world.sessions() as session:
        assert outcome_unknown(session.execute(select(DigestDelivery.error)).scalar_one())
    world.clock.run_pass(DIGEST_AT + timedelta(minutes=2))
    assert len(world.fake.calls_to("conversations.history")) == 1
    assert len(world.fake.calls_to("files.completeUploadExternal")) == 1
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    with world.sessions() as session:
        assert session.execute(select(DigestDelivery.status)).scalar_one() == "sent"


def test_unknown_outcomes_are_marked_by_a_prefix() -> None:
    assert outcome_unknown(unknown_outcome("TimeoutError")) and outcome_unknown(CRASHED)
    assert unknown_outcome(CRASHED) == CRASHED  # marked once
    assert len(unknown_outcome("x" * 200)) == 100  # fits the column
    assert not any(outcome_unknown(e) for e in (None, "ratelimited", "internal_error", "gave_up:ratelimited"))
