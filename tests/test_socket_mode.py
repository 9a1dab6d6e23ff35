"""Socket Mode through the fake Slack's WebSocket endpoint (bot/testing/fakeslack/socketmode.py): `ladderbot serve`
with SLACK_APP_TOKEN answers commands in the ack, takes clicks, modal submissions and events, keeps /healthz on
PORT, reconnects on every disconnect reason and on a dropped link, and loses nothing and handles nothing twice
when a link drops in the middle of traffic; several processes each hold a link; `ladderbot manifest`."""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import ConfigError, Settings
from bot.growth import plans as growth
from bot.ids import ActionId, BlockId, CallbackId
from bot.services import build_services
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Evidence, Person
from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.socketmode import Envelope, SocketModeHub
from bot.web.socket_mode import HandledEnvelopes, LadderbotSocketModeHandler
from tests.cli_run import run_cli
from tests.server import RunningServer, start_server
from tests.slack_requests import block_action_body, event_body, slash_command_body, view_submission_body
from tests.waiting import wait_until

SERVE = [sys.executable, "-m", "bot", "serve"]
APP_TOKEN = "xapp-1-A0001-test"
ROOT = Path(__file__).resolve().parent.parent


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


# envelopes as Slack sends them: the payload it would have POSTed, as JSON ------------------------------


def command(hub: SocketModeHub, text: str, user: str, name: str = "/growth") -> Envelope:
    form = dict(urllib.parse.parse_qsl(slash_command_body(name, text, user_id=user).decode()))
    return hub.deliver("slash_commands", form)


def interaction(hub: SocketModeHub, form_body: bytes) -> Envelope:
    payload = json.loads(urllib.parse.parse_qs(form_body.decode())["payload"][0])
    return hub.deliver("interactive", payload)


def home_opened(hub: SocketModeHub, user: str, event_id: str | None = None) -> Envelope:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home", "event_ts": "1.2"}
    return hub.deliver("events_api", json.loads(event_body(event, event_id=event_id or "Ev" + uuid.uuid4().hex[:10])))


def answer_text(envelope: Envelope) -> str:
    assert envelope.acked and envelope.response is not None, envelope
    return str(envelope.response.get("text", "")) + json.dumps(envelope.response.get("blocks", []))


def publishes_to(slack: FakeSlack, user: str) -> int:
    return len([c for c in slack.calls_to("views.publish") if c.params.get("user_id") == user])


def evidence_of(url: str, user: str) -> int:
    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine)() as session:
            query = select(func.count()).select_from(Evidence).join(Person).where(Person.user_id == user)
            return int(session.scalar(query) or 0)
    finally:
        engine.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack of this test's own: its Socket Mode endpoint carries no link of another test."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def serve_socket_mode(slack: FakeSlack, database_url: str, **env: str) -> RunningServer:
    # no signing secret: Socket Mode needs none
    return start_server(
        slack.url, database_url, command=SERVE, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="", **env
    )


# end to end through `ladderbot serve` --------------------------------------------------------------------


