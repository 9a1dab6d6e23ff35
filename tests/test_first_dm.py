"""First DMs by user id: chat.postMessage with channel=<user id>, the DM channel from Slack's answer stored for
reuse, and conversations.open (Tier 3, about 50 a minute) only to read the history of a DM whose channel is
unknown before a resend. Through the fake Slack in-process, the clock on both databases and the real server;
and the welcome DM on any first use, /growth and the App Home included."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import PassReport
from bot.clock.outbox import STALE_CLAIM
from bot.ids import ActionId
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import DigestDelivery, Person
from bot.testing.fakeslack import FakeSlack, User
from bot.testing.fakeslack.methods import answer
from bot.testing.fakeslack.state import SlackState
from tests.clockworld import MONDAY_10_UTC, World
from tests.server import RunningServer
from tests.slack_requests import block_action_body, event_body
from tests.test_digest import DIGEST_AT, MANAGER, build_team, charts, digest_messages
from tests.waiting import response_to, stays, wait_until

# --- the fake Slack, as Slack answers -------------------------------------------------------------


def call(state: SlackState, method: str, **params: Any) -> dict[str, Any]:
    body = json.dumps({"token": "xoxb-test", **params}).encode()
    status, answer_body, _ = answer(state, method, body, {"Content-Type": "application/json"})
    assert status == 200
    return answer_body


def test_a_post_by_user_id_lands_in_the_dm_conversations_open_names() -> None:
    state = SlackState("T1")
    posted = call(state, "chat.postMessage", channel="U1", text="hello")  # nobody known: anyone goes
    assert posted["ok"] and posted["channel"] == "D1"
    assert call(state, "conversations.open", users="U1")["channel"] == {"id": "D1"}
    history = call(state, "conversations.history", channel="D1")["messages"]
    assert [m["text"] for m in history] == ["hello"]
    assert call(state, "chat.postMessage", channel="D1", text="again")["channel"] == "D1"
    assert call(state, "chat.postMessage", channel="W2", text="grid")["channel"] == "D2"  # Enterprise Grid ids


def test_a_post_by_user_id_is_refused_as_slack_refuses_it() -> None:
    state = SlackState("T1")
    state.users["U1"] = User("U1")
    state.users["UBOT2"] = User("UBOT2", is_bot=True)
    state.users["UGONE"] = User("UGONE", deleted=True)
    assert call(state, "chat.postMessage", channel="U1", text="x")["channel"] == "D1"
    assert call(state, "chat.postMessage", channel="UNOBODY", text="x")["error"] == "channel_not_found"
    assert call(state, "chat.postMessage", channel="UBOT2", text="x")["error"] == "cannot_dm_bot"
    assert call(state, "chat.postMessage", channel="UGONE", text="x")["error"] == "channel_not_found"
    assert call(state, "conversations.open", users="UNOBODY")["error"] == "user_not_found"
    assert call(state, "conversations.open", users="UBOT2")["error"] == "cannot_dm_bot"
    assert call(state, "conversations.open", users="UGONE")["error"] == "user_disabled"
    assert list(state.messages) == [("D1", state.calls[0].response["ts"])]  # a refused post stores nothing


# --- the clock, on SQLite and PostgreSQL ----------------------------------------------------------


def dm_channels(world: World) -> dict[str, str | None]:
    with world.sessions() as session:
        return {p.user_id: p.dm_channel_id for p in session.execute(select(Person)).scalars()}


def test_the_first_weeks_nudges_open_no_dm_and_post_once_per_person(world: World) -> None:
    users = [f"U{i}" for i in range(12)]
    for user in users:
        world.add(user)
    report = world.clock.run_pass(MONDAY_10_UTC)
    assert report.sent == len(users)
    assert world.fake.calls_to("conversations.open") == []
    posts = world.fake.calls_to("chat.postMessage")
    assert Counter(c.params["channel"] for c in posts) == Counter(users)  # one post per person, by user id
    assert dm_channels(world) == {u: "D" + u[1:] for u in users}  # Slack's answer, stored for reuse
    assert {d.channel_id for u in users for d in world.delivery(u)} == {"D" + u[1:] for u in users}
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7))  # the second week: to the stored DM channels
    assert Counter(c.params["channel"] for c in world.fake.calls_to("chat.postMessage")[len(posts) :]) == Counter(
        "D" + u[1:] for u in users
    )
    assert world.fake.calls_to("conversations.open") == []
    assert world.dms() == {"D" + u[1:]: 2 for u in users}


def test_a_clock_that_died_after_posting_by_user_id_opens_the_dm_once_and_does_not_resend(world: World) -> None:
    """The first try posted by user id and the clock died before recording the ts and the DM channel Slack
    answered with. The resend must read the DM's history, which needs a channel id: conversations.open, once,
    for this recovery only. The nudge is found by its metadata and recorded, not sent again."""
    world.add("U1")
    dead = world.clock
    dead.nudges.schedule_batch(MONDAY_10_UTC, PassReport())
    [claimed] = dead.nudges.sender.claim(MONDAY_10_UTC)
    assert claimed.dm_channel_id is None
    first = dead.nudges.sender.send(claimed, MONDAY_10_UTC)  # Slack got it; record() never ran
    assert first.outcome == "sent" and world.fake.calls_to("chat.postMessage")[0].params["channel"] == "U1"
    assert dm_channels(world) == {"U1": None}

    report = world.new_clock().run_pass(MONDAY_10_UTC + STALE_CLAIM + timedelta(minutes=1))
    assert (report.recovered, report.sent) == (1, 0)
    assert world.dms() == {"D1": 1}
    assert [c.params["users"] for c in world.fake.calls_to("conversations.open")] == ["U1"]
    assert [c.params["channel"] for c in world.fake.calls_to("conversations.history")] == ["D1"]
    [delivery] = world.delivery("U1")
    assert (delivery.status, delivery.channel_id, delivery.message_ts) == ("sent", "D1", first.ts)
    assert dm_channels(world) == {"U1": "D1"}  # kept: the next resend or read needs no open
    world.clock.run_pass(MONDAY_10_UTC + timedelta(days=7))
    assert world.dms() == {"D1": 2} and len(world.fake.calls_to("conversations.open")) == 1


def test_a_clock_that_died_before_posting_sends_once_after_opening_the_dm(world: World) -> None:
    world.add("U1")
    world.clock.nudges.schedule_batch(MONDAY_10_UTC, PassReport())
    world.clock.nudges.sender.claim(MONDAY_10_UTC)  # ...and the process died before any post
    report = world.new_clock().run_pass(MONDAY_10_UTC + STALE_CLAIM + timedelta(minutes=1))
    assert (report.recovered, report.sent) == (0, 1)
    assert world.dms() == {"D1": 1}
    assert len(world.fake.calls_to("conversations.open")) == 1  # the history read needed the channel
    assert world.fake.calls_to("chat.postMessage")[0].params["channel"] == "D1"  # known by then
    assert dm_channels(world) == {"U1": "D1"}


def test_the_first_digest_posts_by_user_id_and_shares_its_chart_in_the_dm_slack_named(world: World) -> None:
    build_team(world)
    with world.sessions.begin() as session:  # the manager has had no DM from us yet
        session.execute(update(Person).values(dm_channel_id=None))
    world.clock.run_pass(DIGEST_AT)
    assert world.fake.calls_to("conversations.open") == []
    [summary] = [c for c in world.fake.calls_to("chat.postMessage") if "digest" in c.params["text"]]
    assert summary.params["channel"] == MANAGER and summary.response["channel"] == "D" + MANAGER[1:]
    assert len(digest_messages(world.fake)) == 1
    [chart] = charts(world.fake)
    assert chart["channels"] == ["D" + MANAGER[1:]]  # files.uploadV2 needs a channel id: the summary's
    assert dm_channels(world)[MANAGER] == "D" + MANAGER[1:]


def test_a_digest_whose_first_try_posted_by_user_id_is_not_posted_again(world: World) -> None:
    build_team(world)
    with world.sessions.begin() as session:
        session.execute(update(Person).values(dm_channel_id=None))
    world.clock.run_pass(DIGEST_AT)
    with world.sessions.begin() as session:  # rewind to "posted by user id, then died": no channel anywhere
        session.execute(
            update(DigestDelivery).values(
                status="sending",
                message_ts=None,
                chart_file_id=None,
                channel_id=None,
                claimed_at=DIGEST_AT,
                claim_token="dead",
            )
        )
        session.execute(update(Person).values(dm_channel_id=None))
    world.new_clock().run_pass(DIGEST_AT + STALE_CLAIM + timedelta(minutes=5))
    assert [c.params["users"] for c in world.fake.calls_to("conversations.open")] == [MANAGER]
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    with world.sessions() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert (row.status, row.channel_id) == ("sent", "D" + MANAGER[1:])
    assert dm_channels(world)[MANAGER] == "D" + MANAGER[1:]


# --- through the real server: the welcome on any first use, invitations by user id -----------------


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


@pytest.fixture
def dbs(server: RunningServer) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def welcomes(fake: FakeSlack, user: str) -> list[Any]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.params["channel"] in (user, "D" + user[1:]) and "Set up my growth plan" in json.dumps(c.params["blocks"])
    ]


def welcomed(fake: FakeSlack, user: str) -> Any:
    [welcome] = wait_until(lambda: welcomes(fake, user), what=f"the welcome DM to {user}")
    return welcome


def dm_channel_of(sessions: sessionmaker[Session], user: str) -> str | None:
    with sessions() as session:
        person = repo.get_person(session, "T0001", user)
        return person.dm_channel_id if person else None


def test_growth_as_the_first_command_gets_one_welcome_by_user_id(
    server: RunningServer, fake_slack: FakeSlack, dbs: sessionmaker[Session]
) -> None:
    user = new_user()
    reply = server.sender.command("/growth", "level mid", user_id=user)
    assert reply.status == 200 and "Level set" in reply.json()["text"]
    welcome = welcomed(fake_slack, user)
    assert welcome.params["channel"] == user and welcome.response["channel"] == "D" + user[1:]
    wait_until(lambda: dm_channel_of(dbs, user) == "D" + user[1:], what="the DM channel stored")
    server.sender.command("/growth", "focus security", user_id=user)
    server.sender.command("/ladder", "", user_id=user)
    assert stays(lambda: len(welcomes(fake_slack, user)) == 1, 0.5)
    assert fake_slack.calls_to("conversations.open") == []


def test_the_app_home_or_its_setup_button_as_a_first_use_gets_the_welcome(
    server: RunningServer, fake_slack: FakeSlack
) -> None:
    home, button = new_user(), new_user()
    server.sender.post(
        event_body({"type": "app_home_opened", "user": home, "channel": "D1", "tab": "home", "event_ts": "1.2"}),
        content_type="application/json",
    )
    server.sender.post(block_action_body(ActionId.GROWTH_SETUP_OPEN, "", user_id=button))
    assert welcomed(fake_slack, home).params["channel"] == home
    assert welcomed(fake_slack, button).params["channel"] == button
    server.sender.command("/growth", "", user_id=home)
    assert stays(lambda: len(welcomes(fake_slack, home)) == 1, 0.5)


def test_a_rate_limited_welcome_is_sent_on_the_next_use(
    server: RunningServer, fake_slack: FakeSlack, dbs: sessionmaker[Session]
) -> None:
    """A 429 proves nothing was posted: the claim is released and the next use sends the welcome, once."""
    user = new_user()
    fake_slack.fail("chat.postMessage", status=429, retry_after=0, times=-1)
    server.sender.command("/growth", "", user_id=user)
    wait_until(lambda: f"could not record or welcome T0001/{user}" in server.log(), what="the failed welcome")
    # the try and five more, each after waiting out its Retry-After at the pacer (PacedClient.max_429s)
    assert [c.status for c in welcomes(fake_slack, user)] == [429] * 6
    with dbs() as session:
        person = repo.get_person(session, "T0001", user)
        assert person is not None and person.welcomed_at is None and person.dm_channel_id is None
    fake_slack.clear_faults()
    server.sender.command("/growth", "", user_id=user)
    assert welcomed_ok(fake_slack, user)
    server.sender.command("/ladder", "", user_id=user)
    assert stays(lambda: len([c for c in welcomes(fake_slack, user) if c.status == 200]) == 1, 0.5)
    wait_until(lambda: dm_channel_of(dbs, user) == "D" + user[1:], what="the DM channel stored")


def welcomed_ok(fake: FakeSlack, user: str) -> Any:
    return wait_until(lambda: [c for c in welcomes(fake, user) if c.status == 200], what=f"a welcome to {user}")


def test_a_welcome_slack_refuses_is_not_tried_again(server: RunningServer, fake_slack: FakeSlack) -> None:
    """cannot_dm_bot does not pass: the claim stays, so later uses cost Slack nothing."""
    user = new_user()
    fake_slack.add_user(user, is_bot=True)
    server.sender.command("/growth", "", user_id=user)
    wait_until(lambda: welcomes(fake_slack, user), what="the refused welcome")
    assert welcomes(fake_slack, user)[0].response["error"] == "cannot_dm_bot"
    server.sender.command("/growth", "level mid", user_id=user)
    server.sender.command("/ladder", "", user_id=user)
    assert stays(lambda: len(welcomes(fake_slack, user)) == 1, 0.5)


def test_invitations_and_the_acceptance_notice_go_by_user_id(
    server: RunningServer, fake_slack: FakeSlack, dbs: sessionmaker[Session]
) -> None:
    manager, report = new_user(), new_user()
    fake_slack.add_user(manager, name="mgr" + manager[-4:].lower())
    fake_slack.add_user(report, name="rep" + report[-4:].lower())
    url = fake_slack.response_url()
    server.sender.command("/growth", f"team add <@{report}|rep>", user_id=manager, response_url=url)
    asked = response_to(fake_slack, url)
    assert f"Asked <@{report}>" in asked["text"] + json.dumps(asked.get("blocks", []))
    [invite] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == report]
    assert invite.response["channel"] == "D" + report[1:]
    stored = fake_slack.messages[(invite.response["channel"], invite.response["ts"])]
    value = next(
        e["value"]
        for b in stored["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == ActionId.FOLLOW_ACCEPT
    )
    reply = server.sender.post(
        block_action_body(
            ActionId.FOLLOW_ACCEPT,
            value,
            user_id=report,
            channel_id=invite.response["channel"],
            message_ts=invite.response["ts"],
            response_url=fake_slack.response_url(),
        )
    )
    assert reply.status == 200
    [told] = fake_slack.wait_for_calls(  # to this manager: another test's notice may still be on its way
        "chat.postMessage",
        1,
        timeout=20,
        where=lambda c: "accepted" in c.params.get("text", "") and c.response.get("channel") == "D" + manager[1:],
    )
    assert told.params["channel"] == manager and told.response["channel"] == "D" + manager[1:]
    assert fake_slack.calls_to("conversations.open") == []
