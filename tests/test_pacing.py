"""The paced outbox (issue 11): the Pacer's buckets on a hand-moved clock, then whole clock passes against a
fake Slack that enforces Slack's rate limits (bot.testing.fakeslack.ratelimit), on SQLite and PostgreSQL:
no 429 when the limits are known, a 429 is never a failure, one workspace never holds back another, a
learned limit, and several clocks sharing one workspace's budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.clock import Clock, Pacer, PassReport, SlackRates
from bot.clock.pacing import MESSAGE_BURST_SECONDS, POST_MESSAGE, SAFETY, TIER_BURST_SECONDS
from bot.clock.shares import SendShares
from bot.content.records import Content
from bot.storage.models import Delivery, DigestDelivery, SendShare
from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.ratelimit import RateModel
from tests.clockworld import MONDAY_10_UTC, World
from tests.test_digest import DIGEST_AT, build_team, digest_messages

SLACK = SlackRates()  # Slack's limits, as the bot paces by default


class HandClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hand() -> HandClock:
    return HandClock()


def drain(pacer: Pacer, team: str, method: str, channel: str | None = None) -> int:
    """How many calls go at once before the pacer asks to wait."""
    count = 0
    while pacer.take(team, method, channel) == 0:
        count += 1
    return count


# the Pacer on its own ---------------------------------------------------------------------------------------


def test_messages_go_in_a_burst_then_at_the_workspace_rate(hand: HandClock) -> None:
    pacer = Pacer(SlackRates(messages_per_minute=600), clock=hand)
    rate = 10 * SAFETY
    capacity = rate * MESSAGE_BURST_SECONDS
    assert drain(pacer, "T1", POST_MESSAGE) == int(capacity / 2)  # a new bucket starts half full
    wait = pacer.take("T1", POST_MESSAGE)
    assert 0 < wait <= 1 / rate
    assert pacer.take("T1", POST_MESSAGE) == pytest.approx(wait)  # asking again took nothing
    hand.now += 10.0
    assert drain(pacer, "T1", POST_MESSAGE) == int(capacity)  # a full burst after a quiet while, no more
    hand.now += 1.0
    assert drain(pacer, "T1", POST_MESSAGE) == int(rate)


def test_one_channel_gets_about_one_message_a_second(hand: HandClock) -> None:
    pacer = Pacer(SLACK, clock=hand)
    assert pacer.take("T1", POST_MESSAGE, "D1") == 0
    assert pacer.take("T1", POST_MESSAGE, "D1") == pytest.approx(1 / SAFETY, rel=0.01)
    assert pacer.take("T1", POST_MESSAGE, "D2") == 0  # another DM is another channel
    hand.now += 1.1
    assert pacer.take("T1", POST_MESSAGE, "D1") == 0


def test_tier_methods_keep_their_published_rates(hand: HandClock) -> None:
    pacer = Pacer(SLACK, clock=hand)
    tier3 = 50 / 60 * SAFETY
    assert drain(pacer, "T1", "conversations.open") == int(tier3 * TIER_BURST_SECONDS / 2)  # starts half full
    hand.now += 60
    assert drain(pacer, "T1", "conversations.open") == int(tier3 * TIER_BURST_SECONDS)
    pacer.take("T1", "users.list")
    pacer.take("T1", "views.publish")
    hand.now += 60
    assert drain(pacer, "T1", "users.list") == int(20 / 60 * SAFETY * TIER_BURST_SECONDS)
    assert drain(pacer, "T1", "views.publish") == int(100 / 60 * SAFETY * TIER_BURST_SECONDS)
    assert pacer.take("T1", "auth.test") == 0 and pacer.take("T1", "auth.test") == 0  # no tier kept


def test_a_429_pauses_only_the_buckets_it_hit(hand: HandClock) -> None:
    pacer = Pacer(SLACK, clock=hand)
    assert pacer.take("T1", POST_MESSAGE, "D1") == 0
    pacer.rate_limited("T1", POST_MESSAGE, "D1", 30)
    assert pacer.delay("T1", POST_MESSAGE, "D2") == pytest.approx(30)
    assert pacer.delay("T2", POST_MESSAGE, "D1") == 0  # another workspace
    assert pacer.delay("T1", "conversations.open") == 0  # another method of the same workspace
    assert pacer.rate_limited_calls == 1
    hand.now += 30
    assert pacer.take("T1", POST_MESSAGE, "D2") == 0  # one may go as soon as Retry-After has passed


def test_the_unpublished_message_limit_is_learned(hand: HandClock) -> None:
    pacer = Pacer(SlackRates(messages_per_minute=600), clock=hand)
    ceiling = 10 * SAFETY
    pacer.take("T1", POST_MESSAGE)
    pacer.rate_limited("T1", POST_MESSAGE, None, 1)
    pacer.rate_limited("T1", POST_MESSAGE, None, 1)  # the same burst: one lesson
    assert pacer.learned_rate("T1") == pytest.approx(ceiling * 0.8)
    hand.now += 1
    pacer.rate_limited("T1", POST_MESSAGE, None, 1)
    assert pacer.learned_rate("T1") == pytest.approx(ceiling * 0.64)
    for _ in range(20):  # quiet stretches: back up by a tenth each, never above the setting
        hand.now += 31
        pacer.delay("T1", POST_MESSAGE)
    assert pacer.learned_rate("T1") == pytest.approx(ceiling)
    # a published limit is paused by a 429 but not slowed
    pacer.rate_limited("T1", "conversations.open", None, 1)
    hand.now += 1
    assert drain(pacer, "T1", "conversations.open") == 1


def test_clocks_sharing_a_workspace_split_its_rate(hand: HandClock) -> None:
    pacer = Pacer(SlackRates(messages_per_minute=600), clock=hand)
    pacer.set_share("T1", 2)
    assert pacer.rate("T1") == pytest.approx(5 * SAFETY)
    hand.now += 10
    assert drain(pacer, "T1", POST_MESSAGE) == int(5 * SAFETY)
    pacer.set_share("T1", 1)
    assert pacer.rate("T1") == pytest.approx(10 * SAFETY)
    pacer.hold("T1", 2)
    assert pacer.delay("T1", POST_MESSAGE) == pytest.approx(2)  # and then no saved burst: one at a time


def test_a_prepaid_call_uses_the_dispatchers_token(hand: HandClock) -> None:
    pacer = Pacer(SlackRates(messages_per_minute=60), clock=hand)
    assert pacer.take("T1", POST_MESSAGE, "D1") == 0  # the dispatcher's take
    with pacer.prepaid("T1", POST_MESSAGE, "D1"):
        assert pacer.take("T1", POST_MESSAGE, "D1") == 0  # the send thread's call: already paid
        assert pacer.take("T1", POST_MESSAGE, "D1") > 0  # a credit pays for one call only


def test_send_shares_count_the_live_clocks(world: World) -> None:
    pacers = [Pacer(SlackRates(messages_per_minute=600)) for _ in range(3)]
    shares = [SendShares(world.sessions, pacer, heartbeat=0.0, stale=60) for pacer in pacers]
    shares[0].sending({"T1"})
    assert pacers[0].rate("T1") == pytest.approx(10 * SAFETY)
    shares[1].sending({"T1", "T2"})
    shares[0].sending({"T1"})
    assert pacers[0].rate("T1") == pytest.approx(5 * SAFETY) == pytest.approx(pacers[1].rate("T1"))
    assert pacers[1].rate("T2") == pytest.approx(10 * SAFETY)
    shares[1].leave()
    shares[0].sending({"T1"})
    assert pacers[0].rate("T1") == pytest.approx(10 * SAFETY)
    with world.sessions() as session:
        assert session.execute(select(SendShare.clock_id)).scalars().all() == [shares[0].clock_id]


# whole passes against Slack's limits --------------------------------------------------------------------------


@pytest.fixture
def rated_world(database_url: str, content: Content, request: pytest.FixtureRequest) -> Iterator[World]:
    """A world whose fake Slack enforces Slack's limits (at `model`, default: Slack's, at real speed)."""
    marker = request.node.get_closest_marker("model")
    model = marker.args[0] if marker else RateModel()
    fake = FakeSlack(rate_model=model).start()
    world = World(database_url, fake, content)
    try:
        yield world
    finally:
        fake.stop()
        for engine in world.engines:
            engine.dispose()


def limited(fake: FakeSlack) -> int:
    assert fake.rate_limiter is not None
    return int(fake.rate_limiter.stats()["limited"])


def everyone_once(world: World, users: list[str]) -> None:
    assert world.dms() == {"D" + user[1:]: 1 for user in users}
    with world.sessions() as session:
        rows = session.execute(select(Delivery.status, Delivery.attempts)).all()
    assert {tuple(row) for row in rows} == {("sent", 1)}


def test_a_pass_at_slacks_pace_gets_no_429(rated_world: World) -> None:
    users = [f"U{i:03d}" for i in range(25)]
    for user in users:
        rated_world.add(user)
    report = rated_world.new_clock(rates=SLACK).run_pass(MONDAY_10_UTC)
    assert report.sent == 25 and report.rate_limited == 0
    assert limited(rated_world.fake) == 0
    everyone_once(rated_world, users)


@pytest.mark.model(RateModel(workspace_messages_per_minute=300))
def test_a_learned_limit_costs_a_few_429s_and_no_failure(rated_world: World) -> None:
    """The pacer is set to 600 a minute; Slack allows 300. A few 429s teach it (each lesson costs at most the
    posts already on their way: a burst and the send threads); none is a failure."""
    users = [f"U{i:03d}" for i in range(30)]
    for user in users:
        rated_world.add(user)
    clock = rated_world.new_clock(rates=SlackRates(messages_per_minute=600))
    report = clock.run_pass(MONDAY_10_UTC)
    assert report.sent == 30 and report.retrying == report.failed == 0
    assert 0 < report.rate_limited == limited(rated_world.fake) <= 15
    assert clock.pacer.learned_rate("*") < 10 * SAFETY
    everyone_once(rated_world, users)


def test_one_workspace_does_not_hold_back_another(rated_world: World) -> None:
    """A large workspace and a small one are due at once, each with its own token (its own budget): the small
    one's nudges all go within its first second, not after the large one's line."""
    big = [f"U1{i:03d}" for i in range(40)]
    small = [f"U2{i:03d}" for i in range(5)]
    for user in big:
        rated_world.add(user, team="TBIG")
    for user in small:
        rated_world.add(user, team="TSMALL")
    clock = rated_world.new_clock(rates=SLACK, token_for=lambda team: f"xoxb-{team.lower()}")
    report = clock.run_pass(MONDAY_10_UTC)
    assert report.sent == 45 and limited(rated_world.fake) == 0
    posts = [c for c in rated_world.fake.calls_to("chat.postMessage") if c.status == 200]
    order = [c.params["channel"] for c in posts]
    last_small = max(order.index(user) for user in small)
    # in turn, not in line: queued behind the big workspace they would come last (40 to 44); the big one's 40
    # take about four seconds at 10 a second, and a loaded machine may hold one small send back a few turns
    assert last_small < 30, order
    assert {c.token for c in posts} == {"xoxb-tbig", "xoxb-tsmall"}


def test_a_long_retry_after_pauses_only_its_workspace(rated_world: World) -> None:
    big = [f"U1{i:03d}" for i in range(3)]
    small = [f"U2{i:03d}" for i in range(3)]
    for user in big:
        rated_world.add(user, team="TBIG")
    for user in small:
        rated_world.add(user, team="TSMALL")
    clock = rated_world.new_clock(rates=SLACK, token_for=lambda team: f"xoxb-{team.lower()}")
    clock.pacer.rate_limited("TBIG", POST_MESSAGE, None, 2)  # as if Slack had just said Retry-After: 2
    started = time.time()  # the fake stamps its calls with the wall clock
    report = clock.run_pass(MONDAY_10_UTC)
    assert report.sent == 6
    posts = [c for c in rated_world.fake.calls_to("chat.postMessage") if c.status == 200]
    assert sorted(c.params["channel"] for c in posts[:3]) == small  # the small workspace went while big waited
    assert posts[3].at - started >= 1.0  # and big's first post waited out its pause (no upper bound: CI is loaded)


@pytest.mark.model(RateModel(workspace_messages_per_minute=300))
def test_two_clocks_share_one_workspaces_budget(rated_world: World) -> None:
    """Two clocks at once over one workspace stay within its limit together: no 429, everyone once."""
    users = [f"U{i:03d}" for i in range(40)]
    for user in users:
        rated_world.add(user)
    rates = SlackRates(messages_per_minute=300)
    clocks = [rated_world.new_clock(rates=rates, batch_size=10, send_workers=4) for _ in range(2)]
    rated_world.run_together(clocks, MONDAY_10_UTC)
    # none, unless a clock's loop stalls longer than a newcomer's hold (a loaded machine, a locked SQLite), in
    # which case both send at their old shares for that moment: a 429 or two, put back in line, never a failure
    assert limited(rated_world.fake) <= 2
    everyone_once(rated_world, users)


@pytest.mark.model(RateModel(workspace_messages_per_minute=240))
def test_three_clocks_through_a_paced_pass_longer_than_the_lease(rated_world: World) -> None:
    """At Slack's pace a pass outlasts the claim lease several times; the clocks renew their claims, so none
    takes another's rows: no nudge twice, none lost, no 429."""
    users = [f"U{i:03d}" for i in range(40)]
    for user in users:
        rated_world.add(user)
    rates = SlackRates(messages_per_minute=240)
    clocks = [rated_world.new_clock(rates=rates, batch_size=8, lease=timedelta(seconds=2)) for _ in range(3)]
    reports: list[PassReport] = []
    errors: list[Exception] = []

    def run(clock: Clock, delay: float) -> None:
        time.sleep(delay)
        try:
            reports.append(clock.run_pass(MONDAY_10_UTC + timedelta(seconds=delay)))
        except Exception as exc:  # noqa: BLE001 - SQLite's one writer: reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(clock, i * 1.5)) for i, clock in enumerate(clocks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all("locked" in str(e) for e in errors), errors
    if errors:  # a tick that lost the SQLite writer lock is simply the next tick's work
        clocks[0].run_pass(MONDAY_10_UTC + timedelta(minutes=1))
    assert sum(r.lost for r in reports) == 0
    assert limited(rated_world.fake) == 0
    everyone_once(rated_world, users)