def test_serve_over_socket_mode_commands_clicks_modals_and_events(slack, database_url):
    server = serve_socket_mode(slack, database_url, LOG_LEVEL="INFO")
    hub = slack.socket_mode
    user = new_user()
    try:
        hub.wait_for_connections(1)
        [opened] = slack.calls_to("apps.connections.open")
        assert opened.token == APP_TOKEN  # the app-level token opens the link; the bot token does the rest
        # /healthz stays on PORT for the orchestrator; Slack's HTTP path is closed: nothing is signed for it
        assert server.sender.raw("GET", "/healthz").json()["status"] == "ok"
        refused = server.sender.post(slash_command_body("/ladder", "senior"))
        assert refused.status == 404 and "Socket Mode" in refused.json()["error"]

        # a slash command's answer travels in the ack
        ladder = hub.wait_ack(command(hub, "senior", user, name="/ladder"))
        assert "Senior" in answer_text(ladder) and ladder.response and ladder.response["blocks"]
        bad = hub.wait_ack(command(hub, "levle mid", user))
        assert "level" in answer_text(bad)  # a typo gets a clear answer, in the ack too

        # a click: Pause on the App Home, then the modal: /growth setup opens it, its submission saves the plan
        hub.wait_ack(
            interaction(hub, block_action_body(ActionId.GROWTH_PAUSE, "1", user_id=user, container_type="view"))
        )
        hub.wait_ack(command(hub, "setup", user))
        [view] = slack.wait_for_calls("views.open", 1)
        opened_view = view.params["view"]
        opened_view = json.loads(opened_view) if isinstance(opened_view, str) else opened_view
        assert opened_view["callback_id"] == CallbackId.GROWTH_SETUP
        values = {
            BlockId.SETUP_LEVEL: {
                ActionId.SETUP_LEVEL: {"type": "static_select", "selected_option": {"value": "senior"}}
            },
            BlockId.SETUP_TARGET: {ActionId.SETUP_TARGET: {"type": "static_select", "selected_option": None}},
            BlockId.SETUP_FOCUS: {
                ActionId.SETUP_FOCUS: {"type": "multi_static_select", "selected_options": [{"value": "data"}]}
            },
            BlockId.SETUP_WEEKDAY: {
                ActionId.SETUP_WEEKDAY: {"type": "static_select", "selected_option": {"value": "3"}}
            },
            BlockId.SETUP_TIME: {ActionId.SETUP_TIME: {"type": "timepicker", "selected_time": "08:15"}},
        }
        saved = hub.wait_ack(interaction(hub, view_submission_body(CallbackId.GROWTH_SETUP, values, user_id=user)))
        assert saved.response in (None, {})  # the modal closes
        engine = db.make_engine(database_url)
        try:
            with db.make_session_factory(engine)() as session:
                person = repo.get_person(session, "T0001", user)
                plan = growth.get_plan(session, person) if person else None
                assert plan is not None and (plan.level, plan.focus_areas, plan.weekday) == ("senior", ["data"], 3)
        finally:
            engine.dispose()
        # an invalid submission answers with the field's error in the ack
        values[BlockId.SETUP_FOCUS][ActionId.SETUP_FOCUS]["selected_options"] = []
        refused_view = hub.wait_ack(
            interaction(hub, view_submission_body(CallbackId.GROWTH_SETUP, values, user_id=user))
        )
        assert refused_view.response and refused_view.response["response_action"] == "errors"

        # an event: app_home_opened publishes the Home tab
        before = publishes_to(slack, user)
        hub.wait_ack(home_opened(hub, user))
        wait_until(lambda: publishes_to(slack, user) > before, 20, what="the App Home published")
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()
    assert "Traceback" not in server.log(), server.log()


def test_a_dropped_link_in_the_middle_of_traffic_loses_nothing_and_handles_nothing_twice(slack, database_url):
    server = serve_socket_mode(slack, database_url)
    hub = slack.socket_mode
    try:
        hub.wait_for_connections(1)
        writers, visitors = [new_user() for _ in range(8)], [new_user() for _ in range(8)]
        sent: list[Envelope] = []
        for i in range(8):
            sent.append(command(hub, f"evidence add shipped the thing number {i}", writers[i]))
            sent.append(home_opened(hub, visitors[i]))
            if i == 2:
                hub.drop()  # the link fails with envelopes in flight; the bot finds out and opens a new one
            if i == 5:
                # the next ack is lost with its link: that envelope was handled and comes again (retry_attempt 1)
                hub.lose_next_ack()
        for envelope in sent:
            hub.wait_ack(envelope, 60)
        assert not any(e.given_up for e in sent)
        assert any(e.retry_attempt for e in sent), "no envelope was delivered twice: the test proved nothing"
        # nothing lost: every command got its answer in an ack, every Home was published
        for envelope in sent[::2]:
            assert "evidence" in answer_text(envelope).lower()
        for user in visitors:
            wait_until(lambda user=user: publishes_to(slack, user) >= 1, 20, what=f"{user}'s Home")
        # nothing twice: one evidence item per command, one Home per event, redeliveries included
        assert [evidence_of(database_url, user) for user in writers] == [1] * 8
        assert [publishes_to(slack, user) for user in visitors] == [1] * 8
        assert len(slack.calls_to("apps.connections.open")) >= 2
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()


