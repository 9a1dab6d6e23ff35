"""Followers through the real server, on SQLite and PostgreSQL: consent by DM, /growth team, /growth
managers, /growth org, and every refusal from the side of someone who should be refused."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.ids import ActionId, BlockId, CallbackId
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import DigestPlan, Follow
from tests.slack_requests import block_action_body, event_body, view_submission_body
from tests.test_export_file import exported
from tests.test_growth_server import run_clock_at, send_due_nudge
from tests.waiting import response_to

SECRET_REFLECTION = "my private worry about the reorg"
SHARED_REFLECTION = "I led my first design review"


def uid(prefix: str) -> str:
    return "U" + prefix.upper() + uuid.uuid4().hex[:6].upper()


@pytest.fixture
def dbs(server):
    engine = db.make_engine(server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


class Slack:
    """Drives the server as people in Slack would, and reads what the fake Slack received."""

    def __init__(self, server, fake):
        self.server, self.fake = server, fake

    def person(self, prefix: str, **fields) -> str:
        user = uid(prefix)
        self.fake.add_user(user, name=fields.pop("name", prefix + user[-4:].lower()), **fields)
        return user

    def ack(self, user: str, text: str, team_id: str = "T0001") -> str:
        reply = self.server.sender.command("/growth", text, user_id=user, team_id=team_id)
        assert reply.status == 200, reply.body
        body = reply.json()
        return body["text"] + json.dumps(body.get("blocks", []), ensure_ascii=False)

    def lazy(self, user: str, text: str, team_id: str = "T0001") -> str:
        """A /growth subcommand answered through response_url; returns that answer."""
        url = self.fake.response_url()
        reply = self.server.sender.command("/growth", text, user_id=user, team_id=team_id, response_url=url)
        assert reply.status == 200, reply.body
        answer = response_to(self.fake, url)  # by its URL: an earlier test's late answer may land meanwhile
        return answer.get("text", "") + json.dumps(answer.get("blocks", []), ensure_ascii=False)

    def invite_of(self, report: str) -> tuple[str, str]:
        """(follow id, message ts) of the newest invitation DM to `report`."""
        channel = "D" + report[1:]
        for message in reversed(self.fake.messages_to(channel)):
            for block in message.get("blocks") or []:
                for element in block.get("elements") or []:
                    if element.get("action_id") == ActionId.FOLLOW_ACCEPT:
                        return element["value"], message["ts"]
        raise AssertionError(f"no invitation DM to {report}")

    def click(
        self, action_id: str, value: str, user: str, *, ts: str = "1.1", team_id: str = "T0001", channel=""
    ) -> str:
        """Click a button as `user`; returns the click's response URL (for tests.waiting.response_to)."""
        url = self.fake.response_url()
        reply = self.server.sender.post(
            block_action_body(
                action_id,
                value,
                user_id=user,
                team_id=team_id,
                channel_id=channel or "D" + user[1:],
                message_ts=ts,
                response_url=url,
            )
        )
        assert reply.status == 200, reply.body
        return url

    def answer_invite(self, report: str, accept: bool = True) -> str:
        follow_id, ts = self.invite_of(report)
        self.click(ActionId.FOLLOW_ACCEPT if accept else ActionId.FOLLOW_DECLINE, follow_id, report, ts=ts)
        # this invitation's own update: counting all updates, another test's late one could stand in for it
        assert self.fake.wait_for_calls("chat.update", 1, timeout=20, where=lambda c: c.params.get("ts") == ts)
        return follow_id

    def plan(self, user: str, level: str = "mid", focus: str = "security") -> None:
        self.ack(user, f"level {level}")
        self.ack(user, f"focus {focus}")


@pytest.fixture
def slack(server, fake_slack):
    return Slack(server, fake_slack)


@pytest.fixture
def team(slack):
    """A manager who asked alice (accepted, with a plan) and bob (still pending)."""
    manager = slack.person("mgr")
    alice = slack.person("alice", real_name="Alice Example")
    bob = slack.person("bob")
    slack.plan(alice, "mid", "security api")
    slack.plan(bob, "senior", "data")
    answer = slack.lazy(manager, f"team add <@{alice}|alice> @{slack.fake.users[bob].name}")
    assert f"Asked <@{alice}>" in answer and f"Asked <@{bob}>" in answer
    slack.answer_invite(alice)
    return manager, alice, bob


