"""The evidence log and the promotion packet through the real server and the fake Slack, on SQLite and
PostgreSQL: /growth evidence add and listing, the message shortcut as Slack sends it, the save modal, the
packet's upload and Share button, export and forget, and every refusal from the side of someone who must
not see a person's evidence."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from sqlalchemy import select

from bot.blocks.growth import build_nudge
from bot.ids import ActionId, BlockId, CallbackId
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import DigestPlan, Evidence
from tests.pdf_text import pdf_text
from tests.slack_requests import event_body, view_submission_body
from tests.test_export_file import exported
from tests.test_growth_server import run_clock_at
from tests.test_team_server import Slack, team  # noqa: F401 - the team fixture: a manager, alice accepted, bob pending
from tests.waiting import response_to, wait_until

SECRET = "Postmortem for the checkout outage: I added tracing and a Grafana alert on pool usage"
INCIDENT_KEY = "dimension:technical_skills:5"  # "Has real experience with monitoring, logging and observability."


@pytest.fixture
def slack(server, fake_slack):
    return Slack(server, fake_slack)


@pytest.fixture
def dbs(server):
    engine = db.make_engine(server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def message_action_body(
    user_id: str,
    message: dict,
    *,
    team_id: str = "T0001",
    channel_id: str = "C0ENG",
    response_url: str = "https://hooks.slack.test/actions/2",
    team_domain: str = "fake",
) -> bytes:
    """A message shortcut's payload, as Slack sends it."""
    payload = {
        "type": "message_action",
        "token": "verification-token-unused",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id, "name": user_id.lower()},
        "channel": {"id": channel_id, "name": "eng"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": CallbackId.SAVE_AS_EVIDENCE,
        "trigger_id": "1337.42.shortcut",
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
        "api_app_id": "A0001",
    }
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


def view_of(call) -> dict:
    view = call.params["view"]
    return view if isinstance(view, dict) else json.loads(view)


def items_of(dbs, user: str, team_id: str = "T0001") -> list[Evidence]:
    with dbs() as session:
        person = repo.get_person(session, team_id, user)
        if person is None:
            return []
        return list(session.execute(select(Evidence).where(Evidence.person_id == person.id)).scalars())


def open_modal(slack, user: str, message: dict, channel_id: str = "C0ENG", team_domain: str = "fake") -> dict:
    before = len(slack.fake.calls_to("views.open"))
    reply = slack.server.sender.post(message_action_body(user, message, channel_id=channel_id, team_domain=team_domain))
    assert reply.status == 200 and reply.body in (b"", b"{}"), reply.body
    calls = slack.fake.wait_for_calls("views.open", before + 1)
    return view_of(calls[before])


def submit(slack, user: str, view: dict, text: str | None, note: str, keys: list[str]):
    values = {
        BlockId.EVIDENCE_TEXT: {ActionId.EVIDENCE_TEXT: {"type": "plain_text_input", "value": text}},
        BlockId.EVIDENCE_NOTE: {ActionId.EVIDENCE_NOTE: {"type": "plain_text_input", "value": note}},
        BlockId.EVIDENCE_EXPECTATIONS: {
            ActionId.EVIDENCE_EXPECTATIONS: {
                "type": "multi_static_select",
                "selected_options": [{"value": k, "text": {"type": "plain_text", "text": k}} for k in keys],
            }
        },
    }
    return slack.server.sender.post(
        view_submission_body(CallbackId.EVIDENCE, values, private_metadata=view["private_metadata"], user_id=user)
    )


def test_a_win_logged_by_command_is_mapped_listed_and_filtered(slack, dbs):
    alice = slack.person("alice")
    slack.plan(alice, "mid", "security")  # target: senior
    saved = slack.ack(alice, f"evidence add {SECRET}")
    assert "Saved to your evidence log" in saved and "monitoring, logging and observability" in saved
    [item] = items_of(dbs, alice)
    assert (item.source, item.level, item.text) == ("command", "senior", SECRET)
    assert INCIDENT_KEY in item.expectation_keys
    listed = slack.ack(alice, "evidence")
    assert "Grafana alert" in listed and "1 item" in listed
    assert "Grafana alert" in slack.ack(alice, "evidence technical")  # the dimension, by an alias
    assert "No evidence for Autonomy and decisions yet" in slack.ack(alice, "evidence autonomy")
    assert "as a dimension or area" in slack.ack(alice, "evidence cooking")
    assert "Write what you did" in slack.ack(alice, "evidence add")


