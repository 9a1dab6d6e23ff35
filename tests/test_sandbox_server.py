"""The sandbox without a browser: the requests it sends the bot are Slack's shapes and signatures, its page
API drives the real bot (commands, clicks, modal submissions, the Home tab, time jumps), the demo year is
there, and the page loads nothing from outside."""

from __future__ import annotations

import html
import http.client
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from bot.clock import PassReport
from bot.config import Settings
from bot.content.records import Content
from bot.sandbox import payloads
from bot.sandbox.api import escape_mentions
from bot.sandbox.demo import EVIDENCE
from bot.sandbox.server import DatabaseRefused, RunningSandbox, SandboxOptions, check_database, sqlite_file, start
from bot.sandbox.timecontrol import SandboxTime, describe
from bot.sandbox.workspace import GENERAL, MANAGER, PEOPLE, REPORTS, dm_channel
from bot.storage import engine as db
from bot.storage.models import Delivery, Evidence, Follow, Plan, Reflection
from tests.cli_run import run_cli
from tests.pg import free_port
from tests.server import ROOT
from tests.waiting import wait_until

Json = dict[str, Any]

LEVEL_SELECT = {
    "type": "static_select",
    "action_id": "level",
    "options": [
        {"text": {"type": "plain_text", "text": "Mid"}, "value": "mid"},
        {"text": {"type": "plain_text", "text": "Senior"}, "value": "senior"},
    ],
}


# --- shapes and signatures, without a server ---------------------------------------------------------------


def form_payload(body: bytes) -> Json:
    data: Json = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    return data


def test_requests_are_signed_as_slack_signs_them():
    body = payloads.slash_command(
        command="/ladder",
        text="senior",
        user_id="U0LENA",
        user_name="lena",
        channel_id="D0LENA",
        channel_name="directmessage",
        response_url="http://x/response/1",
        trigger_id="1.2.t",
    )
    request = payloads.signed("s3cret", body, "application/x-www-form-urlencoded")
    verifier = SignatureVerifier("s3cret")
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verifier.is_valid_request(request.body, headers)
    assert not SignatureVerifier("other").is_valid_request(request.body, headers)
    fields = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    assert {k: fields[k] for k in ("command", "text", "user_id", "channel_id", "response_url", "trigger_id")} == {
        "command": "/ladder",
        "text": "senior",
        "user_id": "U0LENA",
        "channel_id": "D0LENA",
        "response_url": "http://x/response/1",
        "trigger_id": "1.2.t",
    }


def test_block_actions_from_a_message_carry_container_response_url_and_state():
    blocks = [
        {"type": "actions", "block_id": "pick", "elements": [LEVEL_SELECT]},
        {"type": "actions", "elements": [{"type": "button", "action_id": "go", "value": "7", "style": "primary"}]},
    ]
    button = payloads.find_element(blocks, "b1", "go")
    assert button is not None
    body = payloads.action(
        element=payloads.action_of(button, []),
        block_id="b1",
        user_id="U0SAM",
        user_name="sam",
        trigger_id="9.9.t",
        container={"type": "message", "message_ts": "1.000001", "channel_id": "C0GENERAL", "is_ephemeral": False},
        state_values=payloads.state_values(blocks, {("pick", "level"): ["senior"]}),
        channel={"id": "C0GENERAL", "name": "general"},
        message={"ts": "1.000001", "blocks": blocks},
        response_url="http://x/response/2",
    )
    payload = form_payload(body)
    assert payload["type"] == "block_actions" and payload["trigger_id"] == "9.9.t"
    assert payload["response_url"] == "http://x/response/2"
    assert payload["container"]["message_ts"] == "1.000001" and payload["message"]["ts"] == "1.000001"
    assert payload["user"]["id"] == "U0SAM" and payload["team"]["id"] == payload["user"]["team_id"]
    [clicked] = payload["actions"]
    assert {k: clicked[k] for k in ("action_id", "block_id", "type", "value", "style")} == {
        "action_id": "go",
        "block_id": "b1",
        "type": "button",
        "value": "7",
        "style": "primary",
    }
    assert clicked["action_ts"]
    chosen = payload["state"]["values"]["pick"]["level"]
    assert chosen == {"type": "static_select", "selected_option": LEVEL_SELECT["options"][1]}


