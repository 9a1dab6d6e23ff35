"""/growth, the nudge buttons, the modals, the App Home and the welcome DM, through the real server."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.clock import Clock
from bot.config import Settings
from bot.growth import plans as growth
from bot.ids import ActionId, BlockId, CallbackId
from bot.services import make_web_client
from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Delivery, Person, Plan, Reflection, utcnow
from tests import factories
from tests.server import start_server
from tests.slack_requests import block_action_body, event_body, view_submission_body
from tests.test_export_file import exported
from tests.waiting import response_to, stays, wait_until


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


def to_user(user: str):
    """Selects the calls about `user` (a message to them by id or in their DM, a view published for them): the
    server and fake Slack are shared by the run, and an earlier test's background work may still land."""
    ours = {user, "D" + user[1:]}
    return lambda c: bool(ours & {c.params.get("user_id"), c.params.get("channel"), c.response.get("channel")})


def ack_text(reply) -> str:
    assert reply.status == 200, reply.body
    body = reply.json()
    return body["text"] + json.dumps(body.get("blocks", []))


@pytest.fixture
def dbs(server):
    engine = db.make_engine(server.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def plan_of(sessions, user: str) -> Plan | None:
    with sessions() as session:
        person = repo.get_person(session, "T0001", user)
        return growth.get_plan(session, person) if person else None


def run_clock_at(server, fake_slack, content, at) -> None:
    """One clock pass on the server's database at `at`, as the clock process would run it."""
    engine = db.make_engine(server.database_url)
    try:
        settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="x", slack_api_url=fake_slack.url)
        Clock(db.make_session_factory(engine), make_web_client(settings), content).run_pass(at)
    finally:
        engine.dispose()


def send_due_nudge(server, fake_slack, content, user: str, sessions) -> Delivery:
    """Run one clock pass at the user's due time and return the nudge it delivered."""
    run_clock_at(server, fake_slack, content, plan_of(sessions, user).next_due_at)
    with sessions() as session:
        person = repo.get_person(session, "T0001", user)
        return session.execute(select(Delivery).where(Delivery.person_id == person.id)).scalars().one()


def click(server, action_id: str, delivery: Delivery, user: str):
    """Click a button on the DM that carried `delivery`, as `user`."""
    return server.sender.post(
        block_action_body(
            action_id, str(delivery.id), user_id=user, channel_id=delivery.channel_id, message_ts=delivery.message_ts
        )
    )


def test_subcommands_build_a_plan(server, dbs):
    user = new_user()
    send = server.sender.command
    assert "You have no growth plan yet" in ack_text(send("/growth", "", user_id=user))
    assert "Level set to Mid-level" in ack_text(send("/growth", "level mid", user_id=user))
    assert "Focus updated" in ack_text(send("/growth", "focus security api", user_id=user))
    assert "Tuesdays at 09:30" in ack_text(send("/growth", "schedule tuesday 9:30am", user_id=user))
    assert "Target set to Staff" in ack_text(send("/growth", "target staff", user_id=user))
    plan = plan_of(dbs, user)
    assert (plan.level, plan.target, plan.focus_areas, plan.weekday, plan.local_time) == (
        "mid",
        "staff",
        ["security", "api"],
        1,
        "09:30",
    )
    assert plan.next_due_at > utcnow()
    assert "Paused for 2 weeks" in ack_text(send("/growth", "pause 2", user_id=user))
    assert plan_of(dbs, user).next_due_at > utcnow() + timedelta(days=13)
    assert "Nudges are back on" in ack_text(send("/growth", "resume", user_id=user))
    assert "Stopped" in ack_text(send("/growth", "stop", user_id=user))
    assert plan_of(dbs, user).next_due_at is None
    assert "Nudges are back on" in ack_text(send("/growth", "resume", user_id=user))
    text = ack_text(send("/growth", "", user_id=user))
    assert "Next nudge" in text and "Tuesday" in text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("levle mid", "Did you mean `/growth level`"),
        ("level seniour", "Did you mean `/growth level senior`"),
        ("focus cooking", "is not a growth area"),
        ("schedule someday", "Say a weekday and a time"),
        ("pause 99", "Pause for 1 to 52 weeks"),
        ("target junior", "below your level"),
        ("help", "/growth: your weekly growth nudge"),
    ],
)
def test_bad_input_gets_a_clear_answer(server, text, expected):
    user = new_user()
    server.sender.command("/growth", "level senior", user_id=user)
    assert expected in ack_text(server.sender.command("/growth", text, user_id=user))


