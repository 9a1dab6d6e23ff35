"""Scenario tests: signed requests, shaped as Slack sends them, to the real `ladderbot serve`."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import create_engine, text

from bot.blocks.kit import Message, message_problems
from bot.content.records import Content
from bot.ids import ActionId
from bot.storage import engine as db
from bot.testing.fakeslack import FakeSlack
from tests.server import RunningServer
from tests.slack_requests import Reply, block_action_body, sign, slash_command_body
from tests.waiting import response_to, stays, wait_until


def ack_message(reply: Reply) -> Message:
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    return Message(body["text"], tuple(body["blocks"]))


def all_text(message: Message) -> str:
    parts = [message.text]
    for block in message.blocks:
        parts.append(json.dumps(block))
    return "\n".join(parts)


def test_health_reports_database_and_content(server: RunningServer) -> None:
    reply = server.sender.raw("GET", "/healthz")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["detail"] == db.head_revision()
    assert body["content"]["levels"] == 5


def test_ladder_senior_answers_in_the_ack_with_every_dimension(
    server: RunningServer, fake_slack: FakeSlack, content: Content
) -> None:
    ack_message(server.sender.command("/ladder", "", user_id="UKNOWN1"))  # a first use: welcomed in the background
    wait_until(  # this user's own welcome DM, not any earlier test's message
        lambda: any(c.response.get("channel") == "DKNOWN1" for c in fake_slack.calls_to("chat.postMessage")),
        what="the welcome DM to UKNOWN1",
    )
    fake_slack.reset()
    message = ack_message(server.sender.command("/ladder", "senior", user_id="UKNOWN1"))
    senior = content.level("senior")
    rendered = all_text(message)
    assert senior.title in rendered
    for item in senior.dimensions:
        if item.dimension.id not in ("summary", "experience"):
            assert item.dimension.name in rendered, item.dimension.id
        for point in item.points:
            assert point.replace("&", "&amp;") in rendered
    assert senior.summary in rendered
    assert message_problems(message) == []
    actions = [b for b in message.blocks if b["type"] == "actions"][0]
    assert actions["elements"][0]["action_id"] == ActionId.SHARE

    # answered from local content: no Web API call was made for this person (other tests' background
    # work may still reach the shared fake, so look only at calls about this user). No event marks the end
    # of background work that never happens, so this watches for a while, failing at the first such call.
    def mine() -> list[str]:
        return [c.method for c in fake_slack.calls if "KNOWN1" in json.dumps(c.params)]

    assert stays(lambda: mine() == [], 0.3), mine()


def test_typo_gets_a_suggestion_not_an_error(server: RunningServer) -> None:
    message = ack_message(server.sender.command("/ladder", "seniour"))
    assert "Did you mean" in message.text
    assert "`/ladder senior`" in message.text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("mid -&gt; senior", "Mid-level → Senior: what changes"),
        ("compare mid senior", "Mid-level → Senior: what changes"),
        ("  SR   security ", "Senior Backend Engineer: Security and compliance"),
        ("area data", "Data architecture and management"),
        ("engineer ii", "Mid-level Backend Engineer (Engineer II)"),
        ("", "Backend Engineering: the ladder"),
    ],
)
def test_ladder_forms(server: RunningServer, text: str, expected: str) -> None:
    message = ack_message(server.sender.command("/ladder", text))
    assert message.blocks[0]["type"] == "header"
    assert message.blocks[0]["text"]["text"] == expected


def test_interview_junior_bank_includes_the_seed_questions(server: RunningServer, content: Content) -> None:
    seed_junior = [q for q in content.questions if q.origin == "seed" and q.strong_at("junior")]
    assert len(seed_junior) == 4
    for question in seed_junior:
        message = ack_message(server.sender.command("/interview", f"junior {question.topic} 10"))
        assert question.question.replace("&", "&amp;") in all_text(message)
    message = ack_message(server.sender.command("/interview", "junior"))
    assert message.blocks[0]["text"]["text"].startswith("Interview questions: Junior")
    assert sum(1 for b in message.blocks if b["type"] == "section") == 5


def test_interview_staff_system_design(server: RunningServer) -> None:
    message = ack_message(server.sender.command("/interview", "staff system-design"))
    assert message.blocks[0]["text"]["text"] == "Interview questions: Staff Backend Engineer, System design"
    assert "A strong Staff answer" in all_text(message)


def test_share_button_reposts_the_same_answer_in_channel(server: RunningServer, fake_slack: FakeSlack) -> None:
    original = ack_message(server.sender.command("/ladder", "staff"))
    share = [b for b in original.blocks if b["type"] == "actions"][0]["elements"][0]
    url = fake_slack.response_url()
    reply = server.sender.action(ActionId.SHARE, share["value"], user_id="U0042", response_url=url)
    assert reply.status == 200
    posted = response_to(fake_slack, url)  # by its URL: the run's shared server may answer an earlier test late
    assert posted["response_type"] == "in_channel"
    blocks = posted["blocks"]
    content_blocks = [b for b in original.blocks if b["type"] != "actions"]
    assert blocks[: len(content_blocks)] == content_blocks  # the same answer...
    assert all(b["type"] != "actions" for b in blocks)  # ...without buttons
    assert "<@U0042>" in json.dumps(blocks[-1])


def test_share_of_interview_reposts_the_same_questions(server: RunningServer, fake_slack: FakeSlack) -> None:
    original = ack_message(server.sender.command("/interview", "senior 3"))
    share = [b for b in original.blocks if b["type"] == "actions"][0]["elements"][0]
    url = fake_slack.response_url()
    server.sender.action(ActionId.SHARE, share["value"], response_url=url)
    posted = response_to(fake_slack, url)
    questions = [b for b in original.blocks if b["type"] == "section"]
    assert [b for b in posted["blocks"] if b["type"] == "section"] == questions


def test_open_button_replaces_the_answer(server: RunningServer, fake_slack: FakeSlack) -> None:
    url = fake_slack.response_url()
    server.sender.action(ActionId.LADDER_OPEN, "compare senior staff", response_url=url)
    posted = response_to(fake_slack, url)
    assert posted["replace_original"] is True
    assert posted["blocks"][0]["text"]["text"] == "Senior → Staff: what changes"


def test_first_use_records_the_person(server: RunningServer) -> None:
    user = f"UREC{int(time.time() * 1000) % 10**8}"
    ack_message(server.sender.command("/ladder", "", user_id=user, team_id="TREC"))
    engine = create_engine(server.database_url)

    def recorded() -> bool:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT p.user_id FROM people p JOIN workspaces w ON w.id = p.workspace_id "
                    "WHERE w.team_id = 'TREC' AND p.user_id = :u"
                ),
                {"u": user},
            ).first()
        return row is not None

    try:
        assert wait_until(recorded, what=f"the person row for {user}")
    finally:
        engine.dispose()


# --- refusals ---------------------------------------------------------------------------------


def test_wrong_signature_is_refused(server: RunningServer) -> None:
    reply = server.sender.post(slash_command_body("/ladder", "senior"), signature="v0=" + "0" * 64)
    assert reply.status == 401


def test_signature_with_another_secret_is_refused(server: RunningServer) -> None:
    body = slash_command_body("/ladder", "senior")
    now = int(time.time())
    assert server.sender.post(body, timestamp=now, signature=sign(body, now, "other-secret")).status == 401


def test_old_timestamp_is_refused(server: RunningServer) -> None:
    reply = server.sender.post(slash_command_body("/ladder", "senior"), timestamp=int(time.time()) - 301)
    assert reply.status == 401


def test_missing_signature_headers_are_refused(server: RunningServer) -> None:
    reply = server.sender.raw(
        "POST",
        "/slack/events",
        slash_command_body("/ladder", "senior"),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 401


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
        (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_get_a_4xx(server: RunningServer, body: bytes, content_type: str) -> None:
    reply = server.sender.post(body, content_type=content_type)
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert b"Traceback" not in reply.body


def test_unknown_paths_and_methods(server: RunningServer) -> None:
    assert server.sender.raw("GET", "/nope").status == 404
    assert server.sender.raw("GET", "/slack/events").status == 405
    assert server.sender.raw("POST", "/healthz").status == 405


def test_oversized_body_is_refused(server: RunningServer) -> None:
    reply = server.sender.post(b"text=" + b"a" * 1_100_000)
    assert reply.status == 413


def test_url_verification_and_ssl_check(server: RunningServer) -> None:
    reply = server.sender.post(
        json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}).encode(),
        content_type="application/json",
    )
    assert reply.status == 200 and reply.json() == {"challenge": "c-123"}
    reply = server.sender.post(b"ssl_check=1&token=x")
    assert reply.status == 200


def test_unhandled_action_is_not_a_500(server: RunningServer) -> None:
    reply = server.sender.post(block_action_body("no_such_action", "x"))
    assert reply.status == 200  # acknowledged quietly (tests/test_command_contract.py has the other kinds)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,
        "<@U123|alice> <#C1|general> <!here>",
        "😀 senior 💥",
        "\x00\x01senior",
        "compare",
        "compare mid",
        "compare mid mid",
        "senior nonsense words here",
        "area",
        "area nowhere",
        "&amp;&lt;&gt;",
        "-1",
        "help me",
    ],
)
def test_hostile_ladder_text_always_gets_a_valid_answer(server: RunningServer, text: str) -> None:
    message = ack_message(server.sender.command("/ladder", text))
    assert message_problems(message) == []
    assert "<@U123" not in all_text(message)  # user text is escaped, never a live mention


@pytest.mark.parametrize(
    "text",
    [
        "",
        "help",
        "topics",
        "staff 0",
        "staff 999999999999",
        "staff -3",
        "junior leadership",
        "nobody",
        "senior nosuchtopic 3",
        "x" * 3000,
    ],
)
def test_hostile_interview_text_always_gets_a_valid_answer(server: RunningServer, text: str) -> None:
    message = ack_message(server.sender.command("/interview", text))
    assert message_problems(message) == []