def test_a_manager_adds_reports_who_accept_and_sees_their_summary(slack, team, fake_slack):
    manager, alice, bob = team
    # alice's DM holds her welcome (her first /growth) and the invitation
    [invite] = [m for m in fake_slack.messages_to("D" + alice[1:]) if "would not see" in json.dumps(m["blocks"])]
    assert "reflections" in json.dumps(invite["blocks"])
    summary = slack.ack(manager, "team")
    assert "Your team's growth: 1 person" in summary
    assert f"<@{alice}>: Mid-level" in summary and "Senior" in summary and "Senior · security, api ·" in summary
    assert "answered 0/0 (4 wk)" in summary and "streak 0" in summary
    assert f"*Waiting for an answer:* <@{bob}>" in summary
    # alice's focus only: bob has not accepted
    assert "*Focus areas:* API design and integration 1 · Security and compliance 1\\n" in summary
    assert "Biggest shared gap" in summary
    one = slack.lazy(manager, f"team @{fake_slack.users[alice].name}")  # a plain name, escaping off
    assert "Growth: 1 person" in one and f"<@{alice}>: Mid-level" in one and bob not in one
    # the manager was told once that alice accepted; a second click changes nothing and tells nobody
    told = fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20, where=accepted_notice_to(manager))
    assert len(told) == 1 and told[0].params["channel"] == manager  # by user id: no conversations.open
    assert told[0].response["channel"] == "D" + manager[1:]
    [update] = [c for c in fake_slack.calls_to("chat.update") if c.params.get("ts") == invite["ts"]]
    assert "You accepted" in json.dumps(update.params["blocks"])
    assert "follow_accept" not in json.dumps(update.params["blocks"])  # the buttons are gone


def accepted_notice_to(manager: str):
    """Selects the notice to `manager` that someone accepted, not one to another test's manager still on its way
    (the first click tells the follower after the invitation's update, which is what tests wait for)."""
    dm = "D" + manager[1:]
    return lambda c: (
        "accepted" in c.params.get("text", "") and dm in (c.params.get("channel"), c.response.get("channel"))
    )


def test_accepting_twice_tells_the_manager_once(slack, fake_slack, dbs):
    manager, alice = slack.person("mgr"), slack.person("alice")
    slack.lazy(manager, f"team add <@{alice}>")
    follow_id, ts = slack.invite_of(alice)
    for clicks in (1, 2):
        slack.click(ActionId.FOLLOW_ACCEPT, follow_id, alice, ts=ts)
        fake_slack.wait_for_calls("chat.update", clicks, timeout=20, where=lambda c: c.params.get("ts") == ts)
    # the first click tells the manager after its update, so wait for that; the second decided not to tell
    # before its own update, which has arrived, so the count below is final
    told = fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20, where=accepted_notice_to(manager))
    assert len(told) == 1


def test_the_summary_counts_answers_and_streaks(slack, team, fake_slack, content, server, dbs):
    manager, alice, _ = team
    delivery = send_due_nudge(server, fake_slack, content, alice, dbs)
    slack.click(ActionId.NUDGE_DONE, str(delivery.id), alice, ts=delivery.message_ts, channel=delivery.channel_id)
    fake_slack.wait_for_calls("chat.update", 2)
    summary = slack.ack(manager, "team")
    assert "answered 1/1 (4 wk), 1/1 (12 wk)" in summary and "streak 1" in summary
    assert "last check-in never" not in summary


def test_reflections_show_only_when_their_author_shares_them(slack, team, fake_slack, server, content, dbs):
    manager, alice, _ = team
    delivery = send_due_nudge(server, fake_slack, content, alice, dbs)
    for text, shared in ((SECRET_REFLECTION, False), (SHARED_REFLECTION, True)):
        values = {
            BlockId.REFLECTION_TEXT: {ActionId.REFLECTION_TEXT: {"type": "plain_text_input", "value": text}},
            BlockId.REFLECTION_SHARED: {
                ActionId.REFLECTION_SHARED: {"type": "checkboxes", "selected_options": [{"value": "shared"}] * shared}
            },
        }
        reply = slack.server.sender.post(
            view_submission_body(CallbackId.REFLECTION, values, private_metadata=str(delivery.id), user_id=alice)
        )
        assert reply.status == 200
    summary = slack.ack(manager, "team")
    assert SHARED_REFLECTION in summary and SECRET_REFLECTION not in summary
    # the author still sees both in their own export
    export = json.dumps(exported(slack.server, slack.fake, alice)[2], ensure_ascii=False)
    assert SHARED_REFLECTION in export and SECRET_REFLECTION in export