def test_setup_modal_opens_and_saves(server, fake_slack, dbs):
    user = new_user()
    assert "Opening your growth plan" in ack_text(server.sender.command("/growth", "setup", user_id=user))
    [opened] = fake_slack.wait_for_calls("views.open", 1)
    view = json.loads(opened.params["view"]) if isinstance(opened.params["view"], str) else opened.params["view"]
    assert view["callback_id"] == CallbackId.GROWTH_SETUP and opened.params["trigger_id"]
    values = {
        BlockId.SETUP_LEVEL: {ActionId.SETUP_LEVEL: {"type": "static_select", "selected_option": {"value": "senior"}}},
        BlockId.SETUP_TARGET: {ActionId.SETUP_TARGET: {"type": "static_select", "selected_option": None}},
        BlockId.SETUP_FOCUS: {
            ActionId.SETUP_FOCUS: {
                "type": "multi_static_select",
                "selected_options": [{"value": "system-design"}, {"value": "data"}],
            }
        },
        BlockId.SETUP_WEEKDAY: {ActionId.SETUP_WEEKDAY: {"type": "static_select", "selected_option": {"value": "3"}}},
        BlockId.SETUP_TIME: {ActionId.SETUP_TIME: {"type": "timepicker", "selected_time": "08:15"}},
    }
    reply = server.sender.post(view_submission_body(CallbackId.GROWTH_SETUP, values, user_id=user))
    assert reply.status == 200 and reply.body in (b"", b"{}")
    plan = plan_of(dbs, user)
    assert (plan.level, plan.target, plan.focus_areas, plan.weekday, plan.local_time) == (
        "senior",
        "staff",
        ["system-design", "data"],
        3,
        "08:15",
    )
    fake_slack.wait_for_calls("views.publish", 1)  # the App Home shows the new plan
    values[BlockId.SETUP_FOCUS][ActionId.SETUP_FOCUS]["selected_options"] = []
    reply = server.sender.post(view_submission_body(CallbackId.GROWTH_SETUP, values, user_id=user))
    assert reply.json() == {"response_action": "errors", "errors": {BlockId.SETUP_FOCUS: "Pick one to three areas."}}
    # a refusal from the plan rules shows under the field it names (InvalidPlan.field), not by its wording
    values[BlockId.SETUP_FOCUS][ActionId.SETUP_FOCUS]["selected_options"] = [{"value": "data"}]
    values[BlockId.SETUP_TARGET][ActionId.SETUP_TARGET]["selected_option"] = {"value": "junior"}
    errors = server.sender.post(view_submission_body(CallbackId.GROWTH_SETUP, values, user_id=user)).json()["errors"]
    assert list(errors) == [BlockId.SETUP_TARGET] and "below your level" in errors[BlockId.SETUP_TARGET]


def test_nudge_buttons_update_the_dm_and_refuse_others(server, fake_slack, dbs, content):
    user, stranger = new_user(), new_user()
    server.sender.command("/growth", "level mid", user_id=user)
    delivery = send_due_nudge(server, fake_slack, content, user, dbs)
    assert delivery.status == "sent"
    ts = delivery.message_ts
    fake_slack.reset()

    def this_message(call) -> bool:  # another test's late update on the shared fake is not this one's
        return call.params.get("ts") == ts

    reply = click(server, ActionId.NUDGE_DONE, delivery, stranger)
    assert reply.status == 200
    with dbs() as session:
        assert session.get(Delivery, delivery.id).answer is None  # not theirs: nothing recorded
    # no event marks "the lazy listener chose to do nothing": only time can show it
    assert stays(lambda: [c for c in fake_slack.calls_to("chat.update") if this_message(c)] == [], 0.3)

    click(server, ActionId.NUDGE_DONE, delivery, user)
    with dbs() as session:
        assert session.get(Delivery, delivery.id).answer == "done"  # written before the ack went back
    [update] = fake_slack.wait_for_calls("chat.update", 1, timeout=20, where=this_message)
    assert update.params["ts"] == ts and "Marked as done" in json.dumps(update.params["blocks"])

    click(server, ActionId.NUDGE_SNOOZE, delivery, user)
    with dbs() as session:
        assert session.get(Delivery, delivery.id).remind_at is not None

    click(server, ActionId.NUDGE_REFLECT, delivery, user)
    [opened] = fake_slack.wait_for_calls("views.open", 1)
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == CallbackId.REFLECTION and view["private_metadata"] == str(delivery.id)

    values = {
        BlockId.REFLECTION_TEXT: {ActionId.REFLECTION_TEXT: {"type": "plain_text_input", "value": "I did it"}},
        BlockId.REFLECTION_SHARED: {ActionId.REFLECTION_SHARED: {"type": "checkboxes", "selected_options": []}},
    }
    refused = server.sender.post(
        view_submission_body(CallbackId.REFLECTION, values, private_metadata=str(delivery.id), user_id=stranger)
    )
    assert refused.json()["response_action"] == "errors"
    reply = server.sender.post(
        view_submission_body(CallbackId.REFLECTION, values, private_metadata=str(delivery.id), user_id=user)
    )
    assert reply.status == 200
    with dbs() as session:
        reflections = session.execute(select(Reflection).where(Reflection.delivery_id == delivery.id)).scalars().all()
        assert [(r.text, r.shared) for r in reflections] == [("I did it", False)]
    # lazy listeners finish in any order: wait for the reflection's update
    assert fake_slack.wait_for_calls(
        "chat.update", 1, where=lambda c: "Reflection saved" in json.dumps(c.params["blocks"])
    )