def test_the_message_shortcut_opens_the_modal_and_saves_what_the_person_kept(slack, dbs, fake_slack):
    alice = slack.person("alice")
    author = slack.person("sam")
    slack.plan(alice, "mid", "api")
    message = {
        "type": "message",
        "user": author,
        "ts": "1732360000.123400",
        "text": "Thanks to everyone on the postmortem: the new tracing and the Grafana alert on queue depth "
        "would have caught this outage in minutes.",
    }
    view = open_modal(slack, alice, message)
    [permalink_call] = fake_slack.calls_to("chat.getPermalink")
    assert permalink_call.params["channel"] == "C0ENG" and permalink_call.params["message_ts"] == message["ts"]
    shown = json.dumps(view)
    assert f"<@{author}>" in shown and "https://fake.slack.com/archives/C0ENG/p1732360000123400" in shown
    text_block = next(b for b in view["blocks"] if b.get("block_id") == BlockId.EVIDENCE_TEXT)
    assert text_block["element"]["initial_value"] == message["text"]
    select_block = next(b for b in view["blocks"] if b.get("block_id") == BlockId.EVIDENCE_EXPECTATIONS)
    assert select_block["element"]["initial_options"][0]["value"] == INCIDENT_KEY  # the suggestion, preselected
    assert "Senior" in select_block["label"]["text"]
    # she trims the message and adds a note; only what she kept is stored
    reply = submit(slack, alice, view, "the new tracing and the Grafana alert", "I built both", [INCIDENT_KEY])
    assert reply.status == 200 and reply.body in (b"", b"{}"), reply.body
    [item] = items_of(dbs, alice)
    assert (item.text, item.note, item.author_user_id) == (
        "the new tracing and the Grafana alert",
        "I built both",
        author,
    )
    assert item.permalink.endswith("/p1732360000123400") and item.source == "message"
    assert item.expectation_keys == [INCIDENT_KEY]
    fake_slack.wait_for_calls("views.publish", 1)  # the App Home shows it
    # cleared text keeps only the link; keys that are not expectations of the level are dropped
    view = open_modal(slack, alice, message)
    assert submit(slack, alice, view, None, "", ["area:api", "dimension:nope:9"]).status == 200
    newest = max(items_of(dbs, alice), key=lambda i: i.id)
    assert (newest.text, newest.expectation_keys) == ("", ["area:api"])
    assert message["text"] not in json.dumps([i.text for i in items_of(dbs, alice)])


def test_log_a_win_opens_an_empty_modal_that_needs_words(slack, dbs, fake_slack):
    alice = slack.person("alice")
    slack.click(ActionId.EVIDENCE_LOG_WIN, "home", alice)
    [opened] = fake_slack.wait_for_calls("views.open", 1)
    view = view_of(opened)
    assert "What did you do?" in json.dumps(view) and fake_slack.calls_to("chat.getPermalink") == []
    refused = submit(slack, alice, view, "", "", [])
    assert refused.json()["response_action"] == "errors" and BlockId.EVIDENCE_TEXT in refused.json()["errors"]
    assert items_of(dbs, alice) == []
    assert submit(slack, alice, view, "Mentored our new junior through her first on-call week", "", []).status == 200
    [item] = items_of(dbs, alice)
    assert item.source == "button" and item.expectation_keys == []


def assert_nothing_of_alice(text: str) -> None:
    assert "Grafana" not in text and "Postmortem" not in text, text


def test_nobody_but_the_author_sees_evidence(slack, team, dbs):  # noqa: F811 - the team fixture
    manager, alice, bob = team  # alice accepted the manager; bob has not answered
    slack.ack(alice, f"evidence add {SECRET}")
    eve = slack.person("eve")
    for other in (manager, bob, eve):
        assert_nothing_of_alice(slack.ack(other, "evidence"))
        assert_nothing_of_alice(json.dumps(exported(slack.server, slack.fake, other)[2]))
        assert_nothing_of_alice(slack.ack(other, "team"))
    # the same user id in another workspace is another person
    assert_nothing_of_alice(slack.ack(alice, "evidence", team_id="T0OTHER"))
    assert_nothing_of_alice(json.dumps(exported(slack.server, slack.fake, alice, "T0OTHER")[2]))
    # the manager's summary counts it, never shows it; bob (pending) is not counted at all
    summary = slack.ack(manager, "team")
    assert_nothing_of_alice(summary)
    assert f"<@{alice}>: Mid-level" in summary and "1 evidence item" in summary
    assert "Grafana" in slack.ack(alice, "evidence")


