"""/growth export through the real server and the fake Slack, on SQLite and PostgreSQL: a short ack, then
the whole export as one JSON file uploaded to the asker's own DM (two years of history is far past what a
Slack message holds), with the asker's data and nobody else's.

`exported` is the helper the other export tests use to read the file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.kit import MAX_BLOCKS, MAX_SECTION_TEXT, Message, message_problems
from bot.content.records import Content
from bot.evidence import store
from bot.growth import plans as growth
from bot.storage import engine as db
from bot.testing.fakeslack import FakeSlack
from tests import factories
from tests.evidence_samples import SAMPLES
from tests.server import RunningServer
from tests.waiting import wait_until

WEEKS = 104  # two years of weekly nudges
ITEMS = 100  # nudges, reflections and evidence items each
OTHERS_REFLECTION = "Bob's private note: I am thinking about leaving the team after the reorg"


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


def _parsed(value: Any) -> Any:
    """A JSON parameter as the fake recorded it: already parsed, or still a string."""
    return json.loads(value) if isinstance(value, str) else (value or [])


def export_uploads(fake: FakeSlack, user: str) -> list[tuple[str, bytes]]:
    """(name, content) of every export file shared in `user`'s DM with the bot, in upload order."""
    dm = "D" + user[1:]
    found = []
    for call in fake.calls_to("files.completeUploadExternal"):
        if call.params.get("channel_id") != dm or not call.response.get("ok"):
            continue
        for shared in _parsed(call.params.get("files")):
            info = fake.files.get(shared["id"]) or {}
            if str(info.get("name", "")).startswith("ladderbot-export-"):
                found.append((info["name"], fake.uploads[shared["id"]]))
    return found


def answer_to(fake: FakeSlack, url: str) -> dict[str, Any]:
    """The post to the response URL `url`, once it arrives."""
    url_id = url.rsplit("/", 1)[-1]
    return wait_until(
        lambda: next((r for r in list(fake.responses) if str(r.get("url_id")) == url_id), None),
        30,
        what="the export's answer through the response_url",
    )


