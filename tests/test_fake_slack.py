"""The fake Slack server answers as Slack does, including refusals, 429s and 5xx."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.services import make_web_client


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