def test_export_holds_the_evidence_and_forget_deletes_it(slack, dbs):
    alice = slack.person("alice")
    slack.ack(alice, f"evidence add {SECRET}")
    _, answer, data = exported(slack.server, slack.fake, alice)
    assert "1 evidence item." in answer and [e["text"] for e in data["evidence"]] == [SECRET]
    [item] = items_of(dbs, alice)
    slack.click(ActionId.GROWTH_FORGET_CONFIRM, "confirm", alice)

    def gone() -> bool:
        with dbs() as session:
            return session.get(Evidence, item.id) is None

    wait_until(gone, what="the evidence deleted")


def files_in(fake_slack, channel: str) -> dict[str, bytes]:
    return {f["name"]: fake_slack.uploads[fid] for fid, f in fake_slack.files.items() if channel in f["channels"]}


def test_the_packet_goes_to_the_dm_and_is_shared_only_with_an_accepted_follower(slack, team, fake_slack):  # noqa: F811
    manager, alice, bob = team
    slack.ack(alice, f"evidence add {SECRET}")
    answer = slack.lazy(alice, "packet")
    assert "in your DM" in answer and "Evidence for 1 of 26 expectations" in answer
    dm = "D" + alice[1:]
    files = wait_until(lambda: files_in(fake_slack, dm) if len(files_in(fake_slack, dm)) == 2 else None)
    markdown = next(v for k, v in files.items() if k.endswith(".md")).decode()
    pdf = next(v for k, v in files.items() if k.endswith(".pdf"))
    assert markdown.startswith("# Promotion packet: toward Senior Backend Engineer")
    assert "Alice Example" in markdown and "Grafana alert" in markdown and "## Coverage and gaps" in markdown
    assert "Try:" in markdown and pdf.startswith(b"%PDF-") and len(pdf) > 5000
    printed = pdf_text(pdf)  # what the PDF shows, read back, so the refusal tests can read others' PDFs too
    assert "Alice Example" in printed and "Grafana alert" in printed and "Evidence for 1 of 26" in printed
    sent = wait_until(lambda: [m for m in fake_slack.messages_to(dm) if "packet_share" in json.dumps(m.get("blocks"))])
    buttons = [e for b in sent[-1]["blocks"] for e in [b.get("accessory") or {}] if e.get("action_id")]
    assert [b["value"] for b in buttons] == [f"{manager}:senior"]  # the accepted follower only, not bob
    # refusals: a follower who has not accepted, and someone else clicking a Share button
    for clicker, value in ((alice, f"{bob}:senior"), (bob, f"{manager}:senior"), (manager, f"{manager}:senior")):
        url = slack.click(ActionId.PACKET_SHARE, value, clicker)
        refusal = response_to(fake_slack, url)
        assert "only with someone who follows your growth" in refusal["text"]
    for person in (bob, manager):
        assert files_in(fake_slack, "D" + person[1:]) == {}
    # alice shares with her manager
    url = slack.click(ActionId.PACKET_SHARE, f"{manager}:senior", alice)
    done = response_to(fake_slack, url)
    assert f"Shared your packet with <@{manager}>" in done["text"]
    shared = files_in(fake_slack, "D" + manager[1:])
    assert len(shared) == 2 and "Grafana alert" in next(v for k, v in shared.items() if k.endswith(".md")).decode()


def test_a_packet_for_a_level_that_does_not_exist_is_refused_in_the_ack(slack):
    alice = slack.person("alice")
    assert "I don't know the level" in slack.ack(alice, "packet wizard")


def test_the_app_home_counts_evidence_per_expectation_and_shows_the_latest(slack, fake_slack):
    alice = slack.person("alice")
    slack.plan(alice, "mid", "security")
    slack.ack(alice, f"evidence add {SECRET}")
    event = {"type": "app_home_opened", "user": alice, "channel": "D" + alice[1:], "tab": "home"}
    assert slack.server.sender.post(event_body(event), content_type="application/json").status == 200
    [published] = fake_slack.wait_for_calls("views.publish", 1, where=lambda c: c.params["user_id"] == alice)
    home = json.dumps(view_of(published), ensure_ascii=False)
    assert "Your evidence toward Senior Backend Engineer" in home and "*Technical skills*: 1 of 6" in home
    assert "1 · Has real experience with monitoring" in home and "Grafana alert" in home
    assert ActionId.EVIDENCE_LOG_WIN in home and "Log a win" in home