def test_state_values_take_each_elements_own_shape():
    elements: list[Json] = [
        {"type": "plain_text_input", "action_id": "text"},
        LEVEL_SELECT,
        {**LEVEL_SELECT, "type": "multi_static_select", "action_id": "many"},
        {**LEVEL_SELECT, "type": "checkboxes", "action_id": "boxes"},
        {**LEVEL_SELECT, "type": "radio_buttons", "action_id": "radio", "initial_option": LEVEL_SELECT["options"][0]},
        {"type": "timepicker", "action_id": "time", "initial_time": "10:00"},
    ]
    blocks = [{"type": "input", "block_id": f"in{i}", "element": e} for i, e in enumerate(elements)]
    chosen = {("in0", "text"): ["hello"], ("in2", "many"): ["mid", "senior", "nonsense"], ("in3", "boxes"): []}
    values = payloads.state_values(blocks, chosen)
    assert values["in0"]["text"] == {"type": "plain_text_input", "value": "hello"}
    assert values["in1"]["level"] == {"type": "static_select", "selected_option": None}
    assert [o["value"] for o in values["in2"]["many"]["selected_options"]] == ["mid", "senior"]
    assert values["in3"]["boxes"] == {"type": "checkboxes", "selected_options": []}
    assert values["in4"]["radio"]["selected_option"]["value"] == "mid"  # untouched: its initial option
    assert values["in5"]["time"] == {"type": "timepicker", "selected_time": "10:00"}


def test_view_submission_and_view_closed_send_the_view_with_its_state():
    view = {"id": "V1", "type": "modal", "callback_id": "cb", "private_metadata": "42", "blocks": []}
    values = {"b": {"a": {"type": "plain_text_input", "value": "x"}}}
    submitted = form_payload(payloads.view_submission(view, values, user_id="U1", user_name="u", trigger_id="t"))
    assert submitted["type"] == "view_submission" and submitted["trigger_id"] == "t"
    assert submitted["view"]["id"] == "V1" and submitted["view"]["callback_id"] == "cb"
    assert submitted["view"]["private_metadata"] == "42" and submitted["view"]["state"]["values"] == values
    assert submitted["response_urls"] == []
    closed = form_payload(payloads.view_closed(view, values, user_id="U1", user_name="u"))
    assert closed["type"] == "view_closed" and closed["is_cleared"] is False and closed["view"]["id"] == "V1"
    envelope = json.loads(payloads.event(payloads.app_home_opened("U1", "D1", None), event_id="Ev1"))
    assert envelope["type"] == "event_callback" and envelope["event"]["tab"] == "home"


def test_command_text_is_escaped_as_slack_escapes_it():
    assert escape_mentions("team add @lucia and @nobody, mail@x.org") == (
        "team add <@U0LUCIA|lucia> and @nobody, mail@x.org"
    )


# --- the running sandbox -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    folder = tmp_path_factory.mktemp("sandbox")
    running = start(Settings(), content, SandboxOptions(port=0, database=folder / "sandbox.sqlite3", tick=False))
    yield running
    running.stop()


