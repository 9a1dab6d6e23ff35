"""Logs: LOG_FORMAT=json writes one JSON object per line with the request's ids, lines written after the ack (lazy
listeners) included; and no token, signing secret or reflection text reaches the logs of a full run at DEBUG: over
HTTP with one static token (server, clock, a reflection submitted), over OAuth with several workspaces (no client
secret, installed or refreshed token, refresh token or encryption key) and over Socket Mode (no app-level token)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot import logs
from bot.app import LAZY_FAILURE
from bot.config import Settings
from bot.ids import ActionId, BlockId, CallbackId
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Delivery, Reflection
from bot.testing.fakeslack import FakeSlack
from tests import factories
from tests.install_world import KEY, fake_oauth, install, oauth_env
from tests.server import ROOT, RunningServer, server_env, start_server
from tests.slack_requests import SIGNING_SECRET, block_action_body, event_body, view_submission_body
from tests.test_socket_mode import APP_TOKEN, command, home_opened
from tests.waiting import wait_until

BOT_TOKEN = "xoxb-test-token"  # what tests.server gives the server


def json_lines(text: str) -> list[dict]:
    """Every line of a log, each parsed as one JSON object (fails on any line that is not one)."""
    entries = []
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            entries.append(entry)
    return entries


def finished_lines(text: str) -> str:
    """A log being written, up to its last whole line (a long line may be read before all of it is written)."""
    return text[: text.rfind("\n") + 1]


def json_server(slack_url: str, database_url: str) -> RunningServer:
    """`ladderbot serve --no-clock` logging JSON at INFO."""
    command = [sys.executable, "-m", "bot", "serve", "--no-clock"]
    return start_server(slack_url, database_url, command=command, LOG_FORMAT="json", LOG_LEVEL="INFO")


def test_json_lines_carry_the_request_ids(fake_slack, database_url):
    running = json_server(fake_slack.url, database_url)
    try:
        # an action no listener takes is logged at info, from inside the request
        reply = running.sender.action("no_such_action", "1", user_id="ULOGS1", team_id="T0001")
        assert reply.status == 200
        entries = wait_until(
            lambda: [e for e in json_lines(finished_lines(running.log())) if "no listener" in e["message"]],
            what="the request's line",
        )
    finally:
        running.stop()
    [entry] = entries
    assert entry["level"] == "INFO" and entry["logger"] == "bot.app"
    assert entry["team_id"] == "T0001" and entry["user_id"] == "ULOGS1"
    assert len(entry["request_id"]) == 12
    assert entry["time"].endswith("+00:00")
    everything = json_lines(running.log())  # gunicorn's own lines too: every line is one JSON object
    assert any(e["logger"] == "gunicorn.error" for e in everything)
    assert {"time", "level", "logger", "message", "request_id", "team_id", "user_id", "process"} <= set(entry)


def test_lines_written_after_the_ack_carry_the_request_ids(fake_slack, database_url):
    """A lazy listener (the App Home's publish, after the event's ack) runs on another thread: its log lines
    still carry the request's ids, with one static token as with several workspaces."""
    running = json_server(fake_slack.url, database_url)
    user = "U" + uuid.uuid4().hex[:8].upper()
    try:
        fake_slack.fail("views.publish", error="invalid_blocks", times=1)  # the publish fails after the ack
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home", "event_ts": "1"}
        reply = running.sender.post(
            event_body(event, team_id="T0LAZY", event_id="EvLazy1"), content_type="application/json"
        )
        assert reply.status == 200
        fake_slack.wait_for_calls("views.publish", 1, timeout=20)
        # the line Bolt writes last about it, after the ack and the publish: not just the first that names it
        wait_until(
            lambda: any(e["message"].startswith(LAZY_FAILURE) for e in json_lines(finished_lines(running.log()))),
            timeout=20,
            what="the failed publish logged",
        )
    finally:
        running.stop()
    entries = [e for e in json_lines(running.log()) if "invalid_blocks" in e["message"] + e.get("exception", "")]
    assert entries
    for entry in entries:
        assert entry["level"] in ("WARNING", "ERROR")
        assert entry["team_id"] == "T0LAZY" and entry["user_id"] == user and entry["request_id"]
    [failure] = [e for e in entries if e["message"].startswith(LAZY_FAILURE)]
    assert "Traceback" in failure["exception"] and "SlackApiError" in failure["exception"]  # where it failed


