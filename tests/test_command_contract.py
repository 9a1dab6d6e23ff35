"""Every /growth subcommand, sent empty and with junk through the real server, gets a 200 and an answer;
every interaction the app does not know gets a quiet 200 (never Bolt's 404)."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import Any

import pytest

from bot.app import describe_request
from tests.growth_table import table
from tests.server import RunningServer
from tests.slack_requests import block_action_body, view_submission_body

SUBCOMMANDS = [entry.name for entry in table().entries]
JUNK = "qzx!! <@nobody> 💥 --"
FAILED = ("went wrong", "Traceback", "error id")


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


def answer_of(reply: Any) -> str:
    assert reply.status == 200, reply.body
    body = reply.json()
    text = body["text"] + json.dumps(body.get("blocks", []))
    assert body["text"].strip() and not any(word in text for word in FAILED), text
    return text


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_answers_empty_text(server: RunningServer, name: str) -> None:
    entry = table().entry(name)
    text = answer_of(server.sender.command("/growth", name, user_id=new_user()))
    takes_arguments = any(mark in entry.usage for mark in ("<", "@", "|"))
    if takes_arguments and entry.follow_up is None:
        assert "/growth" in text  # a usage answer: how to say it


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_answers_junk(server: RunningServer, name: str) -> None:
    answer_of(server.sender.command("/growth", f"{name} {JUNK}", user_id=new_user()))


def test_unknown_words_get_usage(server: RunningServer) -> None:
    text = answer_of(server.sender.command("/growth", JUNK, user_id=new_user()))
    assert "I don't know" in text and "/growth help" in text


def _payload(payload: dict[str, Any]) -> bytes:
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


def _shortcut(kind: str, callback_id: str) -> bytes:
    payload: dict[str, Any] = {
        "type": kind,
        "callback_id": callback_id,
        "trigger_id": "1337.42.shortcut",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": "U0001", "username": "u0001", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "verification-token-unused",
        "action_ts": "1700000001.000200",
    }
    if kind == "message_action":
        payload |= {
            "channel": {"id": "C0001", "name": "general"},
            "message": {"type": "message", "ts": "1700000000.000100", "text": "hi"},
            "message_ts": "1700000000.000100",
            "response_url": "https://hooks.slack.test/actions/1",
        }
    return _payload(payload)


def _view_closed(callback_id: str) -> bytes:
    return _payload(
        {
            "type": "view_closed",
            "team": {"id": "T0001", "domain": "fake"},
            "user": {"id": "U0001", "username": "u0001", "team_id": "T0001"},
            "api_app_id": "A0001",
            "token": "verification-token-unused",
            "view": {"id": "V0001", "type": "modal", "callback_id": callback_id, "private_metadata": ""},
            "is_cleared": False,
        }
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(block_action_body("gone_from_an_old_message", "x"), id="old-button"),
        pytest.param(view_submission_body("no_such_view", {}), id="unknown-view-submission"),
        pytest.param(_view_closed("no_such_view"), id="unknown-view-closed"),
        pytest.param(_shortcut("shortcut", "no_such_shortcut"), id="undeclared-global-shortcut"),
        pytest.param(_shortcut("message_action", "no_such_shortcut"), id="undeclared-message-shortcut"),
    ],
)
def test_unknown_interactions_are_acknowledged_quietly(server: RunningServer, body: bytes) -> None:
    reply = server.sender.post(body)
    assert reply.status == 200 and reply.body == b""
    assert "Unhandled request" not in server.log()


def test_the_log_line_names_what_was_not_handled() -> None:
    action = json.loads(urllib.parse.unquote(block_action_body("gone", "x").decode().removeprefix("payload=")))
    assert describe_request(action) == "block_actions gone"
    view = json.loads(urllib.parse.unquote(_view_closed("old_view").decode().removeprefix("payload=")))
    assert describe_request(view) == "view_closed old_view"
    shortcut = json.loads(urllib.parse.unquote(_shortcut("shortcut", "nope").decode().removeprefix("payload=")))
    assert describe_request(shortcut) == "shortcut nope"
    assert describe_request({"type": "event_callback", "event": {"type": "reaction_added"}}) == (
        "event_callback reaction_added"
    )