# --- refusals: everyone who should see nothing -------------------------------------------------------


def assert_no_data_of(text: str, alice: str) -> None:
    assert "Mid-level" not in text and "Security" not in text and SHARED_REFLECTION not in text
    assert "answered" not in text


def test_a_person_with_no_relation_is_refused(slack, team):
    _, alice, _ = team
    stranger = slack.person("stranger")
    answer = slack.ack(stranger, f"team <@{alice}|alice>")
    assert "has not agreed to share their growth with you" in answer
    assert_no_data_of(answer, alice)
    assert "You don't follow anyone yet" in slack.ack(stranger, "team")


def test_a_manager_of_other_people_sees_only_their_own_reports(slack, team):
    _, alice, _ = team
    other_manager, carol = slack.person("mgr2"), slack.person("carol")
    slack.plan(carol, "junior", "data")
    slack.lazy(other_manager, f"team add <@{carol}>")
    slack.answer_invite(carol)
    summary = slack.ack(other_manager, "team")
    assert f"<@{carol}>" in summary and alice not in summary
    assert "has not agreed" in slack.ack(other_manager, f"team <@{alice}>")


def test_a_pending_or_declined_invitation_shows_no_data(slack, team):
    manager, _, bob = team
    pending = slack.ack(manager, f"team <@{bob}>")
    assert "has not agreed" in pending and "Senior" not in pending
    slack.answer_invite(bob, accept=False)
    summary = slack.ack(manager, "team")
    assert bob not in summary  # declined: not even listed as waiting
    assert "declined recently" in slack.lazy(manager, f"team add <@{bob}>")


def test_a_manager_after_the_report_left_sees_nothing(slack, team, fake_slack):
    manager, alice, _ = team
    listing = slack.ack(alice, "managers")
    assert f"<@{manager}> sees your growth summary" in listing
    follow_id = next(
        e["value"]
        for b in json.loads(listing[listing.index("[") :])
        for e in [b.get("accessory") or {}]
        if e.get("action_id") == ActionId.FOLLOW_LEAVE
    )
    answer = response_to(fake_slack, slack.click(ActionId.FOLLOW_LEAVE, follow_id, alice))
    assert answer["replace_original"] is True and "Nobody follows your growth" in answer["text"]
    summary = slack.ack(manager, "team")
    assert alice not in summary and "Mid-level" not in summary
    assert "has not agreed" in slack.ack(manager, f"team <@{alice}>")


def test_a_manager_who_removed_a_report_sees_nothing(slack, team):
    manager, alice, _ = team
    assert f"You no longer follow <@{alice}>" in slack.lazy(manager, f"team remove <@{alice}>")
    assert alice not in slack.ack(manager, "team")


def test_nobody_but_the_invited_person_can_answer(slack, fake_slack, dbs):
    manager, alice, mallory = slack.person("mgr"), slack.person("alice"), slack.person("mallory")
    slack.lazy(manager, f"team add <@{alice}>")
    follow_id, ts = slack.invite_of(alice)
    for clicker, team_id in ((mallory, "T0001"), (manager, "T0001"), (alice, "T0OTHER")):
        url = slack.click(ActionId.FOLLOW_ACCEPT, follow_id, clicker, ts=ts, team_id=team_id)
        assert "not for you" in response_to(fake_slack, url)["text"]
    with dbs() as session:
        assert session.get(Follow, int(follow_id)).status == "pending"
    assert "has not agreed" in slack.ack(manager, f"team <@{alice}>")


def test_an_admin_gets_aggregates_never_one_persons_data(slack, team, fake_slack):
    _, alice, _ = team
    admin = slack.person("admin", is_admin=True)
    answer = slack.ack(admin, f"team <@{alice}>")
    assert "has not agreed" in answer
    assert_no_data_of(answer, alice)
    org = slack.lazy(admin, "org")
    assert alice not in org
    assert "Workspace growth, in aggregate" in org or "Workspace figures need at least 5" in org


def test_org_is_refused_to_people_who_are_not_admins(slack, team):
    manager, _, _ = team
    assert "`/growth org` is for workspace admins" in slack.lazy(manager, "org")