def test_app_home_shows_the_plan_and_streak(server, fake_slack, dbs, content):
    user = new_user()
    server.sender.post(
        event_body({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home", "event_ts": "1.2"}),
        content_type="application/json",
    )
    # this user's: a lazy App Home refresh from the test before may still arrive
    [call] = fake_slack.wait_for_calls("views.publish", 1, where=lambda c: c.params["user_id"] == user)
    assert "Set up my growth plan" in json.dumps(call.params["view"])
    server.sender.command("/growth", "level senior", user_id=user)
    delivery = send_due_nudge(server, fake_slack, content, user, dbs)
    click(server, ActionId.NUDGE_DONE, delivery, user)
    fake_slack.reset()
    server.sender.post(
        event_body(
            {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home", "event_ts": "1.3"},
            event_id="Ev0002",
        ),
        content_type="application/json",
    )
    [call] = fake_slack.wait_for_calls("views.publish", 1, timeout=20, where=to_user(user))
    view = json.dumps(call.params["view"])
    assert "Senior" in view and "Streak:* 1 week in a row" in view and "Pause for a week" in view


def test_forget_deletes_everything_after_confirmation(server, fake_slack, dbs):
    user = new_user()
    server.sender.command("/growth", "level mid", user_id=user)
    text = ack_text(server.sender.command("/growth", "forget", user_id=user))
    assert "Delete all your ladderbot data?" in text and ActionId.GROWTH_FORGET_CONFIRM in text
    assert plan_of(dbs, user) is not None  # nothing deleted before the confirmation
    # the first use's record and welcome run off the ack; the welcome comes after the record, so once it is
    # posted no late record can bring the person back after the forget
    assert fake_slack.wait_for_calls("chat.postMessage", 1, where=to_user(user))
    url = fake_slack.response_url()
    server.sender.post(block_action_body(ActionId.GROWTH_FORGET_CONFIRM, "confirm", user_id=user, response_url=url))
    with dbs() as session:
        assert session.execute(select(func.count()).select_from(Person).where(Person.user_id == user)).scalar() == 0
    assert "everything ladderbot stored about you is deleted" in response_to(fake_slack, url)["text"]


def test_export_is_my_data_only(server, fake_slack, dbs):
    user, other = new_user(), new_user()
    server.sender.command("/growth", "level staff", user_id=user)
    server.sender.command("/growth", "level junior", user_id=other)
    _, _, data = exported(server, fake_slack, user)
    text = json.dumps(data)
    assert data["user_id"] == user and data["plan"]["level"] == "staff"
    assert other not in text and "junior" not in text


def test_growth_now_sends_a_prompt(server, fake_slack):
    user = new_user()
    mine = to_user(user)  # the run's shared server may still be posting an earlier test's welcomes

    def posts() -> list:
        return [c for c in fake_slack.calls_to("chat.postMessage") if mine(c)]

    server.sender.command("/growth", "level mid", user_id=user)
    assert fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20, where=mine)  # the welcome
    fake_slack.reset()
    assert "Sending you a prompt now" in ack_text(server.sender.command("/growth", "now", user_id=user))
    prompt = fake_slack.wait_for_calls(
        "chat.postMessage", 1, timeout=20, where=lambda c: mine(c) and "growth prompt" in c.params.get("text", "")
    )
    assert len(prompt) == 1
    assert stays(lambda: len(posts()) == 1, 0.3), posts()


def test_first_use_gets_one_welcome_dm(server, fake_slack):
    user = new_user()
    fake_slack.add_user(user, tz="Asia/Kolkata")
    server.sender.command("/ladder", "", user_id=user)
    mine = to_user(user)  # not an earlier test's welcome, still on its way on the run's shared server
    [welcome] = fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20, where=mine)
    assert "Set up my growth plan" in json.dumps(welcome.params["blocks"])
    server.sender.command("/ladder", "senior", user_id=user)
    assert stays(lambda: len([c for c in fake_slack.calls_to("chat.postMessage") if mine(c)]) == 1, 0.5)


def test_user_change_moves_the_plan_to_the_new_zone(server, dbs):
    user = new_user()
    server.sender.command("/growth", "level mid", user_id=user)
    server.sender.post(
        event_body(
            {"type": "user_change", "user": {"id": user, "team_id": "T0001", "tz": "Pacific/Auckland"}}, event_id="Ev9"
        ),
        content_type="application/json",
    )
    plan = wait_until(lambda: (p := plan_of(dbs, user)) and p.tz == "Pacific/Auckland" and p, 5, what="the new zone")
    local = plan.next_due_at.astimezone(ZoneInfo("Pacific/Auckland"))
    assert (local.weekday(), local.hour) == (0, 10)


def test_serve_runs_the_clock_in_process(fake_slack, tmp_path, content):
    url = f"sqlite:///{tmp_path}/clock.sqlite3"
    factories.due_plan_in(url, content, "UCLOCK")
    running = start_server(fake_slack.url, url, command=[sys.executable, "-m", "bot", "serve"])
    try:
        calls = fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20)  # this test's own fake (conftest)
        assert [(c.params["channel"], c.response["channel"]) for c in calls] == [("UCLOCK", "DCLOCK")]
    finally:
        running.stop()


