"""The app's one error handler, through Bolt's public dispatch with signed requests: a refusal that slips
out of a listener is still the person's answer, an unexpected error answers with an id and no traceback,
and a request no listener takes is a quiet 200."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt import Ack, App, BoltRequest

from bot.app import create_app
from bot.config import Settings
from bot.content.records import Content
from bot.errors import NotYours
from bot.services import build_services
from bot.storage import engine as db
from bot.testing.fakeslack import FakeSlack
from tests.slack_requests import SIGNING_SECRET, block_action_body, sign, slash_command_body


@pytest.fixture
def app(tmp_path: Path, content: Content, fake_slack: FakeSlack) -> Iterator[App]:
    url = f"sqlite:///{tmp_path}/app.sqlite3"
    db.migrate(url)
    engine = db.make_engine(url)
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=fake_slack.url)
    app = create_app(build_services(settings, content, engine, db.make_session_factory(engine)))

    @app.command("/refuse-me")
    def refuse(ack: Ack) -> None:
        raise NotYours("That is not yours to change.")

    @app.command("/break-me")
    def crash(ack: Ack) -> None:
        raise RuntimeError("secret internals")

    yield app
    engine.dispose()


def dispatch(app: App, body: bytes, content_type: str) -> tuple[int, str]:
    now = int(time.time())
    headers = {
        "content-type": [content_type],
        "x-slack-request-timestamp": [str(now)],
        "x-slack-signature": [sign(body, now)],
    }
    response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    return response.status, response.body


def test_a_refusal_that_reaches_the_error_handler_is_the_answer(app: App) -> None:
    status, body = dispatch(app, slash_command_body("/refuse-me", ""), "application/x-www-form-urlencoded")
    assert status == 200
    assert json.loads(body) == {"response_type": "ephemeral", "text": "That is not yours to change."}


def test_an_unexpected_error_answers_with_an_id_and_no_traceback(app: App) -> None:
    status, body = dispatch(app, slash_command_body("/break-me", ""), "application/x-www-form-urlencoded")
    assert status == 200
    text = json.loads(body)["text"]
    assert "something went wrong on our side (error id `" in text and "secret internals" not in text


def test_a_request_no_listener_takes_is_a_quiet_200(app: App) -> None:
    status, body = dispatch(app, block_action_body("retired_button", "1"), "application/x-www-form-urlencoded")
    assert (status, body) == (200, "")