def test_several_processes_each_hold_a_link_and_each_envelope_is_handled_once(slack, database_url):
    server = serve_socket_mode(slack, database_url, WEB_CONCURRENCY="2", LOG_LEVEL="INFO")
    hub = slack.socket_mode
    try:
        hub.wait_for_connections(2)
        sent = [command(hub, "senior", new_user(), name="/ladder") for _ in range(30)]
        for envelope in sent:
            assert "Senior" in answer_text(hub.wait_ack(envelope))
        assert all(len(e.deliveries) == 1 for e in sent)  # each went to one link, once
        assert len({e.acked_on for e in sent}) == 2  # both processes answered (30 random picks of 2)
        assert hub.duplicate_acks == 0
        # the clock still runs once per server, whatever the number of processes
        wait_until(lambda: "Scheduler started" in server.log(), 30, what="the clock to start")
        assert server.log().count("apscheduler.scheduler: Scheduler started") == 1
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()


def test_two_processes_a_lost_ack_redelivered_to_the_other_one_is_answered_not_handled_again(slack, database_url):
    server = serve_socket_mode(slack, database_url, WEB_CONCURRENCY="2")
    hub = slack.socket_mode
    try:
        hub.wait_for_connections(2)
        writers = [new_user() for _ in range(2)]
        sent = []
        for user in writers:
            # the ack is lost with its link: the redelivery goes to a link still open, the other process's
            hub.wait_for_connections(2)
            hub.lose_next_ack()
            sent.append(hub.wait_ack(command(hub, "evidence add led the incident review", user), 60))
        for envelope in sent:
            assert envelope.retry_attempt >= 1 and "evidence" in answer_text(envelope).lower()
        assert any(len(set(e.deliveries)) > 1 for e in sent)  # at least one redelivery went to another link
        assert [evidence_of(database_url, user) for user in writers] == [1] * 2
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()


def worker_pids(server: RunningServer) -> set[int]:
    """The server's processes: the arbiter and the workers it forked (from /proc)."""
    pids, queue = set(), [server.process.pid]
    while queue:
        pid = queue.pop()
        pids.add(pid)
        children = Path(f"/proc/{pid}/task/{pid}/children")
        queue += [int(child) for child in children.read_text().split()] if children.exists() else []
    return pids


ANSWERED_AGAIN = re.compile(r"delivered again \(retry \d+\): answered with the ack [^ ]*:(\d+) gave the first time")


def test_two_servers_a_lost_ack_redelivered_to_the_other_server_is_answered_not_handled_again(slack, database_url):
    """Two pods: two `serve` processes on their own ports and the same database, each with its link. An ack is lost
    with its link, and Slack delivers the envelope again on a link still open: the other server's."""
    hub = slack.socket_mode
    serve = [*SERVE, "--no-clock"]
    env = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": "", "LOG_LEVEL": "INFO"}
    first = start_server(slack.url, database_url, command=serve, **env)
    try:
        second = start_server(slack.url, database_url, command=serve, **env)
    except BaseException:
        first.stop()
        raise
    servers = [first, second]
    try:
        assert first.port != second.port
        hub.wait_for_connections(2)
        pids = [worker_pids(server) for server in servers]
        writers: list[str] = []
        sent: list[Envelope] = []

        def across() -> int:
            """Redeliveries answered by the other server than the one that handled them, as the logs say."""
            answered_by = []  # (server answering the redelivery, server that handled it first)
            for number, server in enumerate(servers):
                for owner in ANSWERED_AGAIN.findall(server.log()):
                    answered_by.append((number, next(n for n, mine in enumerate(pids) if int(owner) in mine)))
            return sum(1 for answering, handling in answered_by if answering != handling)

        for _ in range(12):  # the redelivery goes to a random open link: stop once one went to the other server
            user = new_user()
            writers.append(user)
            hub.wait_for_connections(2)  # the server that lost the last ack has its new link
            hub.lose_next_ack()
            sent.append(hub.wait_ack(command(hub, f"evidence add ran the game day {len(writers)}", user), 60))
            assert evidence_of(database_url, user) == 1  # handled once, whichever server the redelivery reached
            if across():
                break
        # the line is logged just after the ack is sent: the last redelivery's may be a moment behind
        wait_until(across, 10, what="a redelivery answered by the other server (else the test proved nothing)")
        for envelope in sent:
            assert envelope.retry_attempt >= 1 and not envelope.given_up
            assert "evidence" in answer_text(envelope).lower()  # the first answer, given again by the record
        assert [evidence_of(database_url, user) for user in writers] == [1] * len(writers)
        assert hub.duplicate_acks == 0
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert server.process.returncode == 0, server.log()
        assert "Traceback" not in server.log(), server.log()


# reconnecting, in-process: the real app and services on the fake Slack --------------------------------