def test_the_weekly_nudge_has_a_log_a_win_button(content):
    message = build_nudge(content, content.prompts[0], 7)
    assert ActionId.EVIDENCE_LOG_WIN in json.dumps(message.blocks)


def test_share_from_another_workspace_or_with_a_forged_level_shares_nothing(slack, team, fake_slack):  # noqa: F811
    manager, alice, _ = team
    slack.ack(alice, f"evidence add {SECRET}")
    # the same user id in another workspace is another person, whom the manager does not follow
    url = slack.click(ActionId.PACKET_SHARE, f"{manager}:senior", alice, team_id="T0OTHER")
    refusal = response_to(fake_slack, url)
    assert "only with someone who follows your growth" in refusal["text"]
    url = slack.click(ActionId.PACKET_SHARE, f"{manager}:wizard", alice)
    stale = response_to(fake_slack, url)
    assert "out of date" in stale["text"]
    assert files_in(fake_slack, "D" + manager[1:]) == {}


def test_a_forged_submission_cannot_store_a_link_that_is_not_slacks_or_someone_elses_level(slack, dbs):
    alice = slack.person("alice")
    view = {"private_metadata": json.dumps({"p": "javascript:alert(1)", "l": "wizard", "t": "1.2", "c": "C1"})}
    assert submit(slack, alice, view, "kept words", "", ["area:api"]).status == 200
    [item] = items_of(dbs, alice)
    assert item.permalink is None and item.level == "mid"  # no plan: the first step up the ladder
    assert item.expectation_keys == ["area:api"]
    broken = {"private_metadata": "{not json"}
    assert submit(slack, alice, broken, "more words", "", []).status == 200
    assert len(items_of(dbs, alice)) == 2


def test_one_item_is_shared_only_by_its_author_and_only_with_an_accepted_follower(slack, team, fake_slack, dbs):  # noqa: F811
    manager, alice, bob = team
    slack.ack(alice, f"evidence add {SECRET}")
    [item] = items_of(dbs, alice)
    listed = slack.ack(alice, "evidence")
    assert ActionId.EVIDENCE_SHARE in listed and f'"value": "{item.id}"' in listed
    assert ActionId.EVIDENCE_SHARE not in slack.ack(bob, "evidence add shipped the retry fix")  # no follower
    url = slack.click(ActionId.EVIDENCE_SHARE, str(item.id), alice)
    choices = response_to(fake_slack, url)
    values = [b["accessory"]["value"] for b in choices["blocks"] if "accessory" in b]
    assert values == [f"{item.id}:{manager}"]  # the accepted follower only
    # refused: someone else's item by its id (the manager, bob, another workspace), a pending follower, a mangled id
    refusals = (
        (manager, f"{item.id}:{manager}", "T0001", "not yours"),
        (bob, f"{item.id}:{bob}", "T0001", "not yours"),
        (alice, f"{item.id}:{manager}", "T0OTHER", "no longer exists"),
        (alice, f"{item.id}:{bob}", "T0001", "only with someone who follows your growth"),
        (alice, f"x{item.id}:{manager}", "T0001", "no longer exists"),
    )
    for clicker, value, team_id, expected in refusals:
        url = slack.click(ActionId.EVIDENCE_SHARE_TO, value, clicker, team_id=team_id)
        refusal = response_to(fake_slack, url)
        assert expected in refusal["text"], (clicker, value, refusal)
    url = slack.click(ActionId.EVIDENCE_SHARE, str(item.id), manager)
    refusal = response_to(fake_slack, url)
    assert "not yours" in refusal["text"] and "Grafana" not in json.dumps(refusal)
    for person in (manager, bob):
        assert_nothing_of_alice(json.dumps(fake_slack.messages_to("D" + person[1:])))
    url = slack.click(ActionId.EVIDENCE_SHARE_TO, f"{item.id}:{manager}", alice)
    done = response_to(fake_slack, url)
    assert f"Shared that item with <@{manager}>" in done["text"]
    [shared] = [m for m in fake_slack.messages_to("D" + manager[1:]) if "Grafana" in json.dumps(m)]
    assert f"<@{alice}> shared a piece of growth evidence with you" in shared["text"]


