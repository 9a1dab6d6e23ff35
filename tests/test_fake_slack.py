"""The fake Slack server answers as Slack does, including refusals, 429s and 5xx."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.services import make_web_client
from bot.testing.fakeslack import User, png_size
from bot.testing.fakeslack.methods import answer
from bot.testing.fakeslack.state import Fault, SlackState
from bot.testing.fakeslack.wire import json_param, parse_body


@pytest.fixture
def client(fake_slack):
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="x", slack_api_url=fake_slack.url)
    return make_web_client(settings)


def test_post_message_records_the_call(client, fake_slack):
    response = client.chat_postMessage(
        channel="C1", text="hello", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    )
    assert response["ok"] and response["channel"] == "C1" and response["ts"]
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.token == "xoxb-test" and call.params["text"] == "hello"


def test_oversize_blocks_are_refused_like_slack(client, fake_slack):
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="t", blocks=too_many)
    assert info.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(
            channel="C1", text="t", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
        )
    assert info.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x" * 40_001)
    assert info.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(
            channel="C1", text="t", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5
        )
    assert info.value.response["error"] == "msg_blocks_too_long"


def test_rate_limit_is_retried_after_retry_after(client, fake_slack):
    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=1)
    started = time.monotonic()
    response = client.chat_postMessage(channel="C1", text="after a 429")
    assert response["ok"]
    assert time.monotonic() - started >= 1.0  # honoured Retry-After
    statuses = [c.status for c in fake_slack.calls_to("chat.postMessage")]
    assert statuses == [429, 200]


def test_server_errors_are_retried_then_surface(client, fake_slack):
    fake_slack.fail("chat.postMessage", status=500, times=1)
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    fake_slack.fail("chat.postMessage", status=503, times=-1)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="x")
    fake_slack.clear_faults()


def test_errors_that_will_not_go_away(client, fake_slack):
    fake_slack.add_user("UGONE", deleted=True)
    fake_slack.add_user("UBOT2", is_bot=True)
    with pytest.raises(SlackApiError) as info:
        client.conversations_open(users="UGONE")
    assert info.value.response["error"] == "user_disabled"
    with pytest.raises(SlackApiError) as info:
        client.conversations_open(users="UBOT2")
    assert info.value.response["error"] == "cannot_dm_bot"
    with pytest.raises(SlackApiError) as info:
        client.users_info(user="UNOPE")
    assert info.value.response["error"] == "user_not_found"
    bad = make_web_client(
        Settings(slack_bot_token="xoxb-invalid", slack_signing_secret="x", slack_api_url=fake_slack.url)
    )
    with pytest.raises(SlackApiError) as info:
        bad.auth_test()
    assert info.value.response["error"] == "invalid_auth"


def test_slow_answers(client, fake_slack):
    fake_slack.slow("users.info", 0.3)
    fake_slack.add_user("U1", tz="Asia/Kolkata")
    started = time.monotonic()
    assert client.users_info(user="U1")["user"]["tz"] == "Asia/Kolkata"
    assert time.monotonic() - started >= 0.3


def test_users_list_paginates(client, fake_slack):
    for i in range(5):
        fake_slack.add_user(f"U{i}")
    sizes = [len(page["members"]) for page in client.users_list(limit=2)]  # the SDK reuses one response object
    assert sizes == [2, 2, 1]


def test_file_upload_v2(client, fake_slack):
    response = client.files_upload_v2(channel="C1", content=b"\x89PNG\r\n", filename="chart.png", title="Chart")
    assert response["ok"]
    assert list(fake_slack.uploads.values()) == [b"\x89PNG\r\n"]


# --- the Web API methods, called directly (no HTTP) ---------------------------------------------------


def call(state: SlackState, method: str, **params: Any) -> dict[str, Any]:
    body = json.dumps({"token": "xoxb-test", **params}).encode()
    status, answer_body, _ = answer(state, method, body, {"Content-Type": "application/json"})
    assert status == 200
    return answer_body


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_messages_post_update_and_read_back_newest_first():
    state = SlackState("T1")
    first = call(state, "chat.postMessage", channel="C1", text="one", metadata={"event_type": "x", "event_payload": {}})
    second = call(state, "chat.postMessage", channel="C1", text="two")
    assert call(state, "chat.postMessage", channel="U7", text="dm")["channel"] == "D7"  # a user id means their DM
    updated = call(state, "chat.update", channel="C1", ts=first["ts"], text="one, edited", blocks=[section("x")])
    assert updated["ok"] and updated["text"] == "one, edited"
    assert call(state, "chat.update", channel="C1", ts="1.2", text="x")["error"] == "message_not_found"
    history = call(state, "conversations.history", channel="C1", limit=1)
    assert [m["ts"] for m in history["messages"]] == [second["ts"]] and history["has_more"]
    everything = call(state, "conversations.history", channel="C1", include_all_metadata="true")
    assert [m.get("metadata") for m in everything["messages"]] == [None, {"event_type": "x", "event_payload": {}}]
    assert "metadata" not in call(state, "conversations.history", channel="C1")["messages"][1]


def test_messages_refused_like_slack():
    state = SlackState("T1")
    state.users["UGONE"] = User("UGONE", deleted=True)
    assert call(state, "chat.postMessage", channel="UGONE", text="x")["error"] == "channel_not_found"
    assert call(state, "chat.postMessage", channel="", text="x")["error"] == "channel_not_found"
    assert call(state, "chat.postMessage", channel="C1")["error"] == "no_text"
    assert call(state, "chat.postMessage", channel="C1", blocks="[not json")["error"] == "invalid_blocks_format"
    assert call(state, "chat.postEphemeral", channel="C1", text="x")["error"] == "user_not_found"
    assert call(state, "chat.postEphemeral", channel="C1", user="U1", text="x")["message_ts"]


def test_conversations_open_and_the_directory():
    state = SlackState("T1")
    assert call(state, "conversations.open", users="")["error"] == "users_list_not_supplied"
    assert call(state, "conversations.open", users=",".join(f"U{i}" for i in range(9)))["error"] == "too_many_users"
    assert call(state, "conversations.open", users="U1")["channel"] == {"id": "D1"}  # nobody known: anyone goes
    state.users["U2"] = User("U2", email="Sam@Example.com", name="sam")
    assert call(state, "conversations.open", users="U1")["error"] == "user_not_found"
    assert call(state, "users.lookupByEmail", email="sam@example.com")["user"]["name"] == "sam"
    assert call(state, "users.lookupByEmail", email="")["error"] == "users_not_found"
    assert call(state, "auth.test")["team_id"] == "T1"
    assert call(state, "api.test", foo="bar")["args"] == {"foo": "bar"}


def test_views_need_what_slack_needs():
    state = SlackState("T1")
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [section("x")]}
    assert call(state, "views.open", view=view)["error"] == "invalid_trigger_id"
    assert call(state, "views.open", trigger_id="1", view="[]")["error"] == "invalid_arguments"
    assert call(state, "views.open", trigger_id="1", view=view)["view"]["id"].startswith("V")
    assert call(state, "views.push", trigger_id="1", view=view)["ok"]
    assert call(state, "views.update", view_id="V1", view=view)["ok"]
    assert call(state, "views.publish", view=view)["error"] == "invalid_arguments"
    assert call(state, "views.publish", user_id="U1", view=view)["ok"]
    crowded = call(state, "views.publish", user_id="U1", view={**view, "blocks": [section("x")] * 101})
    assert crowded["error"] == "invalid_arguments" and crowded["response_metadata"]["messages"]
    huge = {**view, "private_metadata": "x" * 250_001}
    assert call(state, "views.update", view_id="V1", view=huge)["error"] == "view_too_large"


def test_file_uploads_share_into_a_thread():
    state = SlackState("T1")
    state.base_url = "http://fake"
    assert call(state, "files.getUploadURLExternal", filename="c.png")["error"] == "invalid_arguments"
    upload = call(state, "files.getUploadURLExternal", filename="c.png", length=3)
    assert upload["upload_url"] == f"http://fake/upload/{upload['file_id']}"
    files = [{"id": upload["file_id"], "title": "Chart"}]
    assert call(state, "files.completeUploadExternal", files=files)["error"] == "file_not_found"  # not uploaded yet
    state.uploads[upload["file_id"]] = tiny_png()
    done = call(
        state, "files.completeUploadExternal", files=files, channel_id="D1", thread_ts="5.1", initial_comment="c"
    )
    assert done["files"] == [{"id": upload["file_id"], "name": "c.png", "title": "Chart"}]
    assert state.files[upload["file_id"]]["image_size"] == (2, 1)
    [message] = state.messages.values()
    assert message["thread_ts"] == "5.1" and message["text"] == "c"


def test_tokens_faults_and_unknown_methods():
    state = SlackState("T1")
    status, body, _ = answer(state, "auth.test", b"", {})
    assert (status, body["error"]) == (200, "not_authed")
    status, body, _ = answer(state, "auth.test", b"token=xoxb-revoked", {"Content-Type": "x-www-form-urlencoded"})
    assert body["error"] == "token_revoked"
    status, body, _ = answer(state, "auth.test", b"", {"Authorization": "Bearer xapp-1"})
    assert body["error"] == "not_allowed_token_type"  # an app-level token only opens Socket Mode links
    status, body, _ = answer(state, "chat.meow", b"", {"Authorization": "Bearer xoxb-1"})
    assert (status, body["error"]) == (404, "unknown_method")
    state.faults["auth.test"] = [Fault(200, "account_inactive", None, 1, 0.0)]
    assert call(state, "auth.test")["error"] == "account_inactive"
    assert call(state, "auth.test")["ok"]  # used up
    assert [c.method for c in state.calls] == ["auth.test"] * 3 + ["chat.meow", "auth.test", "auth.test"]


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_png_size_reads_only_whole_pngs():
    png = tiny_png()
    assert png_size(png) == (2, 1)
    assert png_size(png[:-5]) is None  # a cut-off file
    assert png_size(b"GIF89a") is None
    assert png_size(png.replace(b"IDAT", b"IDAx")) is None  # the checksum no longer matches


def test_wire_reads_forms_and_json():
    assert parse_body(b"a=1&a=2&b=", "application/x-www-form-urlencoded") == {"a": "2", "b": ""}
    assert parse_body(b'{"a": 1}', "application/json") == {"a": 1}
    assert parse_body(b"[1]", "application/json") == {} and parse_body(b"{", "application/json") == {}
    assert json_param('{"a": 1}') == {"a": 1} and json_param("") is None and json_param("{") is None


# --- the HTTP side ----------------------------------------------------------------------------------


def test_http_routes_besides_the_web_api(fake_slack):
    def fetch(path: str, data: bytes | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(fake_slack.base + path, data=data)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    status, body = fetch("/api/auth.test?token=xoxb-1")  # Slack takes GET with a query too
    assert status == 200 and json.loads(body)["ok"]
    status, body = fetch("/_fake/calls")
    assert json.loads(body)["calls"] == [{"method": "auth.test", "params": {}, "status": 200}]
    url = fake_slack.response_url()
    assert fetch(url[len(fake_slack.base) :], b'{"text": "hi"}')[0] == 200
    assert fake_slack.wait_for_responses(1)[0]["url_id"] == url.rsplit("/", 1)[-1]
    assert fetch("/nowhere")[0] == 404 and fetch("/nowhere", b"x")[0] == 404
    assert fetch("/_fake/reset", b"")[0] == 200
    assert fake_slack.calls == [] and fake_slack.responses == []
    assert fake_slack.wait_for_calls("auth.test", 1, timeout=0.05) == []  # gives up at the timeout