class Page:
    """Calls the sandbox's page API as the page's script does."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            connection.close()

    def get(self, path: str) -> Json:
        status, _, data = self.request("GET", path)
        assert status == 200, data
        answer: Json = json.loads(data)
        return answer

    def post(self, route: str, expect: int = 200, **body: Any) -> Json:
        data = json.dumps(body).encode()
        status, _, raw = self.request("POST", f"/sandbox/api/{route}", data, {"Content-Type": "application/json"})
        assert status == expect, raw
        answer: Json = json.loads(raw)
        return answer

    def state(self, user: str, conv: str = "dm") -> Json:
        return self.get(f"/sandbox/api/state?user={user}&conv={conv}&wait=0")


@pytest.fixture(scope="module")
def page(sandbox: RunningSandbox) -> Page:
    return Page(sandbox.url)


def test_the_demo_year_is_there(sandbox: RunningSandbox):
    summary = sandbox.demo
    assert summary is not None
    engine = db.make_engine(f"sqlite:///{sandbox.database}")
    try:
        with engine.connect() as connection:
            plans = connection.execute(select(func.count()).select_from(Plan)).scalar_one()
            answered = connection.execute(select(func.count()).where(Delivery.answer == "done")).scalar_one()
            skipped = connection.execute(select(func.count()).where(Delivery.answer == "skipped")).scalar_one()
            shared = connection.execute(select(func.count()).where(Reflection.shared.is_(True))).scalar_one()
            private = connection.execute(select(func.count()).where(Reflection.shared.is_(False))).scalar_one()
            accepted = connection.execute(select(func.count()).where(Follow.status == "accepted")).scalar_one()
            evidence = connection.execute(select(func.count()).select_from(Evidence)).scalar_one()
    finally:
        engine.dispose()
    assert plans == summary.plans == len([p for p in PEOPLE if p.level])
    assert summary.deliveries >= 50 * plans  # about a year of weeks each
    assert answered > skipped > 0 and shared > 0 and private > 0
    assert accepted == summary.accepted_follows == 4
    assert evidence == summary.evidence >= plans  # a few wins each, so /growth team counts them at first sight
    # the pending invitation went out for real, as a DM the report can answer
    invited = wait_until(lambda: sandbox.fake.messages_to(dm_channel(REPORTS[4].user_id)), what="the invitation DM")
    assert any("follow_accept" in json.dumps(m["blocks"]) for m in invited)


def test_the_team_shows_evidence_counts_at_first_sight(page: Page):
    page.post("command", user=MANAGER.user_id, conv="dm", text="/growth team")
    shown = page.state(MANAGER.user_id)["html"]
    counted = dict(re.findall(r'data-user-id="(U\w+)">@\w+</span>: [^<]*? (\d+) evidence items?</li>', shown))
    assert set(counted) == {r.user_id for r in REPORTS[:4]} and all(int(n) >= 1 for n in counted.values()), shown
    page.post("command", user="U0LENA", conv="dm", text="/growth evidence")
    listed = page.state("U0LENA")["html"]
    assert sum(text[:40] in html.unescape(listed) for text in EVIDENCE) == int(counted["U0LENA"])


def test_the_sandbox_database_is_its_own_file(sandbox: RunningSandbox):
    assert sandbox.database.exists() and sandbox.database.name == "sandbox.sqlite3"
    assert "ladderbot.sqlite3" not in str(sandbox.database)


def test_the_page_loads_nothing_from_outside(page: Page):
    status, kind, html = page.request("GET", "/")
    assert status == 200 and kind.startswith("text/html")
    text = html.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert references and all(not r.startswith(("http:", "https:", "//")) for r in references)
    for reference in references:
        if reference.startswith("/"):
            assert page.request("GET", reference)[0] == 200, reference
    assert page.request("GET", "/static/../server.py")[0] == 404


def test_the_bot_checks_signatures_on_the_same_port(page: Page):
    status, _, _ = page.request(
        "POST", "/slack/events", b"command=/ladder", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 401  # Bolt's verdict on an unsigned request: the page's requests pass because they are signed
    assert json.loads(page.request("GET", "/healthz")[2])["status"] == "ok"


def test_a_command_answers_ephemeral_and_share_posts_in_general(page: Page, sandbox: RunningSandbox):
    answer = page.post("command", user="U0SAM", conv="general", text="/ladder senior")
    assert answer["ok"] and answer["status"] == 200
    [ephemeral] = [e for e in sandbox.fake.state.ephemerals.values() if e.user == "U0SAM" and e.channel == GENERAL]
    shown = page.state("U0SAM", "general")
    assert 'data-ephemeral="true"' in shown["html"] and "Only visible to you" in shown["html"]
    assert "Senior" in page.state("U0SAM", "general")["html"]
    assert "Only visible to you" not in page.state("U0KEMI", "general")["html"]  # nobody else sees it

    share = next(
        (block["block_id"] if "block_id" in block else f"b{i}", element)
        for i, block in enumerate(ephemeral.message["blocks"])
        for element in block.get("elements", [])
        if isinstance(element, dict) and element.get("action_id") == "share_in_channel"
    )
    page.post(
        "action",
        user="U0SAM",
        source="message",
        channel=GENERAL,
        ts=ephemeral.message["ts"],
        block_id=share[0],
        action_id="share_in_channel",
        values=[],
        inputs=[],
    )
    shared = wait_until(lambda: sandbox.fake.messages_to(GENERAL), what="the shared answer in #general")
    assert "Senior" in json.dumps(shared[-1]["blocks"])
    assert "Senior" in page.state("U0KEMI", "general")["html"]  # now everyone sees it


def test_setup_modal_errors_then_saves(page: Page, sandbox: RunningSandbox):
    page.post("command", user="U0ADA", conv="dm", text="/growth setup")
    modal = wait_until(lambda: page.state("U0ADA")["modal"], what="the setup modal")
    assert modal["title"] and 'data-block-id="setup_level"' in modal["html"]
    refused = page.post("submit", user="U0ADA", view_id=modal["view_id"], inputs=[])
    assert refused["ok"] is False and "setup_level" in refused["errors"]
    shown = page.state("U0ADA")["modal"]
    assert shown["view_id"] == modal["view_id"] and "bk-error" in shown["html"]

    inputs = [
        {"block_id": "setup_level", "action_id": "setup_level", "values": ["mid"]},
        {"block_id": "setup_focus", "action_id": "setup_focus", "values": ["security", "api"]},
    ]
    saved = page.post("submit", user="U0ADA", view_id=modal["view_id"], inputs=inputs)
    assert saved == {"ok": True, "errors": {}, "ms": saved["ms"]}
    assert page.state("U0ADA")["modal"] is None
    wait_until(lambda: sandbox.fake.state.homes.get("U0ADA"), what="the Home tab republished after the save")


def test_closing_a_modal_and_a_stale_view(page: Page):
    page.post("command", user="U0KEMI", conv="dm", text="/growth setup")
    modal = wait_until(lambda: page.state("U0KEMI")["modal"], what="the setup modal")
    assert page.post("close", user="U0KEMI", view_id=modal["view_id"]) == {"ok": True}
    assert page.state("U0KEMI")["modal"] is None
    stale = page.post("submit", expect=400, user="U0KEMI", view_id=modal["view_id"], inputs=[])
    assert stale["error"] == "that modal is closed"


def test_opening_home_sends_app_home_opened(page: Page, sandbox: RunningSandbox):
    assert page.post("home", user="U0ROHAN")["ok"]
    wait_until(lambda: sandbox.fake.state.homes.get("U0ROHAN"), what="views.publish for Rohan")
    assert "bk-home" in page.state("U0ROHAN", "home")["html"]


def test_next_nudge_runs_the_clock_at_the_persons_due_time(page: Page, sandbox: RunningSandbox):
    lena = dm_channel("U0LENA")
    before = sandbox.fake.messages_to(lena)  # none, unless another test moved time on
    jumped = page.post("time", user="U0LENA", jump="next_nudge")
    assert jumped["ok"] and jumped["after"] > jumped["before"] and jumped["report"].startswith("sent ")
    [nudge] = sandbox.fake.messages_to(lena)[len(before) :]
    assert "nudge_done" in json.dumps(nudge["blocks"])
    assert datetime.fromisoformat(page.state("U0LENA")["now"]) >= datetime.fromisoformat(jumped["after"])
    assert page.post("time", expect=400, user="U0LENA", jump="yesterday")["error"].startswith("jump must be")


def click(page: Page, user: str, channel: str, message: Json, action_id: str) -> None:
    """Click the button `action_id` of a stored message, as the page does."""
    block_id = next(
        str(block.get("block_id") or f"b{index}")
        for index, block in enumerate(message["blocks"])
        for element in block.get("elements", [])
        if isinstance(element, dict) and element.get("action_id") == action_id
    )
    page.post(
        "action",
        user=user,
        source="message",
        channel=channel,
        ts=message["ts"],
        block_id=block_id,
        action_id=action_id,
        values=[],
        inputs=[],
    )


def test_remind_me_tomorrow_then_next_nudge_brings_the_reminder(page: Page, sandbox: RunningSandbox):
    rohan = dm_channel("U0ROHAN")
    page.post("time", user="U0ROHAN", jump="next_nudge")
    nudge = next(m for m in reversed(sandbox.fake.messages_to(rohan)) if "nudge_snooze" in json.dumps(m["blocks"]))
    click(page, "U0ROHAN", rohan, nudge, "nudge_snooze")
    wait_until(lambda: "nudge_snooze" not in json.dumps(sandbox.fake.state.messages[(rohan, nudge["ts"])]["blocks"]))
    before = len(sandbox.fake.messages_to(rohan))
    jumped = page.post("time", user="U0ROHAN", jump="next_nudge")
    assert "1 reminder" in jumped["report"]
    assert datetime.fromisoformat(jumped["after"]) - datetime.fromisoformat(jumped["before"]) <= timedelta(days=1)
    assert len(sandbox.fake.messages_to(rohan)) == before + 1


def test_a_jump_says_what_the_pass_sent():
    assert describe(PassReport(sent=1, digests_sent=1)) == "sent 1 nudge, 1 digest"
    busy = PassReport(sent=2, reminders=3, failed=1)
    assert describe(busy) == "sent 2 nudges, 3 reminders; 1 failed or to be retried"
    assert describe(PassReport()) == "nothing was due"


def test_a_week_later_the_manager_gets_the_digest_with_its_chart(page: Page, sandbox: RunningSandbox):
    page.post("time", user=MANAGER.user_id, jump="week")
    files = wait_until(
        lambda: [f for m in sandbox.fake.messages_to(dm_channel(MANAGER.user_id)) for f in m.get("files", [])],
        what="the digest's chart in the manager's DM",
    )
    status, kind, data = page.request("GET", f"/sandbox/files/{files[-1]['id']}")
    assert status == 200 and kind == "image/png" and data.startswith(b"\x89PNG")
    assert f"/sandbox/files/{files[-1]['id']}" in page.state(MANAGER.user_id)["html"]


def test_the_api_log_lists_every_call(page: Page, sandbox: RunningSandbox):
    log = page.get("/sandbox/api/log?after=0")
    assert log["size"] == len(sandbox.fake.calls) >= 1
    methods = {c["method"] for c in log["calls"]}
    assert {"chat.postMessage", "users.info"} <= methods
    later = page.get(f"/sandbox/api/log?after={log['size']}")
    assert later["calls"] == [] or later["calls"][0]["index"] == log["size"]


def test_bad_asks_get_clear_answers(page: Page):
    assert page.post("command", expect=400, user="U0NOBODY", text="/ladder")["error"].startswith("pick a person")
    assert "not a command" in page.post("command", expect=400, user="U0SAM", conv="dm", text="/deploy prod")["error"]
    assert page.post("command", expect=400, user="U0SAM", conv="home", text="/ladder")["error"]
    gone = page.post("action", expect=400, user="U0SAM", source="message", channel="D0SAM", ts="1.1", block_id="b0")
    assert gone["error"] == "that message is gone"
    status, _, _ = page.request("POST", "/sandbox/api/command", b"{not json", {"Content-Type": "application/json"})
    assert status == 400
    rebound = page.request("GET", "/sandbox/api/workspace", headers={"Host": "evil.example:3000"})
    assert rebound[0] == 421  # a site whose name resolves to this machine (DNS rebinding) is not served
    form = json.dumps({"user": "U0SAM", "conv": "dm", "text": "/ladder"}).encode()
    assert page.request("POST", "/sandbox/api/command", form, {"Content-Type": "text/plain"})[0] == 415
    assert page.request("GET", "/sandbox/api/state?user=U0SAM&conv=nowhere")[0] == 400
    assert page.request("GET", "/sandbox/files/F404")[0] == 404


def test_ladderbot_sandbox_prints_its_url_and_stops_on_ctrl_c(tmp_path: Path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", "HOME": str(tmp_path)}
    command = [
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        "--empty",
        "--database",
        str(tmp_path / "s"),
    ]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert f"open http://127.0.0.1:{port}/" in line
            assert Page(f"http://127.0.0.1:{port}/").request("GET", "/")[0] == 200
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(20) == 0


def test_a_busy_port_is_refused_before_anything_starts(monkeypatch, capsys, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = run_cli(monkeypatch, capsys, "sandbox", "--port", str(port), "--database", str(tmp_path / "s.sqlite3"))
    assert ran.code == 2 and f"cannot listen on 127.0.0.1:{port}" in ran.stderr
    assert not (tmp_path / "s.sqlite3").exists()  # nothing was started or written


def test_elements_are_found_as_the_page_names_them_and_report_as_slack_does():
    overflow = {"type": "overflow", "options": LEVEL_SELECT["options"]}
    date = {"type": "datepicker", "action_id": "day"}
    blocks: list[Json] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": overflow},
        {"type": "actions", "block_id": "row", "elements": [date, {"type": "users_select", "action_id": "who"}]},
        {"type": "input", "block_id": "many", "element": {"type": "multi_users_select", "action_id": "people"}},
    ]
    assert payloads.find_element(blocks, "b0", "a0") is overflow  # no block_id, no action_id: named by place
    assert payloads.find_element(blocks, "row", "day") is date
    assert payloads.find_element(blocks, "row", "a0") is None and payloads.find_element(blocks, "nope", "day") is None
    assert payloads.action_of(overflow, ["senior"])["selected_option"]["value"] == "senior"
    assert payloads.action_of(date, ["2026-11-30"]) == {
        "action_id": "day",
        "type": "datepicker",
        "selected_date": "2026-11-30",
    }
    values = payloads.state_values(blocks, {("row", "who"): ["U0LENA"], ("many", "people"): ["U0SAM", "U0KEMI"]})
    assert values["row"] == {
        "day": {"type": "datepicker", "selected_date": None},
        "who": {"type": "users_select", "selected_user": "U0LENA"},
    }
    assert values["many"]["people"] == {"type": "multi_users_select", "selected_users": ["U0SAM", "U0KEMI"]}
    assert "b0" not in values  # an overflow holds no state


class RecordingClock:
    """Stands in for the bot's clock where only the moments of the passes matter."""

    def __init__(self) -> None:
        self.passes: list[datetime] = []

    def run_pass(self, now: datetime | None = None, *, dry_run: bool = False) -> PassReport:
        assert now is not None
        self.passes.append(now)
        return PassReport()


