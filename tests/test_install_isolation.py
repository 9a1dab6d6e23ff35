"""Nothing of one workspace is readable from another (issue 13, item 2), with the same user ids installed in
two workspaces through the real OAuth flow, on SQLite and PostgreSQL. Beyond /growth, export, evidence and team
(tests/test_install.py): history, the promotion packet, managers, a follow set up in one workspace, org, the
App Home from both sides, each workspace's digest, and a forget in one that leaves the other intact. Every
check is made from the side that must see nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.ids import ActionId
from bot.services import build_clock
from bot.storage import engine as db
from bot.storage.models import Delivery, DigestPlan, Follow, Person, Workspace
from bot.testing.fakeslack import FakeSlack
from tests.install_world import fake_oauth, install, oauth_settings, start_oauth_server
from tests.slack_requests import block_action_body, event_body
from tests.test_export_file import exported
from tests.waiting import response_to

ALPHA, BETA = "T0AAA", "T0BBB"
MANAGER, ALICE, BOB, ADMIN = "U0MGR", "U0ALICE", "U0BOB", "U0ADMIN"
COLLEAGUES = [f"U0COL{n}" for n in range(5)]  # enough people in Alpha for /growth org's figures
ALPHA_WIN = "Postmortem for the alpha-secret checkout outage: I added tracing and a Grafana alert on pool usage"


def wait_until(found: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def _parsed(value: Any) -> Any:
    """A JSON parameter as the fake recorded it: already parsed, or still a string."""
    return json.loads(value) if isinstance(value, str) else (value or [])


class TwoWorkspaces:
    """The same people (by user id) in Alpha and Beta, driven as Slack would drive them."""

    def __init__(self, server, fake: FakeSlack, oauth):
        self.server, self.fake, self.oauth = server, fake, oauth

    def ack(self, team_id: str, user: str, text: str) -> str:
        reply = self.server.sender.command("/growth", text, team_id=team_id, user_id=user)
        assert reply.status == 200, reply.body
        body = reply.json()
        return body.get("text", "") + json.dumps(body.get("blocks", []), ensure_ascii=False)

    def lazy(self, team_id: str, user: str, text: str) -> str:
        url = self.fake.response_url()
        reply = self.server.sender.command("/growth", text, team_id=team_id, user_id=user, response_url=url)
        assert reply.status == 200, reply.body
        answer = response_to(self.fake, url)  # its own answer, not another lazy listener's that came first
        return answer.get("text", "") + json.dumps(answer.get("blocks", []), ensure_ascii=False)

    def click(self, team_id: str, user: str, action_id: str, value: str, *, ts: str = "1.1") -> None:
        body = block_action_body(
            action_id,
            value,
            user_id=user,
            team_id=team_id,
            channel_id="D" + user[1:],
            message_ts=ts,
            response_url=self.fake.response_url(),
        )
        assert self.server.sender.post(body).status == 200

    def seen_in(self, team_id: str, user: str, **fields: Any) -> None:
        """The fake Slack keeps one directory entry per user id: say which workspace `user` is looked up in now
        (users.info answers with that team_id, which follows and admin rights are checked against)."""
        self.fake.add_user(user, name=user.lower(), team_id=team_id, **fields)

    def plan(self, team_id: str, user: str, level: str, focus: str) -> None:
        self.ack(team_id, user, f"level {level}")
        self.ack(team_id, user, f"focus {focus}")

    def follow(self, team_id: str, manager: str, report: str) -> None:
        """`manager` asks `report` in `team_id`, and `report` accepts the invitation DM there."""
        asked = self.lazy(team_id, manager, f"team add <@{report}>")
        assert f"Asked <@{report}>" in asked, asked

        def invitation() -> tuple[str, str] | None:
            for call in self.fake.calls_to("chat.postMessage"):
                workspace = self.oauth.workspace_of(call.token)
                if workspace is None or workspace.key != team_id or call.params.get("channel") != report:
                    continue
                for block in _parsed(call.params.get("blocks")):
                    for element in block.get("elements") or []:
                        if element.get("action_id") == ActionId.FOLLOW_ACCEPT:
                            return element["value"], call.response["ts"]
            return None

        follow_id, ts = wait_until(invitation)
        updates = len(self.fake.calls_to("chat.update"))
        self.click(team_id, report, ActionId.FOLLOW_ACCEPT, follow_id, ts=ts)
        self.fake.wait_for_calls("chat.update", updates + 1)

    def home(self, team_id: str, user: str) -> tuple[str, str]:
        """(the view, the token it was published with) when `user` opens the App Home in `team_id`."""
        before = len(self.fake.calls_to("views.publish"))
        opened = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
        event_id = f"EvHome{team_id}{user}{before}"
        body = event_body(opened, team_id=team_id, event_id=event_id)
        assert self.server.sender.post(body, content_type="application/json").status == 200
        call = self.fake.wait_for_calls("views.publish", before + 1)[-1]
        view = call.params["view"]
        return (view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)), call.token

    def packet(self, team_id: str, user: str) -> tuple[str, set[str]]:
        """(the packet's Markdown, the tokens its upload was made with) after /growth packet in `team_id`."""
        uploads_before = len(self.fake.calls_to("files.completeUploadExternal"))
        assert "in your DM" in self.lazy(team_id, user, "packet")
        done = self.fake.wait_for_calls("files.completeUploadExternal", uploads_before + 1)[uploads_before:]
        file_ids = [f["id"] for call in done for f in _parsed(call.params["files"])]
        markdown = next(self.fake.uploads[i] for i in file_ids if self.fake.files[i]["name"].endswith(".md"))
        starts = [
            c.token for c in self.fake.calls_to("files.getUploadURLExternal") if c.response.get("file_id") in file_ids
        ]
        return markdown.decode(), {c.token for c in done} | set(starts)

    def workspace_of(self, token: str) -> str | None:
        workspace = self.oauth.workspace_of(token)
        return workspace.key if workspace else None


@pytest.fixture
def slack(fake_slack, database_url):
    oauth = fake_oauth(fake_slack)
    oauth.add_workspace(ALPHA, "Alpha Corp")
    oauth.add_workspace(BETA, "Beta Ltd")
    for user in (MANAGER, ALICE, *COLLEAGUES):
        fake_slack.add_user(user, name=user.lower(), team_id=ALPHA)
    fake_slack.add_user(BOB, name="bob", team_id=BETA)
    server = start_oauth_server(fake_slack, database_url)
    install(server, ALPHA)
    install(server, BETA)
    yield TwoWorkspaces(server, fake_slack, oauth)
    server.stop()
    oauth.reset()


@pytest.fixture
def sessions(slack):
    engine = db.make_engine(slack.server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def world(slack):
    """Alpha: alice (mid, security, one win) followed by the manager, five colleagues with plans. Beta: the
    same alice (staff, data), followed by nobody; bob followed by the same manager id."""
    slack.plan(ALPHA, ALICE, "mid", "security")
    slack.ack(ALPHA, ALICE, f"evidence add {ALPHA_WIN}")
    slack.follow(ALPHA, MANAGER, ALICE)
    for user in COLLEAGUES:
        slack.plan(ALPHA, user, "senior", "security")
    slack.plan(BETA, ALICE, "staff", "data")
    slack.plan(BETA, BOB, "mid", "api")
    slack.follow(BETA, MANAGER, BOB)
    return slack


def beta_shows_nothing_of_alpha(text: str) -> None:
    assert "alpha-secret" not in text and "Grafana" not in text


def test_every_view_of_a_person_shows_only_its_own_workspace(world, sessions, content):
    # history: a prompt sent in Alpha (/growth now, posted with Alpha's token)
    assert "Sending you a prompt" in world.ack(ALPHA, ALICE, "now")

    def sent_in_alpha() -> str | None:
        with sessions() as session:
            return session.execute(
                select(Delivery.prompt_id)
                .join(Person, Person.id == Delivery.person_id)
                .join(Workspace, Workspace.id == Person.workspace_id)
                .where(Workspace.team_id == ALPHA, Person.user_id == ALICE, Delivery.status == "sent")
            ).scalar()

    prompt = content.prompt(wait_until(sent_in_alpha))
    assert prompt is not None
    words = re.match(r"[A-Za-z0-9 ,-]*", prompt.text).group()[:30]  # plain words: the same however escaped
    assert len(words) > 10, prompt.text
    nudges = [c for c in world.fake.calls_to("chat.postMessage") if words in json.dumps(c.params)]
    assert nudges and {world.workspace_of(c.token) for c in nudges} == {ALPHA}
    assert words in world.ack(ALPHA, ALICE, "history")
    beta_history = world.ack(BETA, ALICE, "history")
    assert words not in beta_history
    beta_shows_nothing_of_alpha(beta_history)

    # the packet: Alpha's holds the win, Beta's not, each uploaded with its own workspace's token
    alpha_packet, alpha_tokens = world.packet(ALPHA, ALICE)
    assert "alpha-secret" in alpha_packet and "toward Senior" in alpha_packet
    assert {world.workspace_of(t) for t in alpha_tokens} == {ALPHA}
    beta_packet, beta_tokens = world.packet(BETA, ALICE)
    beta_shows_nothing_of_alpha(beta_packet)
    assert "toward Principal" in beta_packet
    assert {world.workspace_of(t) for t in beta_tokens} == {BETA}

    # managers: the follow set up in Alpha is not seen from Beta
    assert f"<@{MANAGER}> sees your growth summary" in world.ack(ALPHA, ALICE, "managers")
    assert "Nobody follows your growth" in world.ack(BETA, ALICE, "managers")

    # team: the same manager id follows alice in Alpha and bob in Beta, and sees only that workspace's report
    alpha_team = world.ack(ALPHA, MANAGER, "team")
    assert f"<@{ALICE}>" in alpha_team and BOB not in alpha_team and "Mid-level" in alpha_team
    beta_team = world.ack(BETA, MANAGER, "team")
    assert f"<@{BOB}>" in beta_team and ALICE not in beta_team
    beta_shows_nothing_of_alpha(beta_team)
    refused = world.ack(BETA, MANAGER, f"team <@{ALICE}>")
    assert "has not agreed" in refused
    beta_shows_nothing_of_alpha(refused)

    # org: an admin of each workspace; Alpha has enough people for figures, Beta's two are folded
    world.seen_in(ALPHA, ADMIN, is_admin=True)
    assert "Workspace growth, in aggregate" in world.lazy(ALPHA, ADMIN, "org")
    world.seen_in(BETA, ADMIN, is_admin=True)
    beta_org = world.lazy(BETA, ADMIN, "org")
    assert "Workspace figures need at least 5" in beta_org and "Workspace growth, in aggregate" not in beta_org

    # the App Home from both sides, each published with its own workspace's token
    alpha_home, alpha_token = world.home(ALPHA, MANAGER)
    assert "you follow 1 person" in alpha_home and world.workspace_of(alpha_token) == ALPHA
    alice_alpha_home, _ = world.home(ALPHA, ALICE)
    assert "Mid-level" in alice_alpha_home and "Staff" not in alice_alpha_home
    alice_beta_home, beta_token = world.home(BETA, ALICE)
    assert world.workspace_of(beta_token) == BETA and "Staff" in alice_beta_home and "Mid-level" not in alice_beta_home
    beta_shows_nothing_of_alpha(alice_beta_home)
    assert "Nobody follows your growth summary" in alice_beta_home


def test_each_workspaces_digest_holds_only_its_own_people(world, sessions, fake_slack, content):
    assert "digest" in world.ack(ALPHA, MANAGER, "team digest on").lower()
    assert "digest" in world.ack(BETA, MANAGER, "team digest on").lower()
    clock = build_clock(oauth_settings(fake_slack, world.server.database_url), content, sessions)
    with sessions() as session:
        due = sorted(session.execute(select(DigestPlan.next_due_at)).scalars())
    assert len(due) == 2
    before = len(fake_slack.calls_to("chat.postMessage"))
    for moment in due:
        clock.run_pass(moment)
    digests = [
        c
        for c in fake_slack.calls_to("chat.postMessage")[before:]
        if "ladderbot_digest" in json.dumps(c.params.get("metadata") or "") and c.response.get("ok")
    ]
    by_workspace = {world.workspace_of(c.token): json.dumps(c.params, ensure_ascii=False) for c in digests}
    assert set(by_workspace) == {ALPHA, BETA} and len(digests) == 2
    assert ALICE in by_workspace[ALPHA] and BOB not in by_workspace[ALPHA]
    assert BOB in by_workspace[BETA] and ALICE not in by_workspace[BETA]
    beta_shows_nothing_of_alpha(by_workspace[BETA])


def test_forget_in_one_workspace_leaves_the_other_intact(world, sessions, fake_slack):
    before = len(fake_slack.responses)
    world.click(BETA, ALICE, ActionId.GROWTH_FORGET_CONFIRM, "confirm")
    fake_slack.wait_for_responses(before + 1)
    with sessions() as session:
        teams = session.execute(
            select(Workspace.team_id).join(Person, Person.workspace_id == Workspace.id).where(Person.user_id == ALICE)
        ).scalars()
        assert list(teams) == [ALPHA]
        assert session.execute(select(Follow.status).where(Follow.status == "accepted")).scalars().all() == [
            "accepted",
            "accepted",
        ]  # Alpha's follow of alice and Beta's of bob
    assert "alpha-secret" in json.dumps(exported(world.server, fake_slack, ALICE, ALPHA)[2])
    assert f"<@{ALICE}>" in world.ack(ALPHA, MANAGER, "team")
    assert f"<@{BOB}>" in world.ack(BETA, MANAGER, "team")
    beta_after = world.ack(BETA, ALICE, "")
    beta_shows_nothing_of_alpha(beta_after)
    assert "staff" not in beta_after.lower()  # Beta's alice is gone; Alpha's is not brought over