def test_skip_twice_and_an_old_weeks_message(server, fake_slack, dbs, content):
    user = new_user()
    server.sender.command("/growth", "level junior", user_id=user)
    old = send_due_nudge(server, fake_slack, content, user, dbs)
    for _ in range(2):  # clicking twice records one answer and shows the same message
        click(server, ActionId.NUDGE_SKIP, old, user)
    updates = fake_slack.wait_for_calls(
        "chat.update", 2, timeout=20, where=lambda c: c.params.get("ts") == old.message_ts
    )
    assert [json.dumps(u.params["blocks"]) for u in updates][0] == json.dumps(updates[1].params["blocks"])
    assert "Skipped this week" in json.dumps(updates[0].params["blocks"])
    with dbs() as session:
        assert session.get(Delivery, old.id).answer == "skipped"
    # a week later a new nudge arrives; clicking Done on last week's message updates last week's answer
    run_clock_at(server, fake_slack, content, plan_of(dbs, user).next_due_at)
    click(server, ActionId.NUDGE_DONE, old, user)
    with dbs() as session:
        person = repo.get_person(session, "T0001", user)
        answers = [(d.week_key, d.answer) for d in growth.deliveries_of(session, person)]
    assert answers[1][1] == "done" and answers[0][1] is None  # newest first: this week's is still open


def test_home_pause_and_resume_buttons(server, fake_slack, dbs):
    user = new_user()
    server.sender.command("/growth", "level mid", user_id=user)
    server.sender.post(
        block_action_body(ActionId.GROWTH_PAUSE, "1", user_id=user, container_type="view", channel_id="D0")
    )
    assert plan_of(dbs, user).paused_until is not None
    [home] = fake_slack.wait_for_calls("views.publish", 1, timeout=20, where=to_user(user))
    assert "Paused until" in json.dumps(home.params["view"]) and "Resume" in json.dumps(home.params["view"])
    server.sender.post(
        block_action_body(ActionId.GROWTH_RESUME, "home", user_id=user, container_type="view", channel_id="D0")
    )
    assert plan_of(dbs, user).paused_until is None


def test_history_lists_my_nudges_and_answers(server, fake_slack, dbs, content):
    user = new_user()
    server.sender.command("/growth", "level senior", user_id=user)
    assert "No nudges yet" in ack_text(server.sender.command("/growth", "history", user_id=user))
    delivery = send_due_nudge(server, fake_slack, content, user, dbs)
    click(server, ActionId.NUDGE_DONE, delivery, user)
    text = ack_text(server.sender.command("/growth", "history", user_id=user))
    assert delivery.week_key in text and "(done)" in text
    assert content.prompt(delivery.prompt_id).text[:40] in text