def test_org_folds_small_groups(slack, fake_slack, server, dbs):
    admin = slack.person("admin", is_owner=True)
    for _ in range(6):
        slack.plan(slack.person("eng"), "senior", "security")
    loner = slack.person("loner")
    slack.plan(loner, "principal", "data")
    org = slack.lazy(admin, "org")
    assert "Workspace growth, in aggregate" in org
    assert "Principal" not in org and "other" in org
    assert loner not in org


def test_another_workspaces_team_id_sees_nothing(slack, team):
    manager, alice, _ = team
    assert "You don't follow anyone yet" in slack.ack(manager, "team", team_id="T0OTHER")
    assert "has not agreed" in slack.ack(manager, f"team <@{alice}>", team_id="T0OTHER")
    assert "Nobody follows your growth" in slack.ack(alice, "managers", team_id="T0OTHER")


def test_exports_hold_only_the_askers_own_side(slack, team):
    manager, alice, _ = team
    export = exported(slack.server, slack.fake, manager)[2]
    assert export["plan"] is None and export["reflections"] == []
    assert {f["user_id"] for f in export["following"]} >= {alice}
    assert "mid" not in json.dumps(export["following"])
    alice_export = exported(slack.server, slack.fake, alice)[2]
    assert [f["user_id"] for f in alice_export["followers"]] == [manager]


def test_the_app_home_shows_counts_not_people(slack, team, fake_slack):
    manager, alice, _ = team

    def mine(call) -> bool:  # not another test's App Home, published late
        return call.params.get("user_id") == manager

    before = len([c for c in fake_slack.calls_to("views.publish") if mine(c)])
    slack.server.sender.post(event_body({"type": "app_home_opened", "user": manager, "tab": "home"}))
    [*_, call] = fake_slack.wait_for_calls("views.publish", before + 1, timeout=20, where=mine)
    view = json.dumps(call.params["view"], ensure_ascii=False)
    assert "you follow 1 person" in view and alice not in view


def test_forget_removes_follows_both_ways(slack, team, dbs):
    manager, alice, _ = team
    slack.ack(manager, "team digest on")
    forget = slack.server.sender.post(
        block_action_body(
            ActionId.GROWTH_FORGET_CONFIRM, "confirm", user_id=manager, response_url=slack.fake.response_url()
        )
    )
    assert forget.status == 200
    with dbs() as session:
        assert repo.get_person(session, "T0001", manager) is None
        alice_id = repo.get_person(session, "T0001", alice).id
        assert session.execute(select(Follow).where(Follow.report_id == alice_id)).first() is None
    assert "Nobody follows your growth" in slack.ack(alice, "managers")


def test_mentions_of_bots_self_and_unknown_names_get_clear_answers(slack):
    manager = slack.person("mgr")
    bot_user = slack.person("bot", is_bot=True)
    answer = slack.lazy(manager, f"team add <@{manager}> <@{bot_user}> @nosuchperson")
    assert "You can't follow yourself" in answer and "is a bot" in answer
    assert "No one here is called @nosuchperson" in answer
    assert "Name at most" not in answer
    long = slack.lazy(manager, "team add " + " ".join(f"<@U{i:06d}>" for i in range(40)))
    assert "at most 20" in long


def test_the_weekly_digest_end_to_end(slack, team, fake_slack, server, content, dbs):
    """Opted in by command, sent by the real clock, with the summary and a chart the fake Slack opened."""
    manager, alice, bob = team
    answer = slack.ack(manager, "team digest on friday 16:30")
    assert "Your team digest comes on Fridays at 16:30" in answer
    with dbs() as session:
        person = repo.get_person(session, "T0001", manager)
        due = session.execute(select(DigestPlan.next_due_at).where(DigestPlan.person_id == person.id)).scalar_one()
    run_clock_at(server, fake_slack, content, due)
    run_clock_at(server, fake_slack, content, due + timedelta(minutes=1))  # the next tick sends nothing more
    digests = [m for m in fake_slack.messages_to("D" + manager[1:]) if m.get("metadata")]
    assert len(digests) == 1
    body = json.dumps(digests[0]["blocks"], ensure_ascii=False)
    assert f"<@{alice}>: Mid-level → Senior" in body and f"<@{bob}>:" not in body
    [chart] = [f for f in fake_slack.files.values() if f["channels"] == ["D" + manager[1:]]]
    assert chart["image_size"] is not None
    assert "Your weekly team digest is off" in slack.ack(manager, "team digest off")