# what a 429 may never do -------------------------------------------------------------------------------------


def test_a_rate_limited_history_read_is_waited_out_not_skipped(world: World) -> None:
    """After a send whose outcome is unknown, the look in the DM's history is answered 429: the send waits its
    turn and looks again, and finds the first try; it never posts a second time for want of a look."""
    world.add("U1")
    world.clock.senders.template.timeout = 1
    world.fake.fail("chat.postMessage", delay=1.5, times=1)  # posted, answered too late: outcome unknown
    assert world.clock.run_pass(MONDAY_10_UTC).retrying == 1
    world.fake.wait_for_calls("chat.postMessage", 1)
    world.fake.fail("conversations.history", status=429, retry_after=0, times=3)
    report = world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    assert (report.recovered, report.sent, report.rate_limited) == (1, 0, 3)
    assert world.dms() == {"D1": 1}


def test_a_long_retry_after_gives_the_nudge_back_to_a_later_pass(world: World) -> None:
    """Slack asks for two minutes: the pass does not wait that long; the nudge is pending again from then on,
    with no attempt used, and the next pass after that sends it."""
    world.add("U1")
    world.fake.fail("chat.postMessage", status=429, retry_after=120, times=1)
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert (report.sent, report.retrying, report.failed, report.rate_limited) == (0, 0, 0, 1)
    [delivery] = world.delivery("U1")
    assert (delivery.status, delivery.attempts, delivery.claim_token) == ("pending", 0, None)
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at >= MONDAY_10_UTC + timedelta(minutes=2)
    assert world.clock.run_pass(MONDAY_10_UTC + timedelta(minutes=1)).sent == 0  # not before Slack's time
    # three minutes on: in real time Slack's two minutes (and this process's pause of its bucket) are over; the
    # passes here are minutes apart only on paper, so the pass is a fresh clock's, whose pacer has no pause
    assert world.new_clock().run_pass(MONDAY_10_UTC + timedelta(minutes=3)).sent == 1
    assert world.delivery("U1")[0].attempts == 1 and world.dms() == {"D1": 1}