@pytest.fixture
def handler(slack: FakeSlack, database_url: str, content) -> Iterator[LadderbotSocketModeHandler]:
    settings = Settings(
        slack_bot_token="xoxb-test", slack_app_token=APP_TOKEN, slack_api_url=slack.url, database_url=database_url
    )
    engine = db.make_engine(database_url)
    services = build_services(settings, content, engine, db.make_session_factory(engine))
    handled = HandledEnvelopes(services.session_factory)  # the record in the bot's database, as `serve` keeps it
    running = LadderbotSocketModeHandler(
        create_app(services), APP_TOKEN, handled, ping_interval=0.5, link_disabled_retry_seconds=0.2
    )
    running.client.connect()
    yield running
    running.client.close()
    engine.dispose()


def test_an_envelope_is_answered_when_its_record_cannot_be_read(slack, database_url, content, tmp_path):
    """The record of envelopes is unreachable (here: a database without its tables, as on PostgreSQL before
    `ladderbot migrate`): the envelope is handled and acked anyway, rather than left for Slack to give up on."""
    settings = Settings(
        slack_bot_token="xoxb-test", slack_app_token=APP_TOKEN, slack_api_url=slack.url, database_url=database_url
    )
    engine = db.make_engine(database_url)
    services = build_services(settings, content, engine, db.make_session_factory(engine))
    empty = db.make_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    running = LadderbotSocketModeHandler(
        create_app(services), APP_TOKEN, HandledEnvelopes(db.make_session_factory(empty)), ping_interval=0.5
    )
    running.client.connect()
    try:
        slack.socket_mode.wait_for_connections(1)
        envelope = command(slack.socket_mode, "senior", new_user(), name="/ladder")
        assert "Senior" in answer_text(slack.socket_mode.wait_ack(envelope))
    finally:
        running.client.close()
        engine.dispose()
        empty.dispose()


def test_refresh_requested_and_warning_move_to_a_new_link_without_losing_an_answer(slack, handler):
    hub = slack.socket_mode
    [first] = hub.wait_for_connections(1)
    for reason in ("warning", "refresh_requested"):
        in_flight = command(hub, "senior", new_user(), name="/ladder")
        hub.disconnect(reason)
        after = command(hub, "mid", new_user(), name="/ladder")
        assert "Senior" in answer_text(hub.wait_ack(in_flight))
        assert "Mid" in answer_text(hub.wait_ack(after))
        wait_until(lambda old=first: [n for n in hub.open_connections() if n > old], 20, what=f"a link after {reason}")
        first = max(hub.open_connections())
    wait_until(lambda: len(hub.open_connections()) == 1, 20, what="the old links closed")
    assert hub.refused_tickets == 0 and not hub.unacked()


def test_link_disabled_waits_for_socket_mode_to_be_turned_on_again(slack, handler):
    hub = slack.socket_mode
    hub.wait_for_connections(1)
    hub.disconnect("link_disabled")
    wait_until(lambda: handler.disabled.is_set(), 20, what="the bot to see link_disabled")
    wait_until(lambda: not hub.open_connections(), 20, what="the link to close")
    pending = command(hub, "senior", new_user(), name="/ladder")  # Slack holds it until a link exists
    # the bot keeps asking for a link, slowly, and Slack keeps refusing
    wait_until(lambda: any(c.response.get("error") == "socket_mode_not_enabled" for c in slack.calls), 20)
    assert not pending.acked
    hub.enable()
    hub.wait_for_connections(1)
    assert "Senior" in answer_text(hub.wait_ack(pending))
    wait_until(lambda: not handler.disabled.is_set(), 20, what="the bot to note it is connected again")


def test_a_redelivered_envelope_gets_the_first_answer_again_not_a_second_handling(slack, handler, database_url):
    hub = slack.socket_mode
    hub.wait_for_connections(1)
    user = new_user()
    hub.lose_next_ack()
    envelope = hub.wait_ack(command(hub, "evidence add wrote the design doc", user), 60)
    assert envelope.retry_attempt == 1 and envelope.retry_reason == "timeout"
    assert "evidence" in answer_text(envelope).lower()
    assert evidence_of(database_url, user) == 1
    assert handler.redeliveries_answered == 1