def exported(
    server: RunningServer, fake: FakeSlack, user: str, team_id: str = "T0001"
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Run /growth export as `user`: (the ack's body, the answer through the response_url as text, the JSON
    file that arrived in their DM, parsed)."""
    before = len(export_uploads(fake, user))
    url = fake.response_url()
    reply = server.sender.command("/growth", "export", user_id=user, team_id=team_id, response_url=url)
    assert reply.status == 200, reply.body
    answer = answer_to(fake, url)
    files = wait_until(lambda: export_uploads(fake, user)[before:], 30, what="the export file in the DM")
    assert len(files) == 1, [name for name, _ in files]
    name, content = files[0]
    assert name.endswith(".json")
    return reply.json(), answer.get("text", "") + json.dumps(answer.get("blocks", [])), json.loads(content)


@pytest.fixture
def dbs(server: RunningServer) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def two_years_of(sessions: sessionmaker[Session], content: Content, user: str) -> None:
    """A person with a plan, 100 answered weekly nudges (over two years), a reflection on each, and 100
    evidence items, written through the features' own functions."""
    texts = [text for _, text, _ in SAMPLES]
    with sessions.begin() as session:
        person = factories.person(session, user)
        # welcomed already: a first-use welcome, off the ack, would store the DM it posts to and race the
        # export's own look for a known DM
        person.welcomed_at = factories.MONDAY_10_UTC
        factories.plan(session, content, person, level="mid", focus=("security", "api"))
        nudges = factories.deliveries(session, person, content.prompts[0].id, ["done", "skipped"] * (ITEMS // 2))
        for i, nudge in enumerate(nudges):
            growth.add_reflection(session, person, nudge.id, f"Week {i}: {texts[i % len(texts)][:200]}", i % 3 == 0)
        for i in range(ITEMS):
            store.add_evidence(
                session,
                content,
                person,
                source="command",
                text=f"Win {i}: {texts[(i * 7) % len(texts)]}",
                expectations=[],
                now=factories.MONDAY_10_UTC - timedelta(weeks=WEEKS) * i / ITEMS,
            )


def test_a_two_year_export_arrives_as_a_file_in_the_dm(server, fake_slack, dbs, content):
    alice, bob = new_user(), new_user()
    two_years_of(dbs, content, alice)
    with dbs.begin() as session:
        other = factories.person(session, bob)
        factories.plan(session, content, other, level="junior", focus=("api",))
        growth.add_reflection(session, other, None, OTHERS_REFLECTION, False)

    ack, answer, data = exported(server, fake_slack, alice)

    # the ack is short: it says a file is coming, and holds none of the data
    ack_message = Message(ack["text"], tuple(ack.get("blocks", [])))
    assert "JSON file" in ack["text"] and "DM" in ack["text"] and ack.get("response_type") == "ephemeral"
    assert message_problems(ack_message) == [] and len(ack_message.blocks) < MAX_BLOCKS
    assert len(json.dumps(ack)) < MAX_SECTION_TEXT and "Week 1:" not in json.dumps(ack)
    # the answer counts what the file holds
    assert "ladderbot-export-" in answer and f"{ITEMS} nudges" in answer and f"{ITEMS} reflections" in answer
    assert f"{ITEMS} evidence items" in answer
    # the file holds all of it
    assert data["user_id"] == alice and data["team_id"] == "T0001" and data["exported_at"]
    assert data["plan"]["level"] == "mid" and data["plan"]["focus"] == ["security", "api"]
    assert len(data["nudges"]) == ITEMS and {n["answer"] for n in data["nudges"]} == {"done", "skipped"}
    assert len(data["reflections"]) == ITEMS and len(data["evidence"]) == ITEMS
    assert {r["text"].split(":")[0] for r in data["reflections"]} == {f"Week {i}" for i in range(ITEMS)}
    assert {e["text"].split(":")[0] for e in data["evidence"]} == {f"Win {i}" for i in range(ITEMS)}
    assert sum(r["shared"] for r in data["reflections"]) == len(range(0, ITEMS, 3))
    # nobody else's
    whole = json.dumps(data, ensure_ascii=False)
    assert OTHERS_REFLECTION not in whole and bob not in whole
    # the file went to alice's DM only
    assert export_uploads(fake_slack, bob) == []
    opened = [c.params.get("users") for c in fake_slack.calls_to("conversations.open")]
    assert opened and set(opened) == {alice}


def test_the_other_persons_export_holds_only_their_own(server, fake_slack, dbs, content):
    alice, bob = new_user(), new_user()
    two_years_of(dbs, content, alice)
    with dbs.begin() as session:
        growth.add_reflection(session, factories.person(session, bob), None, OTHERS_REFLECTION, False)

    _, answer, data = exported(server, fake_slack, bob)
    assert data["user_id"] == bob and data["plan"] is None and data["nudges"] == [] and data["evidence"] == []
    assert [r["text"] for r in data["reflections"]] == [OTHERS_REFLECTION]
    assert "Week 1:" not in json.dumps(data) and alice not in json.dumps(data)
    assert "no plan" in answer and "0 nudges" in answer and "1 reflection," in answer
    assert export_uploads(fake_slack, alice) == []


def test_a_failed_upload_is_answered_and_nothing_is_shared(server, fake_slack):
    user = new_user()
    fake_slack.fail("files.getUploadURLExternal", error="invalid_arguments")
    url = fake_slack.response_url()
    reply = server.sender.command("/growth", "export", user_id=user, response_url=url)
    assert reply.status == 200 and "JSON file" in reply.json()["text"]
    answer = answer_to(fake_slack, url)
    assert "could not send your export" in answer["text"]
    assert export_uploads(fake_slack, user) == []


def test_the_dm_the_nudges_use_is_reused_without_opening_it_again(server, fake_slack, dbs, content):
    """A person whose DM the clock already learned (from a nudge's answer) gets the file there: no Tier 3
    conversations.open for it."""
    user = new_user()
    with dbs.begin() as session:
        someone = factories.person(session, user)
        factories.plan(session, content, someone, level="senior", focus=("api",))
        someone.dm_channel_id = "D" + user[1:]  # as the first nudge's chat.postMessage answer stored it

    _, answer, data = exported(server, fake_slack, user)
    assert data["user_id"] == user and data["plan"]["level"] == "senior"
    assert "ladderbot-export-" in answer
    assert [c for c in fake_slack.calls_to("conversations.open") if c.params.get("users") == user] == []


def test_a_stale_known_dm_is_opened_again(server, fake_slack, dbs, content):
    """The DM the clock learned is gone (channel_not_found on the upload): the DM is opened again, once, and
    the file arrives there."""
    user = new_user()
    with dbs.begin() as session:
        someone = factories.person(session, user)
        factories.plan(session, content, someone, level="senior", focus=("api",))
        someone.dm_channel_id = "D" + user[1:]
    fake_slack.fail("files.completeUploadExternal", error="channel_not_found")

    _, answer, data = exported(server, fake_slack, user)
    assert data["user_id"] == user and "ladderbot-export-" in answer
    assert [c.params.get("users") for c in fake_slack.calls_to("conversations.open")].count(user) == 1
