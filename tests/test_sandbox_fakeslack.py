"""What the fake Slack keeps for the sandbox page, as Slack's client would show it: ephemeral messages per
person, response_url posts acting on the message they answer, chat.delete, each person's modal stack and
App Home, and presence."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from bot.testing.fakeslack import User
from bot.testing.fakeslack.methods import answer
from bot.testing.fakeslack.state import ResponseTarget, SlackState


def call(state: SlackState, method: str, **params: Any) -> dict[str, Any]:
    body = json.dumps(params).encode()
    return answer(state, method, body, {"Content-Type": "application/json", "Authorization": "Bearer xoxb-t"})[1]


def post(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_ephemeral_messages_are_kept_for_their_person_only():
    state = SlackState("T1")
    before = state.revision
    ts = call(state, "chat.postEphemeral", channel="C1", user="U1", text="psst")["message_ts"]
    [kept] = state.ephemerals.values()
    assert (kept.channel, kept.user, kept.message["text"], kept.message["ts"]) == ("C1", "U1", "psst", ts)
    assert state.messages == {} and state.revision > before
    assert call(state, "chat.postEphemeral", channel="", user="U1", text="x")["error"] == "channel_not_found"


def test_chat_delete_removes_the_message():
    state = SlackState("T1")
    posted = call(state, "chat.postMessage", channel="C1", text="bye")
    assert call(state, "chat.delete", channel="C1", ts=posted["ts"])["ok"]
    assert state.messages == {}
    assert call(state, "chat.delete", channel="C1", ts=posted["ts"])["error"] == "message_not_found"


def test_response_urls_replace_delete_or_add_as_slack_does(fake_slack):
    state = fake_slack.state
    original = call(state, "chat.postMessage", channel="D1", text="old", blocks=[section("old")])
    target = ResponseTarget("D1", "U1", original["ts"])

    post(state.response_url_for(target), {"text": "new", "blocks": [section("new")], "replace_original": True})
    assert [m["text"] for m in fake_slack.messages_to("D1")] == ["new"]

    post(state.response_url_for(target), {"text": "more", "response_type": "ephemeral"})
    [extra] = state.ephemerals.values()
    assert (extra.user, extra.channel, extra.message["text"]) == ("U1", "D1", "more")

    post(state.response_url_for(target), {"text": "for all", "response_type": "in_channel"})
    assert [m["text"] for m in fake_slack.messages_to("D1")] == ["new", "for all"]

    post(state.response_url_for(target), {"delete_original": "true"})
    assert [m["text"] for m in fake_slack.messages_to("D1")] == ["for all"]
    assert len(fake_slack.responses) == 4  # still recorded as posts, for the tests that read them


def test_response_url_replaces_an_ephemeral_original(fake_slack):
    state = fake_slack.state
    ts = state.store_ephemeral("C1", "U1", {"text": "only you"})
    post(
        state.response_url_for(ResponseTarget("C1", "U1", ts, ephemeral=True)),
        {"text": "edited", "replace_original": True},
    )
    assert state.ephemerals[ts].message["text"] == "edited"


def test_a_slash_commands_response_url_adds_messages(fake_slack):
    state = fake_slack.state
    post(state.response_url_for(ResponseTarget("C1", "U1")), {"text": "later", "replace_original": True})
    [later] = state.ephemerals.values()  # nothing to replace: a command has no message of its own
    assert later.message["text"] == "later"


def test_views_open_push_update_per_person_and_the_app_home():
    state = SlackState("T1")
    view = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": [section("a")]}
    trigger = state.new_trigger("U1")
    opened = call(state, "views.open", trigger_id=trigger, view=view)["view"]
    pushed = call(state, "views.push", trigger_id=state.new_trigger("U1"), view={**view, "external_id": "two"})["view"]
    assert [v["id"] for v in state.view_stacks["U1"]] == [opened["id"], pushed["id"]]

    updated = call(state, "views.update", external_id="two", view={**view, "blocks": [section("b")]})["view"]
    assert updated["id"] == pushed["id"] and state.view_stacks["U1"][-1]["blocks"] == [section("b")]

    # a trigger the fake never handed out (tests make up their own) opens nothing anyone sees
    assert call(state, "views.open", trigger_id="1337.42.x", view=view)["ok"]
    assert list(state.view_stacks) == ["U1"]

    state.close_views("U1", all_of_them=False)
    assert [v["id"] for v in state.view_stacks["U1"]] == [opened["id"]]
    state.close_views("U1", all_of_them=True)
    assert state.view_stacks["U1"] == []

    home = {"type": "home", "blocks": [section("home")]}
    published = call(state, "views.publish", user_id="U2", view=home)["view"]
    assert state.homes["U2"]["id"] == published["id"]
    again = call(state, "views.update", view_id=published["id"], view={**home, "blocks": [section("h2")]})
    assert again["view"]["id"] == published["id"] and state.homes["U2"]["blocks"] == [section("h2")]


def test_presence_and_status():
    state = SlackState("T1")
    state.users["U1"] = User("U1", presence="away", status_text="On leave", status_emoji=":palm_tree:")
    assert call(state, "users.getPresence", user="U1")["presence"] == "away"
    assert call(state, "users.info", user="U1")["user"]["profile"]["status_text"] == "On leave"
    assert call(state, "users.getPresence", user="U9")["error"] == "user_not_found"