def test_an_envelope_delivered_again_while_still_at_work_gets_the_first_answer(slack, handler, database_url):
    hub = slack.socket_mode
    hub.wait_for_connections(1)
    writers, visitors = [new_user() for _ in range(3)], [new_user() for _ in range(3)]
    hub.repeat_next(6)  # each comes twice at once: Slack's wait for the ack ran out while the bot was at work
    sent = [command(hub, "evidence add mentored a new joiner", user) for user in writers]
    sent += [home_opened(hub, user) for user in visitors]
    for envelope in sent:
        assert hub.wait_ack(envelope).retry_attempt == 1 and len(envelope.deliveries) == 2
    # both deliveries of each were answered: the second with the first one's ack, once that was ready
    wait_until(lambda: hub.duplicate_acks == len(sent), 30, what="the answers to the second deliveries")
    assert handler.redeliveries_answered == len(sent)  # none of them reached the listeners again
    for envelope in sent[:3]:
        assert "evidence" in answer_text(envelope).lower()
    assert [evidence_of(database_url, user) for user in writers] == [1] * 3
    for user in visitors:
        wait_until(lambda user=user: publishes_to(slack, user) == 1, 20, what=f"{user}'s Home")


def test_slack_delivers_again_what_is_not_acked_in_time(slack):
    hub = slack.socket_mode
    hub.ack_timeout = 0.2
    silent = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=slack.url))  # never acks
    silent.connect()
    try:
        hub.wait_for_connections(1)
        envelope = hub.deliver("events_api", {"type": "event_callback", "event_id": "Ev1", "team_id": "T0001"})
        hub.wait_ack(envelope)  # returns once Slack gives up
        assert envelope.given_up and envelope.retry_attempt == 3 and len(envelope.deliveries) == 4
    finally:
        silent.close()


# the fake's apps.connections.open, the settings and the manifest -----------------------------------------


def test_apps_connections_open_takes_only_an_app_level_token(slack):
    client = WebClient(base_url=slack.url)
    url = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-test", base_url=slack.url).api_call("apps.connections.open")
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=APP_TOKEN, base_url=slack.url).chat_postMessage(channel="C1", text="hi")
    assert refused.value.response["error"] == "not_allowed_token_type"


def test_settings_for_socket_mode():
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": "sqlite://"}
    settings = Settings.from_env({**base, "SLACK_APP_TOKEN": APP_TOKEN})  # no signing secret needed
    assert settings.slack_app_token == APP_TOKEN and APP_TOKEN not in repr(settings)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN must be an app-level token starting with 'xapp-'"):
        Settings.from_env({**base, "SLACK_APP_TOKEN": "xoxb-2", "SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        Settings.from_env(base)  # over HTTP the secret is what proves a request came from Slack


def manifest_file() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_for_socket_mode_has_no_request_url(monkeypatch, capsys):
    ran = run_cli(monkeypatch, capsys, "manifest", "--socket")
    assert ran.code == 0, ran.stderr
    made = yaml.safe_load(ran.stdout)
    assert made["settings"]["socket_mode_enabled"] is True
    assert "https://" not in json.dumps({k: v for k, v in made.items() if k != "display_information"})
    expected = manifest_file()
    for entry in expected["features"]["slash_commands"]:
        del entry["url"]
    del expected["settings"]["event_subscriptions"]["request_url"]
    del expected["settings"]["interactivity"]["request_url"]
    expected["settings"]["socket_mode_enabled"] = True
    assert made == expected  # the rest as the file says


def test_manifest_for_http_puts_every_request_url_on_the_server(monkeypatch, capsys):
    ran = run_cli(monkeypatch, capsys, "manifest", "--url", "https://ladder.corp.example/")
    assert ran.code == 0, ran.stderr
    made = yaml.safe_load(ran.stdout)
    assert made["settings"]["socket_mode_enabled"] is False
    urls = [c["url"] for c in made["features"]["slash_commands"]]
    urls += [made["settings"]["event_subscriptions"]["request_url"], made["settings"]["interactivity"]["request_url"]]
    assert set(urls) == {"https://ladder.corp.example/slack/events"}
    assert "ladderbot.example.com" not in ran.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ((), "give --socket"),
        (("--url", "http://ladder.corp.example"), "public https URL"),
        (("--url", "ladder.corp.example"), "public https URL"),
    ],
)
def test_manifest_refuses_what_cannot_be_a_manifest(monkeypatch, capsys, argv, says):
    ran = run_cli(monkeypatch, capsys, "manifest", *argv)
    assert ran.code == 2 and says in ran.stderr and not ran.stdout