def test_time_targets_and_the_minute_tick(sandbox: RunningSandbox):
    clock = RecordingClock()
    time_control = SandboxTime(sandbox.time.session_factory, clock, sandbox.time.team_id)
    time_control.offset = sandbox.time.offset  # where the tests above left the sandbox: every plan is due within a week
    now = time_control.now()
    week = time_control.target("week", "U0LENA", "Europe/Berlin")
    assert timedelta(days=6, hours=23) < week - now <= timedelta(days=7, seconds=5)
    monday = time_control.target("next_monday", "U0HIRO", "Asia/Tokyo").astimezone(ZoneInfo("Asia/Tokyo"))
    assert monday.weekday() == 0 and (monday.hour, monday.minute) == (10, 0) and monday > now
    # someone with no plan: the first thing due for anyone
    assert time_control.next_due("U0NOPLAN", now) is not None
    with pytest.raises(ValueError):
        time_control.target("yesterday", "U0LENA", "UTC")

    jumped = time_control.jump("week", "U0LENA", "Europe/Berlin")
    # a pass at each moment something fell due on the way, in order, then one at the target
    assert clock.passes[-1] == jumped.after and clock.passes == sorted(clock.passes) and len(clock.passes) > 1
    assert all(jumped.before <= moment <= jumped.after for moment in clock.passes)
    assert jumped.report == "nothing was due"
    assert time_control.now() >= jumped.after  # the sandbox's time stays ahead of the wall clock

    jumped_passes = len(clock.passes)
    time_control.start_ticking(every=0.01)
    try:
        wait_until(lambda: len(clock.passes) >= jumped_passes + 2, what="passes from the minute tick")
    finally:
        time_control.stop()
    ticks = clock.passes[jumped_passes:]
    assert ticks and all(moment >= jumped.after for moment in ticks)