def note_entered_body(user_id: str, view: dict, text: str, note: str, view_id: str) -> bytes:
    """Enter pressed in the note field of an open modal: a block_actions payload carrying the view."""
    values = {
        BlockId.EVIDENCE_TEXT: {ActionId.EVIDENCE_TEXT: {"type": "plain_text_input", "value": text}},
        BlockId.EVIDENCE_NOTE: {ActionId.EVIDENCE_NOTE: {"type": "plain_text_input", "value": note}},
        BlockId.EVIDENCE_EXPECTATIONS: {
            ActionId.EVIDENCE_EXPECTATIONS: {"type": "multi_static_select", "selected_options": []}
        },
    }
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": "1337.42.note",
        "view": {**view, "id": view_id, "hash": "1.abc", "state": {"values": values}},
        "actions": [
            {
                "action_id": ActionId.EVIDENCE_NOTE,
                "block_id": BlockId.EVIDENCE_NOTE,
                "type": "plain_text_input",
                "value": note,
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


def test_enter_in_the_note_suggests_again_from_the_message_and_the_note(slack, dbs, fake_slack):
    alice = slack.person("alice")
    slack.plan(alice, "mid", "api")
    message = {"type": "message", "user": alice, "ts": "1732360001.000100", "text": "Shipped it on Friday."}
    view = open_modal(slack, alice, message)
    before = len(fake_slack.calls_to("views.update"))
    note = "I mentored two junior engineers through it, pairing every day"
    reply = slack.server.sender.post(note_entered_body(alice, view, message["text"], note, "V0NOTE"))
    assert reply.status == 200
    [update] = fake_slack.wait_for_calls("views.update", before + 1)[before:]
    assert update.params["view_id"] == "V0NOTE"
    updated = view_of(update)
    [field] = [b for b in updated["blocks"] if str(b.get("block_id", "")).startswith(BlockId.EVIDENCE_EXPECTATIONS)]
    assert field["block_id"] == f"{BlockId.EVIDENCE_EXPECTATIONS}.1"  # a new id, so Slack shows the new choice
    assert field["element"]["initial_options"][0]["value"] == "dimension:impact:4"
    assert "mentor" in json.dumps(updated) and updated["private_metadata"] == view["private_metadata"]
    # the submission reads the newest field
    values = {
        BlockId.EVIDENCE_TEXT: {ActionId.EVIDENCE_TEXT: {"type": "plain_text_input", "value": message["text"]}},
        BlockId.EVIDENCE_NOTE: {ActionId.EVIDENCE_NOTE: {"type": "plain_text_input", "value": note}},
        field["block_id"]: {
            ActionId.EVIDENCE_EXPECTATIONS: {
                "type": "multi_static_select",
                "selected_options": [{"value": "dimension:impact:4", "text": {"type": "plain_text", "text": "x"}}],
            }
        },
    }
    body = view_submission_body(
        CallbackId.EVIDENCE, values, private_metadata=updated["private_metadata"], user_id=alice
    )
    assert slack.server.sender.post(body).status == 200
    [item] = items_of(dbs, alice)
    assert (item.note, item.expectation_keys) == (note, ["dimension:impact:4"])


def packet_files(slack, user: str) -> tuple[str, str]:
    """Run /growth packet as `user`; (the Markdown, the PDF's text) of the packet in their DM."""
    dm = "D" + user[1:]

    def uploaded() -> list[tuple[str, bytes]]:  # in upload order: a second packet has the same file names
        return [(f["name"], slack.fake.uploads[fid]) for fid, f in slack.fake.files.items() if dm in f["channels"]]

    before = len(uploaded())
    answer = slack.lazy(user, "packet")
    assert "in your DM" in answer, answer
    files = wait_until(lambda: uploaded()[before:] if len(uploaded()) == before + 2 else None)
    markdown = next(v for k, v in files if k.endswith(".md")).decode()
    pdf = next(v for k, v in files if k.endswith(".pdf"))
    return markdown, pdf_text(pdf)


def home_of(slack, user: str) -> str:
    """The App Home published for `user` when they open it."""
    calls = slack.fake.calls_to("views.publish")
    before = len([c for c in calls if c.params["user_id"] == user])
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
    assert slack.server.sender.post(event_body(event), content_type="application/json").status == 200
    published = slack.fake.wait_for_calls("views.publish", before + 1, where=lambda c: c.params["user_id"] == user)
    return json.dumps(view_of(published[-1]), ensure_ascii=False)


def test_nobody_else_gets_alices_evidence_in_their_packet_or_app_home(slack, team):  # noqa: F811
    manager, alice, bob = team
    slack.ack(alice, f"evidence add {SECRET}")
    eve = slack.person("eve")
    slack.ack(eve, "evidence add Reviewed the billing API change with the payments team")
    for other in (manager, bob, eve):
        markdown, printed = packet_files(slack, other)
        assert markdown.startswith("# Promotion packet") and "Evidence for" in printed  # their own packet
        assert_nothing_of_alice(markdown)
        assert_nothing_of_alice(printed)
        assert "Alice Example" not in markdown + printed
    assert "billing API change" in packet_files(slack, eve)[0]  # eve's packet holds eve's own evidence
    for other in (manager, bob, eve):
        home = home_of(slack, other)
        assert_nothing_of_alice(home)
        assert "Your evidence toward" in home  # each sees their own evidence section, not alice's
    # nothing of alice's reached their DMs either, as a message or a file
    for other in (manager, bob, eve):
        assert_nothing_of_alice(json.dumps(slack.fake.messages_to("D" + other[1:])))
    markdown, printed = packet_files(slack, alice)
    assert "Grafana alert" in markdown and "Grafana alert" in printed
    assert "Grafana alert" in home_of(slack, alice)


def test_the_weekly_digest_counts_each_reports_evidence_and_never_shows_it(slack, team, server, content, dbs):  # noqa: F811
    manager, alice, bob = team
    carol = slack.person("carol")  # accepts, logs a win, never makes a plan
    answer = slack.lazy(manager, f"team add <@{carol}>")
    assert f"Asked <@{carol}>" in answer
    slack.answer_invite(carol)
    slack.ack(alice, f"evidence add {SECRET}")
    slack.ack(alice, "evidence add Wrote the design doc for moving sessions to Redis")
    slack.ack(carol, "evidence add Paired with the new hire on her first Grafana dashboard")
    slack.ack(bob, "evidence add Postmortem of the queue outage, with Grafana panels")  # bob is pending
    summary = slack.ack(manager, "team")
    assert f"<@{carol}>: no plan yet · 1 evidence item" in summary and "2 evidence items" in summary
    assert "Grafana" not in summary and "design doc" not in summary and "Postmortem" not in summary
    assert "Your team digest comes" in slack.ack(manager, "team digest on friday 16:30")
    with dbs() as session:
        person = repo.get_person(session, "T0001", manager)
        due = session.execute(select(DigestPlan.next_due_at).where(DigestPlan.person_id == person.id)).scalar_one()
    run_clock_at(server, slack.fake, content, due)
    [digest] = [m for m in slack.fake.messages_to("D" + manager[1:]) if m.get("metadata")]
    body = json.dumps(digest, ensure_ascii=False)
    assert f"<@{alice}>: Mid-level → Senior" in body and "2 evidence items" in body
    assert f"<@{carol}>: no plan yet · 1 evidence item" in body
    assert f"<@{bob}>:" not in body and body.count("evidence item") == 2  # bob has not accepted: not counted
    for secret in ("Grafana", "Postmortem", "design doc", "Redis", "new hire"):
        assert secret not in body, secret
    assert_nothing_of_alice(json.dumps(slack.fake.messages_to("D" + manager[1:]), ensure_ascii=False))


def markdown_under(markdown: str, heading: str) -> str:
    """The Markdown between `### heading` and the next heading."""
    start = markdown.index(f"### {heading}\n")
    rest = markdown[start + len(heading) + 5 :]
    ends = [i for i in (rest.find("\n### "), rest.find("\n## ")) if i >= 0]
    return rest[: min(ends)] if ends else rest


def test_a_packet_toward_another_level_maps_the_evidence_to_that_levels_expectations(slack, team, fake_slack, dbs):  # noqa: F811
    manager, alice, _ = team  # alice: mid, working toward senior
    slack.ack(alice, f"evidence add {SECRET}")
    [item] = items_of(dbs, alice)
    assert item.level == "senior" and item.expectation_keys == [INCIDENT_KEY]
    answer = slack.lazy(alice, "packet staff")
    assert "toward Staff Backend Engineer is in your DM" in answer and "Evidence for 1 of 25 expectations" in answer
    dm = "D" + alice[1:]
    files = wait_until(lambda: files_in(fake_slack, dm) if len(files_in(fake_slack, dm)) == 2 else None)
    assert {k.rsplit("-", 3)[0] for k in files} == {"promotion-packet-staff"}
    markdown = next(v for k, v in files.items() if k.endswith(".md")).decode()
    assert markdown.startswith("# Promotion packet: toward Staff Backend Engineer")
    # saved for senior; at staff the suggestion places it (the ladder's keys differ from level to level)
    assert "Grafana alert" in markdown_under(
        markdown, "Builds infrastructure strategy and platforms that speed up development."
    )
    assert "Has real experience with monitoring" not in markdown  # a senior expectation, not staff's
    printed = pdf_text(next(v for k, v in files.items() if k.endswith(".pdf")))
    assert "toward Staff Backend Engineer" in printed and "Grafana alert" in printed
    # the Share button shares the staff packet, and only with the accepted follower
    sent = wait_until(lambda: [m for m in fake_slack.messages_to(dm) if "packet_share" in json.dumps(m.get("blocks"))])
    buttons = [e for b in sent[-1]["blocks"] for e in [b.get("accessory") or {}] if e.get("action_id")]
    assert [b["value"] for b in buttons] == [f"{manager}:staff"]
    url = slack.click(ActionId.PACKET_SHARE, f"{manager}:staff", alice)
    done = response_to(fake_slack, url)
    assert f"Shared your packet with <@{manager}>" in done["text"]
    shared = files_in(fake_slack, "D" + manager[1:])
    assert (
        next(v for k, v in shared.items() if k.endswith(".md"))
        .decode()
        .startswith("# Promotion packet: toward Staff Backend Engineer")
    )


def test_the_packet_names_message_authors_looking_each_up_once(slack, fake_slack):
    alice = slack.person("alice", real_name="Alice Example")
    sam = slack.person("sam", real_name="Sam Lee")
    ghost = "UGHOST" + alice[-6:]  # left the workspace: users.info answers user_not_found
    slack.plan(alice, "mid", "security")
    for author, ts, text, key in (
        (sam, "1732360000.000100", "Thanks for the postmortem and the Grafana alert on pool usage", INCIDENT_KEY),
        (sam, "1732360001.000100", "Your design doc for the sessions API made the review easy", "area:api"),
        (ghost, "1732360002.000100", "Great mentoring of our new junior this week", "dimension:impact:4"),
    ):
        view = open_modal(slack, alice, {"type": "message", "user": author, "ts": ts, "text": text})
        assert submit(slack, alice, view, text, "", [key]).status == 200
    before = {u: len([c for c in fake_slack.calls_to("users.info") if c.params["user"] == u]) for u in (sam, ghost)}
    markdown, printed = packet_files(slack, alice)
    assert "(message by Sam Lee)" in markdown and f"message by {sam}" not in markdown
    assert f"(message by {ghost})" in markdown  # the lookup failed: the id, and the packet still came
    assert "message by Sam Lee" in printed and "Alice Example" in printed
    looked = {
        u: len([c for c in fake_slack.calls_to("users.info") if c.params["user"] == u]) - before[u] for u in before
    }
    assert looked == {sam: 1, ghost: 1}  # once per author per packet, though sam wrote two of the items


def test_a_failed_getpermalink_still_gives_the_item_slacks_link(slack, dbs, fake_slack):
    alice = slack.person("alice")
    message = {"type": "message", "user": alice, "ts": "1732360000.123400", "text": "Led the incident review"}
    fake_slack.fail("chat.getPermalink", error="internal_error")
    view = open_modal(slack, alice, message, team_domain="acme-eng")
    [call] = fake_slack.calls_to("chat.getPermalink")
    assert call.response["ok"] is False  # Slack refused; the link is built from the shortcut's payload
    link = "https://acme-eng.slack.com/archives/C0ENG/p1732360000123400"
    assert link in json.dumps(view)
    assert submit(slack, alice, view, message["text"], "", []).status == 200
    [item] = items_of(dbs, alice)
    assert item.permalink == link
    assert link in slack.ack(alice, "evidence")