def test_a_full_run_logs_no_secret_and_no_reflection(fake_slack, database_url, content):
    """The server with its clock at DEBUG: a nudge sent, a reflection written in its modal and saved. The
    log is long, and holds none of the bot token, the signing secret or the reflection."""
    reflection = f"my private reflection {uuid.uuid4().hex}"
    user = factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    running = start_server(
        fake_slack.url,
        database_url,
        command=[sys.executable, "-m", "bot", "serve"],
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
    )
    engine = db.make_engine(database_url)
    try:
        fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20)
        sessions = db.make_session_factory(engine)

        def sent_delivery() -> Delivery | None:
            # A fresh session each look: the row exists from its claim, and its channel and ts are written
            # only after Slack has answered the post, a moment after the fake saw the call.
            with sessions() as session:
                person = repo.get_person(session, "T0001", user)
                return session.scalars(
                    select(Delivery).where(Delivery.person_id == person.id, Delivery.message_ts.is_not(None))
                ).first()

        delivery = wait_until(sent_delivery, what="the nudge's row, recorded as sent")
        click = block_action_body(
            ActionId.NUDGE_REFLECT,
            str(delivery.id),
            user_id=user,
            channel_id=delivery.channel_id,
            message_ts=delivery.message_ts,
        )
        assert running.sender.post(click).status == 200
        fake_slack.wait_for_calls("views.open", 1)
        values = {
            BlockId.REFLECTION_TEXT: {ActionId.REFLECTION_TEXT: {"type": "plain_text_input", "value": reflection}},
            BlockId.REFLECTION_SHARED: {ActionId.REFLECTION_SHARED: {"type": "checkboxes", "selected_options": []}},
        }
        submitted = view_submission_body(CallbackId.REFLECTION, values, private_metadata=str(delivery.id), user_id=user)
        assert running.sender.post(submitted).status == 200
        fake_slack.wait_for_calls("chat.update", 1, where=lambda c: "Reflection saved" in json.dumps(c.params))
        with db.make_session_factory(engine)() as session:
            assert session.scalars(select(Reflection.text)).all() == [reflection]  # it was really saved
    finally:
        running.stop()
        engine.dispose()
    log = running.log()
    entries = json_lines(log)
    assert len(entries) > 10 and any(e["level"] == "DEBUG" for e in entries)  # DEBUG was on
    assert any(e["logger"] == "bot.clock.scheduler" and "nudge pass" in e["message"] for e in entries)  # the clock's
    assert BOT_TOKEN not in log
    assert SIGNING_SECRET not in log
    assert reflection not in log
    assert "my private reflection" not in log


def assert_no_secret(log: str, secrets: list[str]) -> None:
    """None of `secrets` anywhere in `log`, nor any word shaped like a Slack token."""
    assert secrets and all(len(secret) >= 8 for secret in secrets)
    for secret in secrets:
        assert secret not in log, secret
    assert logs.TOKEN_PATTERN.search(log) is None, logs.TOKEN_PATTERN.search(log)


def test_a_full_oauth_run_logs_no_secret(fake_slack, database_url, content):
    """Several workspaces over OAuth at DEBUG: a workspace installed through the pages with a token about to
    expire, a command whose authorization refreshes it, the App Home published with the new token, then a clock
    pass (`ladderbot nudges run-due`, its own process) sending a nudge with it. Neither process's log holds the
    client secret, the encryption key, the signing secret, any token Slack issued or any refresh token."""
    oauth = fake_oauth(fake_slack)
    oauth.add_workspace(factories.TEAM, "Acme")
    env = {**oauth_env(fake_slack), "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    running = start_server(
        fake_slack.url, database_url, command=[sys.executable, "-m", "bot", "serve", "--no-clock"], **env
    )
    oauth.redirect_url = f"http://127.0.0.1:{running.port}/slack/oauth_redirect"
    user = "U" + uuid.uuid4().hex[:8].upper()
    try:
        oauth.token_lifetime = 60  # the installed token is about to expire: the first request refreshes it
        assert "installed" in install(running, factories.TEAM).html.lower()
        oauth.token_lifetime = 43_200
        factories.due_plan_in(database_url, content, user)
        reply = running.sender.command("/ladder", "senior", team_id=factories.TEAM, user_id=user)
        assert reply.status == 200 and "Senior" in reply.body.decode()
        assert oauth.refreshes == 1
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home", "event_ts": "1"}
        body = event_body(event, team_id=factories.TEAM, event_id="EvOAuthLogs")
        assert running.sender.post(body, content_type="application/json").status == 200
        fake_slack.wait_for_calls("views.publish", 1, timeout=20)
        clock = subprocess.run(
            [sys.executable, "-m", "bot", "nudges", "run-due"],
            env=server_env(fake_slack.url, database_url, running.port, **env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert clock.returncode == 0, clock.stderr
    finally:
        running.stop()
    tokens = oauth.tokens_of(factories.TEAM)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.response.get("ok")]
    assert len(tokens) == 2 and posts and {c.token for c in posts} <= set(tokens)
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine)() as session:
            person = repo.get_person(session, factories.TEAM, user)
            assert person is not None
            statuses = session.scalars(select(Delivery.status).where(Delivery.person_id == person.id)).all()
    finally:
        engine.dispose()
    assert statuses == ["sent"] and posts[-1].token == tokens[-1]  # the nudge went, with the refreshed token
    refresh_tokens = list(oauth.refresh_tokens)
    assert len(refresh_tokens) == 2
    secrets = [oauth.client_secret, KEY, SIGNING_SECRET, *tokens, *refresh_tokens]
    server_lines = json_lines(running.log())
    assert any(e["level"] == "DEBUG" for e in server_lines)  # DEBUG was on
    assert any("refreshed the bot token" in e["message"] for e in server_lines)
    assert_no_secret(running.log(), secrets)
    assert any("nudge pass" in e["message"] for e in json_lines(clock.stderr))  # the clock's log, at DEBUG too
    assert "sent 1" in clock.stdout  # what run-due prints
    assert_no_secret(clock.stderr + clock.stdout, secrets)