def test_the_promotion_packet_files_are_linked_and_served_with_their_types(page: Page, sandbox: RunningSandbox):
    lucia = "U0LUCIA"
    page.post("command", user=lucia, conv="dm", text="/growth evidence add Led the incident review for the outage")
    assert "Saved to your evidence log" in page.state(lucia)["html"]
    page.post("command", user=lucia, conv="dm", text="/growth packet")
    shared = wait_until(
        lambda: [f for m in sandbox.fake.messages_to(dm_channel(lucia)) for f in m.get("files", [])],
        what="the packet's files in Lucía's DM",
    )
    by_suffix = {Path(f["name"]).suffix: f for f in shared}
    assert set(by_suffix) == {".md", ".pdf"}
    html = page.state(lucia)["html"]
    for suffix, kind, disposition in (
        (".md", "text/markdown; charset=utf-8", "attachment"),
        (".pdf", "application/pdf", "inline"),
    ):
        file = by_suffix[suffix]
        url = f"/sandbox/files/{file['id']}"
        assert re.search(rf'<a class="bk-link" href="{re.escape(url)}"[^>]*>{re.escape(file["name"])}</a>', html)
        connection = http.client.HTTPConnection(page.host, page.port, timeout=30)
        try:
            connection.request("GET", url)
            response = connection.getresponse()
            data = response.read()
            assert response.status == 200 and response.getheader("Content-Type") == kind
            assert response.getheader("Content-Disposition", "").startswith(f'{disposition}; filename="{file["name"]}"')
            assert response.getheader("X-Content-Type-Options") == "nosniff"
        finally:
            connection.close()
        if suffix == ".md":
            assert data.decode().startswith("# Promotion packet") and "incident review" in data.decode()
        else:
            assert data.startswith(b"%PDF-")