def test_a_digest_rate_limited_past_its_wait_is_not_a_failure(world: World) -> None:
    build_team(world)
    world.fake.fail("chat.postMessage", status=429, retry_after=0, times=10)  # more than the client waits out
    report = world.clock.run_pass(DIGEST_AT)
    assert (report.digests_sent, report.digests_failed) == (0, 0)
    with world.sessions() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert (row.status, row.attempts) == ("pending", 0)
    world.fake.clear_faults()
    assert world.clock.run_pass(DIGEST_AT + timedelta(minutes=1)).digests_sent == 1
    assert len(digest_messages(world.fake)) == 1


def test_many_looks_at_slacks_tier_pace_all_go_in_one_pass(world: World) -> None:
    """After a crash, 45 nudges' outcomes are unknown, so each needs a look in its DM's history (Tier 3) before
    a resend: they wait their turn at our own pace, many times each, and all go in the one pass; waits for our
    own budget are not 429s and never give a nudge back to a later pass."""
    people = [f"U{i:03d}" for i in range(45)]
    for user in people:
        world.add(user)
    world.fake.fail("chat.postMessage", error="fatal_error", times=-1)
    assert world.clock.run_pass(MONDAY_10_UTC).retrying == len(people)
    with world.sessions.begin() as session:
        session.execute(update(Delivery).values(error="unknown_outcome:ReadTimeout"))
    world.fake.clear_faults()
    tier_pace = SlackRates(messages_per_minute=600_000, channel_per_second=1_000, time_scale=4)
    clock = world.new_clock(rates=tier_pace)
    report = clock.run_pass(MONDAY_10_UTC + timedelta(minutes=5))
    assert (report.sent, report.rate_limited, report.retrying) == (len(people), 0, 0)
    assert report.paced > 20  # the looks did wait for the tier's budget
    assert len(world.fake.calls_to("conversations.history")) == len(people)
    assert world.dms() == {f"D{user[1:]}": 1 for user in people}