@pytest.fixture
def own_slack() -> Iterator[FakeSlack]:
    """A fake Slack of this test's own: its Socket Mode endpoint carries no link of another test."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_a_full_socket_mode_run_logs_no_secret(own_slack, database_url, content):
    """Socket Mode with its clock at DEBUG: the link opened with the app-level token, a command and the App Home
    through it, a nudge sent. The log holds neither the xapp- token nor the bot token."""
    user = factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    running = start_server(
        own_slack.url,
        database_url,
        command=[sys.executable, "-m", "bot", "serve"],
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET="",
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
    )
    hub = own_slack.socket_mode
    try:
        hub.wait_for_connections(1)
        assert [c.token for c in own_slack.calls_to("apps.connections.open")] == [APP_TOKEN]
        ladder = hub.wait_ack(command(hub, "senior", user, name="/ladder"))
        assert ladder.response and "Senior" in json.dumps(ladder.response)
        hub.wait_ack(home_opened(hub, user))
        own_slack.wait_for_calls("views.publish", 1, timeout=20)
        own_slack.wait_for_calls("chat.postMessage", 1, timeout=30)  # the clock's nudge
    finally:
        running.stop()
    log = running.log()
    entries = json_lines(log)
    assert any(e["level"] == "DEBUG" for e in entries)
    assert any(e["logger"] == "bot.clock.scheduler" and "nudge pass" in e["message"] for e in entries)
    assert_no_secret(log, [APP_TOKEN, BOT_TOKEN])


SECRET = "s3cr3t-signing-value"


@pytest.fixture
def captured():
    """The Redactor and a formatter on a handler writing to a string, as logs.configure sets them up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.Redactor([SECRET, "xoxb-configured-token-1"]))
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    payload = logging.getLogger("slack_bolt.tests")
    payload.addHandler(handler)
    payload.setLevel(logging.DEBUG)
    payload.propagate = False
    yield stream, logger, payload
    for each in (logger, payload):
        each.removeHandler(handler)
        each.propagate = True


def test_secrets_are_redacted_wherever_they_appear(captured):
    stream, logger, _ = captured
    logger.debug("token %s and secret %s", "xoxb-configured-token-1", SECRET)
    logger.info("some other token xoxb-123456-abcdef and app token xapp-1-A1-2-abc123 and xoxe-1-refreshme")
    logger.info("headers {'Authorization': 'Bearer xoxp-abc-123'}")
    try:
        raise ValueError(f"failed with {SECRET}")
    except ValueError:
        logger.exception("it broke")
    text = stream.getvalue()
    assert SECRET not in text
    assert "xoxb-configured-token-1" not in text and "xoxb-123456" not in text
    assert "xapp-1-A1" not in text and "xoxe-1-refreshme" not in text and "xoxp-abc" not in text
    assert text.count(logs.REDACTED) >= 6
    [*_, broke] = json_lines(text)
    assert broke["message"] == "it broke" and "ValueError" in broke["exception"]


def test_payload_loggers_say_nothing_below_warning_and_no_text_above(captured):
    stream, _, payload = captured
    payload.info("request body: {'view': {'state': {'values': {'b': {'a': {'value': 'what I wrote'}}}}}}")
    payload.debug("Sending a request - body: {'text': 'what I wrote'}")
    payload.warning('Unsuccessful: {"text": "what I wrote", "type": "x"}')
    text = stream.getvalue()
    assert "what I wrote" not in text
    [warning] = json_lines(text)
    assert warning["level"] == "WARNING" and '"type": "x"' in warning["message"]


def test_hidden_settings_are_the_secrets():
    settings = Settings(slack_bot_token="xoxb-a-b", slack_signing_secret="sign", slack_client_secret="client")
    values = logs.hidden_values(settings)
    assert {"xoxb-a-b", "sign", "client"} <= set(values)
    assert "INFO" not in values