def test_uploaded_files_are_served_as_inert_types():
    from bot.sandbox.server import content_disposition, file_type

    assert file_type("chart.png", b"") == ("image/png", True)
    assert file_type("F123", b"\x89PNG\r\n\x1a\nrest") == ("image/png", True)  # no name: a PNG by its bytes
    assert file_type("page.html", b"<script>") == ("application/octet-stream", False)
    assert file_type("x.svg", b"<svg onload=x>") == ("application/octet-stream", False)
    assert content_disposition('Lucía "G".pdf', True) == (
        "inline; filename=\"Luc_a _G_.pdf\"; filename*=UTF-8''Luc%C3%ADa%20%22G%22.pdf"
    )


def test_a_message_shortcut_payload_is_slacks_message_action():
    message = {"type": "message", "user": "U0LENA", "ts": "1700000000.000007", "text": "Led the review"}
    body = payloads.message_action(
        callback_id="save_as_evidence",
        user_id="U0MAYA",
        user_name="maya",
        channel={"id": GENERAL, "name": "general"},
        message=message,
        trigger_id="5.5.t",
        response_url="http://x/response/5",
    )
    payload = form_payload(body)
    assert payload["type"] == "message_action" and payload["callback_id"] == "save_as_evidence"
    assert payload["trigger_id"] == "5.5.t" and payload["response_url"] == "http://x/response/5"
    assert payload["team"] == {"id": "T0SANDBOX", "domain": "sandbox"}
    assert payload["channel"] == {"id": GENERAL, "name": "general"}
    assert payload["user"] == {"id": "U0MAYA", "name": "maya"}
    assert payload["message"] == message and payload["message_ts"] == message["ts"]
    assert payload["action_ts"] and payload["token"]


