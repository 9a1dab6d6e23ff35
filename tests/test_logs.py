"""Logs: LOG_FORMAT=json writes one JSON object per line with the request's ids; and no token, signing secret
or reflection text reaches the logs of a full run (server, clock, a reflection submitted) at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid

import pytest
from sqlalchemy import select

from bot import logs
from bot.config import Settings
from bot.ids import ActionId, BlockId, CallbackId
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Delivery, Reflection
from tests import factories
from tests.server import start_server
from tests.slack_requests import SIGNING_SECRET, block_action_body, view_submission_body
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


def test_json_lines_carry_the_request_ids(fake_slack, database_url):
    running = start_server(
        fake_slack.url,
        database_url,
        command=[sys.executable, "-m", "bot", "serve", "--no-clock"],
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    try:
        # an action no listener takes is logged at info, from inside the request
        reply = running.sender.action("no_such_action", "1", user_id="ULOGS1", team_id="T0001")
        assert reply.status == 200
        entries = wait_until(
            lambda: [e for e in json_lines(running.log()) if "no listener" in e["message"]], what="the request's line"
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
        with db.make_session_factory(engine)() as session:
            person = repo.get_person(session, "T0001", user)
            delivery = wait_until(
                lambda: session.scalars(select(Delivery).where(Delivery.person_id == person.id)).first(),
                what="the nudge's row",
            )
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