def test_the_message_shortcut_opens_the_evidence_modal_and_enter_in_the_note_updates_it(
    page: Page, sandbox: RunningSandbox
):
    workspace = page.get("/sandbox/api/workspace")
    assert workspace["shortcuts"] == [
        {
            "name": "Save as growth evidence",
            "callback_id": "save_as_evidence",
            "description": "Keep this message in your private evidence log, mapped to your target level",
        }
    ]
    said = page.post("say", user="U0KEMI", conv="general", text="Kemi cut the iOS crash rate in half this sprint")
    shown = page.state("U0KEMI", "general")["html"]
    assert f'data-ts="{said["ts"]}"' in shown and "<strong>Kemi Adeyemi</strong>" in shown and "data-more" in shown
    heard = len(sandbox.fake.calls)
    # a message in Kemi's DM with the bot: Maya cannot see it, so cannot save it
    kemis = page.post("say", user="U0KEMI", conv="dm", text="a note to myself")["ts"]
    heard = len(sandbox.fake.calls)
    refused = page.post(
        "shortcut", expect=400, user="U0MAYA", channel=dm_channel("U0KEMI"), ts=kemis, callback_id="save_as_evidence"
    )
    assert refused["error"] == "that message is gone" and len(sandbox.fake.calls) == heard
    assert page.post("shortcut", user="U0MAYA", channel=GENERAL, ts=said["ts"], callback_id="save_as_evidence")["ok"]
    modal = wait_until(lambda: page.state("U0MAYA")["modal"], what="the save modal")
    assert modal["title"] and "Kemi cut the iOS crash rate in half this sprint" in modal["html"]
    assert "@kemi" in modal["html"]  # "Message from <@U0KEMI>": the author the payload carried
    permalink = next(c for c in sandbox.fake.calls[heard:] if c.method == "chat.getPermalink")
    assert permalink.params["message_ts"] == said["ts"] and permalink.params["channel"] == GENERAL
    view = sandbox.fake.state.view_stacks["U0MAYA"][-1]
    assert view["callback_id"] == "evidence" and 'data-dispatch-action="true"' in modal["html"]

    # Enter in the note: block_actions for the plain_text_input, and the bot's views.update redraws the modal
    updates = len(sandbox.fake.calls_to("views.update"))
    note = "I reviewed the crash reports with her and we wrote the runbook together"
    answer = page.post(
        "action",
        user="U0MAYA",
        source="modal",
        view_id=modal["view_id"],
        block_id="evidence_note",
        action_id="evidence_note",
        values=[note],
        inputs=[{"block_id": "evidence_note", "action_id": "evidence_note", "values": [note]}],
    )
    assert answer["ok"]
    wait_until(lambda: len(sandbox.fake.calls_to("views.update")) > updates, what="views.update after Enter")
    updated = page.state("U0MAYA")["modal"]
    assert updated["view_id"] == modal["view_id"] and 'data-block-id="evidence_expectations.1"' in updated["html"]

    refused = page.post(
        "shortcut", expect=400, user="U0MAYA", channel=GENERAL, ts=said["ts"], callback_id="deploy_to_prod"
    )
    assert refused["error"] == "the app has no such message shortcut"
    assert page.post("say", expect=400, user="U0MAYA", conv="home", text="hi")["error"]


def test_block_actions_for_enter_in_a_plain_text_input():
    element = {
        "type": "plain_text_input",
        "action_id": "evidence_note",
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    blocks = [{"type": "input", "block_id": "evidence_note", "dispatch_action": True, "element": element}]
    body = payloads.action(
        element=payloads.action_of(element, ["my note"]),
        block_id="evidence_note",
        user_id="U0MAYA",
        user_name="maya",
        trigger_id="7.7.t",
        container={"type": "view", "view_id": "V1"},
        state_values=payloads.state_values(blocks, {("evidence_note", "evidence_note"): ["my note"]}),
        view=payloads.view_payload({"id": "V1", "blocks": blocks}, {}, user_id="U0MAYA"),
    )
    payload = form_payload(body)
    [typed] = payload["actions"]
    assert {k: typed[k] for k in ("type", "action_id", "block_id", "value")} == {
        "type": "plain_text_input",
        "action_id": "evidence_note",
        "block_id": "evidence_note",
        "value": "my note",
    }
    assert payload["state"]["values"]["evidence_note"]["evidence_note"]["value"] == "my note"


def test_messages_show_the_sandbox_time_they_were_posted_at(page: Page, sandbox: RunningSandbox):
    def posted_at(ts: str) -> datetime:
        shown = page.state("U0SAM", "general")["html"]
        found = re.search(rf'data-ts="{re.escape(ts)}".*?<time datetime="([^"]+)">([^<]*)</time>', shown, re.S)
        assert found, shown
        return datetime.fromisoformat(found.group(1))

    before = page.post("say", user="U0SAM", conv="general", text="before the jump")["ts"]
    first = posted_at(before)
    assert abs(first - sandbox.time.now()) < timedelta(seconds=5)
    page.post("time", user="U0SAM", jump="week")
    after = page.post("say", user="U0SAM", conv="general", text="a week later")["ts"]
    assert posted_at(before) == first  # a message keeps the time it was posted at
    later = posted_at(after)
    assert abs(later - sandbox.time.now()) < timedelta(seconds=5) and later - first >= timedelta(days=7)
    label = re.search(
        rf'data-ts="{re.escape(before)}".*?<time[^>]*>([^<]*)</time>', page.state("U0SAM", "general")["html"], re.S
    )
    assert label and re.fullmatch(r"\w{3} \d\d \w{3}, \d\d:\d\d", label.group(1))  # not today: with its day


def test_the_sandbox_never_replaces_a_database_that_is_not_its_own(content: Content, tmp_path: Path):
    real = tmp_path / "ladderbot.sqlite3"
    db.migrate(f"sqlite:///{real}")
    settings = Settings(database_url=f"sqlite:///{real}")
    before = real.read_bytes()
    for path in (real, tmp_path / "." / "ladderbot.sqlite3"):  # DATABASE_URL's own file, however it is named
        with pytest.raises(DatabaseRefused, match="the bot's own database"):
            start(settings, content, SandboxOptions(port=0, database=path, tick=False, demo=False))
    other = tmp_path / "other.sqlite3"
    db.migrate(f"sqlite:///{other}")  # some other bot database
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    for path in (other, notes, tmp_path):
        with pytest.raises(DatabaseRefused, match="not a sandbox database"):
            check_database(path, settings.database_url)
    assert real.read_bytes() == before and notes.read_text() == "my notes" and other.exists()

    # its own file (made by a start, marked) is replaced at the next start; a new or empty file is taken
    own = tmp_path / "sandbox.sqlite3"
    for _ in range(2):
        running = start(settings, content, SandboxOptions(port=0, database=own, tick=False, demo=False))
        running.stop()
    check_database(own, settings.database_url)
    legacy = tmp_path / "legacy.sqlite3"  # made by a sandbox before the mark: only the sandbox's workspace in it
    db.migrate(f"sqlite:///{legacy}")
    with sqlite3.connect(legacy) as connection:
        connection.execute("INSERT INTO workspaces (team_id, created_at) VALUES ('T0SANDBOX', '2026-01-01')")
    connection.close()
    check_database(legacy, settings.database_url)
    (tmp_path / "empty.sqlite3").touch()
    check_database(tmp_path / "empty.sqlite3", settings.database_url)
    check_database(tmp_path / "new.sqlite3", settings.database_url)
    assert sqlite_file("sqlite:////abs/x.db") == Path("/abs/x.db") and sqlite_file("postgresql+psycopg://h/d") is None


def test_ladderbot_sandbox_refuses_the_bots_own_database(monkeypatch, capsys, tmp_path: Path):
    real = tmp_path / "ladderbot.sqlite3"
    real.write_bytes(b"the bot's real data")
    env = {"DATABASE_URL": f"sqlite:///{real}"}
    ran = run_cli(monkeypatch, capsys, "sandbox", "--port", "0", "--database", str(real), env=env)
    assert ran.code == 2 and "is the bot's own database (DATABASE_URL)" in ran.stderr
    notes = tmp_path / "notes.db"
    notes.write_text("not a sandbox")
    ran = run_cli(monkeypatch, capsys, "sandbox", "--port", "0", "--database", str(notes), env=env)
    assert ran.code == 2 and "is not a sandbox database" in ran.stderr
    assert real.read_bytes() == b"the bot's real data" and notes.read_text() == "not a sandbox"
