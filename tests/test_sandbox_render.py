"""The sandbox's Block Kit renderer, without a browser: every message and view the bot can produce renders
to well-formed HTML with nothing unsupported, the data attributes the page builds Slack's payloads from
are there, and nothing in a message can become markup on the page."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from bot.blocks import evidence as re_blocks
from bot.blocks import growth as rg
from bot.blocks import interview as interview_blocks
from bot.blocks import kit as bk
from bot.blocks import ladder as ladder_blocks
from bot.blocks import team as rt
from bot.blocks.kit import Message
from bot.cli import answers_for_every_view
from bot.clock.digests import chart_filename
from bot.content.records import Content
from bot.ids import ActionId, BlockId, CallbackId
from bot.ladder.answers import Answers
from bot.sandbox.emoji import SHORTCODES, emojify
from bot.sandbox.mrkdwn import render_mrkdwn
from bot.sandbox.render import STYLESHEET, render_blocks, render_message, render_text, render_view
from bot.team.summary import NudgeRow, PlanFacts, ReportRow, TeamRows, summarise

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
USERS = {"UMGR": "Maria Manager", "UALICE": "Alice", "UBOB": "Bob <b>", "UCARL": "Carl"}
VOID = {"br", "hr", "img", "input"}


class Html(HTMLParser):
    """The rendered HTML parsed: every element with its attributes, the visible text, and a check that
    every tag is closed in order (a stray '<' from a message would open a tag and fail it)."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.texts: list[str] = []
        self.feed(markup)
        self.close()
        assert self.open == [], f"unclosed {self.open}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def all(self, tag: str | None = None, **wanted: str) -> list[dict[str, str | None]]:
        """Elements by tag and attributes; attribute names with '_' for '-' (data_action_id)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in wanted.items()}  # class_ is class
        return [a for t, a in self.elements if tag in (None, t) and all(a.get(k) == v for k, v in want.items())]

    def one(self, tag: str | None = None, **wanted: str) -> dict[str, str | None]:
        found = self.all(tag, **wanted)
        assert len(found) == 1, (tag, wanted, found)
        return found[0]


def rendered(blocks: Any, **kwargs: Any) -> Html:
    markup = render_blocks(list(blocks), users=USERS, **kwargs)
    assert "[unsupported" not in markup
    return Html(markup)


def check_message(message: Message) -> Html:
    """A bot message rendered: no placeholder, one wrapper per block, every header's text shown."""
    page = rendered(message.blocks)
    assert len([a for t, a in page.elements if "bk-block" in (a.get("class") or "").split()]) == len(message.blocks)
    for block in message.blocks:
        if block["type"] == "header":
            assert block["text"]["text"] in page.text
    return page


def check_view(view: Mapping[str, Any], **kwargs: Any) -> Html:
    markup = render_view(view, users=USERS, **kwargs)
    assert "[unsupported" not in markup
    return Html(markup)


def action_ids(page: Html) -> set[str]:
    return {str(a["data-action-id"]) for a in page.all() if a.get("data-action-id")}


def plan_view(state: str = "active") -> rg.PlanView:
    return rg.PlanView(
        "mid", "senior", ("security", "api"), 1, "09:30", "Europe/Berlin", state, "Tue 2 Dec, 09:30", "Mon 1 Dec", "x"
    )


# --- every message and view the bot sends -------------------------------------------------------------


def test_every_ladder_and_interview_answer(content: Content) -> None:
    answers = Answers(content, show_compensation=True)
    views = answers_for_every_view(answers)
    assert len(views) > 150
    for label, message in views:
        page = check_message(message)
        if any(b["type"] == "actions" for b in message.blocks):
            share = page.one("button", data_action_id=ActionId.SHARE)
            assert share["data-value"] and share["data-block-id"], label


def test_ladder_buttons_carry_the_handlers_ids(content: Content) -> None:
    page = check_message(Answers(content).ladder(""))
    opens = page.all("button", data_action_id=ActionId.LADDER_OPEN)
    assert [b["data-value"] for b in opens] == [lv.id for lv in content.levels]  # section accessories
    assert opens[0]["data-block-id"] == "b2" and opens[0]["name"] == f"b2/{ActionId.LADDER_OPEN}"
    level = check_message(Answers(content).ladder("senior"))
    assert level.one("button", data_action_id=ActionId.LADDER_OPEN)["data-value"] == "compare senior staff"
    interview = check_message(Answers(content).interview("staff 3"))
    assert interview.one("button", data_action_id=ActionId.INTERVIEW_MORE)
    assert "Interview questions: Staff" in interview.text


def test_shared_copies_have_no_share_button(content: Content) -> None:
    answers = Answers(content)
    for value in ("ladder:senior", "ladder:compare mid senior", "ladder:levels"):
        shared = answers.shared_by(value, "UALICE")
        assert shared is not None
        page = check_message(shared)
        assert page.all("button", data_action_id=ActionId.SHARE) == [] and "@Alice" in page.text


def test_unknown_answer_shows_what_was_typed_as_text(content: Content) -> None:
    page = check_message(Answers(content).ladder("<@U999> <!channel> <script>"))
    assert "<@u999> <!channel> <script>" in page.text
    assert page.all("script") == [] and page.all(None, class_="bk-mention") == []


@pytest.mark.parametrize("answer", [None, "done", "skipped", "snoozed"])
@pytest.mark.parametrize("reflected", [False, True])
def test_nudge_in_every_state(content: Content, answer: str | None, reflected: bool) -> None:
    page = check_message(rg.build_nudge(content, content.prompts[0], 42, answer=answer, reflected=reflected))
    if answer is None:
        done = page.one("button", data_action_id=ActionId.NUDGE_DONE)
        assert done["data-block-id"] == "nudge-42" and done["data-value"] == "42"
        assert "bk-button-primary" in str(done["class"])
        assert action_ids(page) >= {
            ActionId.NUDGE_DONE,
            ActionId.NUDGE_SKIP,
            ActionId.NUDGE_SNOOZE,
            ActionId.NUDGE_REFLECT,
        }
    else:
        assert rg.ANSWER_LINES[answer] in page.text
        assert ActionId.NUDGE_DONE not in action_ids(page)
        assert (ActionId.NUDGE_REFLECT in action_ids(page)) is not reflected


def test_reminder_welcome_and_forget(content: Content) -> None:
    transition = next(p for p in content.prompts if not p.area)
    assert "Reminder" in check_message(rg.build_nudge(content, transition, 1, reminder=True)).text
    welcome = check_message(rg.build_welcome())
    assert welcome.one("button", data_action_id=ActionId.GROWTH_SETUP_OPEN)["data-value"] == "welcome"
    forget = check_message(rg.build_forget_confirm())
    assert "bk-button-danger" in str(forget.one("button", data_action_id=ActionId.GROWTH_FORGET_CONFIRM)["class"])
    assert forget.one("button", data_action_id=ActionId.GROWTH_FORGET_CANCEL)


@pytest.mark.parametrize("state", ["active", "paused", "stopped", "unreachable"])
def test_plan_message_in_every_state(content: Content, state: str) -> None:
    page = check_message(rg.build_plan_message(content, plan_view(state), note="Focus updated."))
    assert "Focus updated." in page.text and "Tuesdays at 09:30" in page.text
    assert page.all("code")  # `/growth level|target|focus|schedule ...` in the context line


def test_growth_texts_history_and_export(content: Content) -> None:
    assert "Set one up" in check_message(rg.build_plan_message(content, None)).text
    assert "<!channel> hi" in check_message(rg.build_text("<!channel> hi")).text
    rows = [(f"2026-W{i:02}", "x" * 500, "sent", "done" if i % 2 else "") for i in range(20)]
    history = check_message(rg.build_history(content, rows))
    assert "(done)" in history.text and len(history.all("li")) == 20
    assert "No nudges yet" in check_message(rg.build_history(content, [])).text
    sent = check_message(rg.build_export_sent("ladderbot-export-<b>.json", [("nudges", 3)], has_plan=True))
    assert "ladderbot-export-<b>.json" in sent.text and "Your plan, 3 nudges." in sent.text and sent.all("b") == []
    # the file itself, shared in the DM: its name, linked to the sandbox's download
    shared = {"ts": "1.000004", "text": "All your data", "files": [{"id": "F9", "name": "ladderbot-export-x.json"}]}
    link = Html(render_message(shared, files={"F9": "/sandbox/files/F9"})).one("a")
    assert link["href"] == "/sandbox/files/F9"


@pytest.mark.parametrize("state", ["active", "paused", "stopped"])
def test_home_with_a_plan(content: Content, state: str) -> None:
    view = rg.build_home(content, plan_view(state), 3, ["I did it <b>", "r" * 3000], followers=1, following=2)
    page = check_view(view)
    assert page.one("div", class_="bk-view bk-home")["data-view-type"] == "home"
    assert "3 weeks in a row 🔥" in page.text and "I did it <b>" in page.text  # as text, not a tag
    assert (ActionId.GROWTH_PAUSE in action_ids(page)) is (state == "active")
    assert page.all("hr", class_="bk-divider")


def test_home_without_a_plan(content: Content) -> None:
    page = check_view(rg.build_home(content, None, 0, []))
    assert page.one("button", data_action_id=ActionId.GROWTH_SETUP_OPEN)["data-value"] == "home"


def test_setup_modal_new_and_filled(content: Content) -> None:
    markup = render_view(rg.build_setup_modal(content, None))
    page = check_view(rg.build_setup_modal(content, None))
    modal = page.one("div", role="dialog")
    assert modal["data-callback-id"] == CallbackId.GROWTH_SETUP and "My growth plan" in page.text
    assert page.one("button", data_view_action="submit") and "Cancel" in page.text
    level = page.one("select", data_block_id=BlockId.SETUP_LEVEL)
    assert level["data-action-id"] == ActionId.SETUP_LEVEL and level["data-type"] == "static_select"
    assert '<option value="" selected disabled>Pick a level</option>' in markup  # nothing chosen yet
    time = page.one("input", data_block_id=BlockId.SETUP_TIME)
    assert (time["type"], time["value"], time["data-action-id"]) == ("time", "10:00", ActionId.SETUP_TIME)
    assert "(optional)" in page.text  # the target level
    filled = check_view(rg.build_setup_modal(content, plan_view()))
    assert filled.one("input", data_block_id=BlockId.SETUP_TIME)["value"] == "09:30"
    focus = filled.one("select", data_block_id=BlockId.SETUP_FOCUS)
    assert "multiple" in focus and focus["data-type"] == "multi_static_select"
    chosen = [a["value"] for t, a in filled.elements if t == "option" and "selected" in a and a["value"]]
    assert chosen == ["mid", "senior", "security", "api", "1"]  # level, target, focus (two), Tuesday


def test_setup_modal_errors_show_under_their_field(content: Content) -> None:
    errors = {BlockId.SETUP_TIME: "Use a time like 09:30 <b>", BlockId.SETUP_FOCUS: "Pick at most three."}
    markup = render_view(rg.build_setup_modal(content, None), errors=errors)
    Html(markup)
    shown = {}
    for chunk in markup.split('<div class="bk-block ')[1:]:  # one chunk per block, in order
        block_id = re.search(r'data-block-id="([^"]*)"', chunk)
        found = re.search(r'<div class="bk-error" role="alert">(.*?)</div>', chunk)
        if block_id and found:
            assert chunk.index("<select" if "select" in chunk else "<input") < found.start()  # under the control
            shown[block_id.group(1)] = html.unescape(found.group(1))
    assert shown == errors


def test_an_error_for_a_missing_field_still_shows(content: Content) -> None:
    page = Html(render_view(rg.build_setup_modal(content, None), errors={"nope": "Something is wrong"}))
    assert "nope: Something is wrong" in page.text


def test_reflection_modal(content: Content) -> None:
    page = check_view(rg.build_reflection_modal("What did you learn? <&>", 7))
    text = page.one("textarea", data_block_id=BlockId.REFLECTION_TEXT)
    assert text["data-action-id"] == ActionId.REFLECTION_TEXT and text["maxlength"] == "3000"
    box = page.one("input", type="checkbox")
    assert box["name"] == f"{BlockId.REFLECTION_SHARED}/{ActionId.REFLECTION_SHARED}" and box["value"] == "shared"
    assert "checked" not in box and "What did you learn? <&>" in page.text


def test_invitation_in_every_state() -> None:
    for answered in ("", "accepted", "declined", "expired"):
        page = check_message(rt.build_invite("UMGR", 5, answered))
        assert "@Maria Manager would like to follow your growth" in page.text
        assert page.all("span", class_="bk-mention", data_user_id="UMGR")
        if not answered:
            assert page.one("button", data_action_id=ActionId.FOLLOW_ACCEPT)["data-value"] == "5"
            assert page.one("button", data_action_id=ActionId.FOLLOW_DECLINE)
        else:
            assert action_ids(page) == set()


def team_rows() -> TeamRows:
    def nudge(i: int, weeks: int, answer: str | None) -> NudgeRow:
        at = NOW - timedelta(weeks=weeks)
        return NudgeRow(i, f"k{i}", "sent", at - timedelta(hours=1), "data-mid-1", answer, at if answer else None)

    plan = PlanFacts("mid", "senior", ("security",), "active")
    reports = (
        ReportRow(1, "UALICE", plan),
        ReportRow(2, "UBOB", PlanFacts("senior", "staff", ("api",), "paused")),
        ReportRow(3, "UCARL"),
    )
    nudges = {1: (nudge(1, 0, "done"), nudge(2, 1, None)), 2: (nudge(3, 0, "skipped"),)}
    shared = (rt.SharedReflection("UALICE", "I led a <design> review", NOW),)
    return TeamRows("UMGR", reports, ("UDAN",), nudges, (), shared)


def test_team_summary_and_digest(content: Content) -> None:
    summary = summarise(team_rows(), NOW, content)
    for title in ("", "Your weekly team digest"):
        page = check_message(rt.build_team_summary(content, summary, "Europe/Berlin", title=title))
        assert "@Alice" in page.text and "@Bob <b>" in page.text and "@UDAN" in page.text
        assert "I led a <design> review" in page.text and page.all("design") == []
        assert page.all("code")  # the sparkline
    empty = check_message(rt.build_team_summary(content, summarise(TeamRows("UMGR"), NOW, content)))
    assert "You don't follow anyone yet" in empty.text


def test_digest_chart_shows_inline() -> None:
    name = chart_filename(7)
    message = {"ts": "1.000002", "text": "", "files": [{"id": "F0001", "name": name, "title": "Weekly nudges"}]}
    page = Html(render_message(message, files={"F0001": "/sandbox/files/F0001"}))
    image = page.one("img")
    assert image["src"] == "/sandbox/files/F0001" and image["alt"] == "Weekly nudges"
    by_name = Html(render_message(message, files={name: "/f/chart.png"}))
    assert by_name.one("img")["src"] == "/f/chart.png"
    unknown = Html(render_message(message))
    assert unknown.all("img") == [] and "Weekly nudges" in unknown.text


def test_other_files_link_only_to_the_sandbox_or_the_web() -> None:
    files = [{"id": "F1", "name": "packet.md"}, {"id": "F2", "name": "packet.pdf"}, {"id": "F3", "name": "x.pdf"}]
    message = {"ts": "1.000003", "text": "", "files": files}
    served = {"F1": "/sandbox/files/F1", "F2": "https://files.example/F2", "F3": "/sandbox/../etc/passwd"}
    page = Html(render_message(message, files=served))
    links = {a["href"]: a for a in page.all("a")}
    assert set(links) == {"/sandbox/files/F1", "https://files.example/F2"}  # F3's path is not the sandbox's own
    assert all(a["target"] == "_blank" and a["rel"] == "noopener noreferrer" for a in links.values())
    assert "x.pdf" in page.text and page.all("img") == []
    for refused in ("/other/F1", "//evil.example/F1", "/sandbox/files/F1?x=1", "javascript:alert(1)"):
        assert Html(render_message(message, files={"F1": refused})).all("a") == [], refused


def evidence_line(
    item_id: int = 7, text: str = "Led the <b>incident</b> review & wrote the runbook"
) -> re_blocks.EvidenceLine:
    return re_blocks.EvidenceLine(
        "Mon 23 Nov", text, "my part: the timeline", "https://x.slack.com/archives/C1/p1", ("Leads reviews",), item_id
    )


def test_every_evidence_message_and_view() -> None:
    groups = (
        re_blocks.ExpectationGroup("Technical skills", (re_blocks.ExpectationOption("t.1", "Leads reviews"),)),
        re_blocks.ExpectationGroup("Leadership", (re_blocks.ExpectationOption("l.1", "Mentors <others>"),)),
    )
    for revision, author in ((0, "UALICE"), (2, "")):
        modal = re_blocks.SaveModalView(
            "Senior Backend Engineer",
            groups,
            ("t.1",),
            ("review",),
            {"a": author, "l": "senior"},
            text="Led the <b>incident</b> review",
            author=author,
            permalink="https://x.slack.com/archives/C1/p1" if author else "",
            revision=revision,
        )
        page = check_view(re_blocks.build_save_modal(modal))
        assert page.one("textarea")["data-action-id"] == ActionId.EVIDENCE_TEXT and page.all("b") == []
        assert "Led the <b>incident</b> review" in page.text and "Mentors <others>" in page.text
        note = page.one("input", data_action_id=ActionId.EVIDENCE_NOTE)
        assert json.loads(str(note["data-dispatch-action-config"])) == {"trigger_actions_on": ["on_enter_pressed"]}
        assert page.one("div", data_block_id=BlockId.EVIDENCE_NOTE, data_type="input")["data-dispatch-action"] == "true"
        block = re_blocks.expectations_block(revision)
        assert page.one("select", data_block_id=block)["data-action-id"] == ActionId.EVIDENCE_EXPECTATIONS
        assert "selected" in page.one("option", value="t.1") and "selected" not in page.one("option", value="l.1")
        assert ("@Alice" in page.text) == bool(author)

    line = evidence_line()
    listed = check_message(re_blocks.build_evidence_list([line, evidence_line(8)], 5, shareable=True))
    shares = listed.all("button", data_action_id=ActionId.EVIDENCE_SHARE)
    assert [b["data-value"] for b in shares] == ["7", "8"] and "2 of 5 items" in listed.text
    assert (
        listed.all(
            "b",
        )
        and "<b>incident</b>" in listed.text
    )
    assert "No evidence for Leadership yet" in check_message(re_blocks.build_evidence_list([], 0, "Leadership")).text
    assert "Leads reviews" in check_message(re_blocks.build_evidence_list([line], 1, "Technical skills")).text
    assert "Saved to your evidence log" in check_message(re_blocks.build_saved(line)).text
    home = check_message(Message("home", tuple(re_blocks.build_home_section("Senior", [("Tech", [("x", 2)])], [line]))))
    assert home.one("button", data_action_id=ActionId.EVIDENCE_LOG_WIN)["data-value"] == "home"
    sent = check_message(re_blocks.build_packet_sent("4 of 9 expectations", "Senior", "senior", ["UMGR", "UCARL"]))
    assert [b["data-value"] for b in sent.all("button", data_action_id=ActionId.PACKET_SHARE)] == [
        "UMGR:senior",
        "UCARL:senior",
    ]
    assert (
        "nobody to share it with" in check_message(re_blocks.build_packet_sent("0 of 9", "Senior", "senior", [])).text
    )
    choices = check_message(re_blocks.build_share_choices(line, ["UMGR"]))
    assert choices.one("button", data_action_id=ActionId.EVIDENCE_SHARE_TO)["data-value"] == "7:UMGR"
    assert "nobody to share it with" in check_message(re_blocks.build_share_choices(line, [])).text
    shared = check_message(re_blocks.build_shared_item("UALICE", line))
    assert "@Alice shared a piece of growth evidence" in shared.text and shared.one("a")["href"].startswith("https://")


def test_followers_org_and_lines(content: Content) -> None:
    followers = check_message(rt.build_followers([(1, "UMGR", "accepted"), (2, "UCARL", "pending")]))
    leave = followers.all("button", data_action_id=ActionId.FOLLOW_LEAVE)
    assert [b["data-value"] for b in leave] == ["1", "2"] and "@Maria Manager sees" in followers.text
    assert "Nobody follows" in check_message(rt.build_followers([])).text
    org = rt.OrgSummary(12, (("mid", 7), ("other", 5)), (("senior", 12),), (("api", 6),), 30, 40, 2)
    assert "People with a plan: 12" in check_message(rt.build_org(content, org)).text
    few = rt.OrgSummary(2, (), (), (), 0, 0, 0)
    assert "Only 2 people" in check_message(rt.build_org(content, few)).text
    lines = check_message(rt.build_lines("Team", ["• <@UALICE>: one", "• <@UBOB>: two"], note="A note"))
    assert len(lines.all("li")) == 2 and "A note" in lines.text
    digest = rt.describe_digest(True, 0, "09:00", NOW, "UTC")
    assert "Mondays at 09:00" in check_message(rt.build_text(digest)).text


# --- messages ------------------------------------------------------------------------------------------


def test_message_text_only_ephemeral_and_edited() -> None:
    text = "<@UALICE> accepted: they now show on `/growth team`."
    page = Html(render_message({"text": text, "ts": "1.2", "bot_id": "BBOT", "ephemeral": True, "edited": True}))
    assert page.text.startswith("Only visible to you") and "@UALICE accepted" in page.text
    assert page.one("div", class_="bk-message bk-message-ephemeral")["data-bot-id"] == "BBOT"
    assert page.all("span", class_="bk-edited") and page.all("code")
    plain = Html(render_message({"text": "hi", "user": "UALICE", "ts": "1.3"}, users=USERS))
    assert "Only visible" not in plain.text and plain.one("div", data_user="UALICE")["data-ts"] == "1.3"


def test_message_blocks_win_over_text(content: Content) -> None:
    message = rg.build_welcome().as_payload()
    page = Html(render_message(message | {"ts": "1.4"}))
    assert message["text"] not in page.text and page.one("button", data_action_id=ActionId.GROWTH_SETUP_OPEN)


# --- elements and their data attributes ----------------------------------------------------------------


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def test_missing_block_ids_become_the_index() -> None:
    page = rendered(
        [bk.divider(), bk.actions(bk.button("Go", "go", "v")), bk.actions(bk.button("B", "b", "w"), block_id="mine")]
    )
    assert [a["data-block-id"] for a in page.all(None, data_type="divider")] == ["b0"]
    assert page.one("button", data_action_id="go")["data-block-id"] == "b1"
    assert page.one("button", data_action_id="b")["data-block-id"] == "mine"
    unnamed = rendered(
        [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"}}]}]
    )
    assert unnamed.one("button")["data-action-id"] == "a0"


def test_url_button_and_confirm_dialog() -> None:
    confirm = {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "mrkdwn", "text": "Really <b>?"},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "No"},
        "style": "danger",
    }
    url_button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Docs"},
        "action_id": "docs",
        "url": "https://example.com/?a=1&b=2",
    }
    danger = bk.button("Delete", "delete", "all", style="danger") | {"confirm": confirm}
    page = rendered([bk.actions(url_button, danger)])
    link = page.one("a", data_action_id="docs")
    assert link["href"] == link["data-url"] == "https://example.com/?a=1&b=2" and link["target"] == "_blank"
    assert "noopener" in str(link["rel"])
    delete = page.one("button", data_action_id="delete")
    assert json.loads(str(delete["data-confirm"])) == confirm and "bk-button-danger" in str(delete["class"])


def test_selects_show_their_initial_choices() -> None:
    groups = {
        "type": "static_select",
        "action_id": "grouped",
        "option_groups": [
            {"label": {"type": "plain_text", "text": "Team"}, "options": [option("A", "a"), option("B", "b")]}
        ],
        "initial_option": option("B", "b"),
    }
    users = {"type": "users_select", "action_id": "who", "initial_user": "UBOB"}
    many_users = {"type": "multi_users_select", "action_id": "whom", "initial_users": ["UALICE", "UCARL"]}
    overflow = {
        "type": "overflow",
        "action_id": "more",
        "options": [option("Edit", "edit"), option("Web", "web") | {"url": "https://x.org"}],
    }
    page = rendered([bk.actions(groups, users, many_users, overflow)])
    assert page.one("optgroup")["label"] == "Team"
    assert [a["value"] for t, a in page.elements if t == "option" and "selected" in a and a["value"]] == [
        "b",
        "UBOB",
        "UALICE",
        "UCARL",
    ]
    assert "multiple" in page.one("select", data_action_id="whom") and "Bob <b>" in page.text
    assert page.one("option", value="web")["data-url"] == "https://x.org"
    assert page.one("select", data_action_id="more")["data-type"] == "overflow"


def test_inputs_radio_and_date() -> None:
    radio = {
        "type": "radio_buttons",
        "action_id": "pick",
        "options": [option("One", "1"), option("Two", "2")],
        "initial_option": option("Two", "2"),
    }
    short = {
        "type": "plain_text_input",
        "action_id": "name",
        "initial_value": 'Ann "A" <x>',
        "placeholder": {"type": "plain_text", "text": "Name's & :tada:"},
    }
    date = {"type": "datepicker", "action_id": "day", "initial_date": "2026-11-23"}
    when = {"type": "datetimepicker", "action_id": "when", "initial_date_time": 1795435200}
    number = {
        "type": "number_input",
        "action_id": "n",
        "is_decimal_allowed": False,
        "min_value": "1",
        "initial_value": "3",
    }
    blocks = [
        {
            "type": "input",
            "block_id": "r",
            "label": {"type": "plain_text", "text": "Radio"},
            "element": radio,
            "hint": {"type": "plain_text", "text": "Pick one"},
        },
        {"type": "input", "label": {"type": "plain_text", "text": "Name"}, "element": short, "dispatch_action": True},
        {"type": "actions", "block_id": "a", "elements": [date, when, number]},
    ]
    page = rendered(blocks)
    radios = page.all("input", type="radio")
    assert [r["name"] for r in radios] == ["r/pick", "r/pick"] and ["checked" in r for r in radios] == [False, True]
    assert "Pick one" in page.text
    text = page.one("input", data_action_id="name")
    assert (text["type"], text["value"], text["placeholder"], text["name"]) == (
        "text",
        'Ann "A" <x>',
        "Name's & 🎉",
        "b1/name",
    )
    assert page.one("div", data_block_id="b1", data_type="input")["data-dispatch-action"] == "true"
    assert page.one("input", data_action_id="day")["value"] == "2026-11-23"
    assert page.one("input", data_action_id="when")["value"] == "2026-11-23T12:00"
    assert page.one("input", data_action_id="n")["min"] == "1"


def test_section_fields_context_image_and_rich_text() -> None:
    blocks = [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Level*\nMid"},
                {"type": "plain_text", "text": "Two :tada:", "emoji": True},
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://x.org/a.png", "alt_text": "avatar"},
                {"type": "plain_text", "text": "no :tada:", "emoji": False},
            ],
        },
        {
            "type": "image",
            "image_url": "javascript:alert(1)",
            "alt_text": "bad",
            "title": {"type": "plain_text", "text": "Chart"},
        },
        {"type": "image", "slack_file": {"id": "F9"}, "alt_text": "chart"},
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Hi ", "style": {"bold": True}},
                        {"type": "user", "user_id": "UALICE"},
                        {"type": "emoji", "name": "wave", "unicode": "1f44b"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "elements": [
                        {
                            "type": "rich_text_section",
                            "elements": [{"type": "link", "url": "https://x.org", "text": "x"}],
                        }
                    ],
                },
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "<code>"}]},
            ],
        },
    ]
    page = rendered(blocks, files={"F9": "/files/F9"})
    assert len(page.all("div", class_="bk-field")) == 2 and "Two 🎉" in page.text and "no :tada:" in page.text
    assert page.one("img", class_="bk-context-image")["src"] == "https://x.org/a.png"
    assert "[bad]" in page.text and page.one("img", class_="bk-image-block")["src"] == "/files/F9"
    assert "Hi @Alice👋" in page.text and page.one("a")["href"] == "https://x.org" and "<code>" in page.text


def test_unknown_and_malformed_types_show_a_placeholder() -> None:
    blocks = [
        {"type": "video", "title": {"type": "plain_text", "text": "v"}},
        {"type": "actions", "elements": [{"type": "workflow_button"}, "nonsense"]},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "ok"},
            "accessory": {"type": "static_select", "options": 3},
        },
        {"type": "header", "text": "not an object"},
        "not a block",
        {"no": "type"},
    ]
    markup = render_blocks(blocks)
    page = Html(markup)
    for shown in (
        "[unsupported: video]",
        "[unsupported: workflow_button]",
        "[unsupported: not an element]",
        "[unsupported: static_select, malformed]",
        "[unsupported: not a block]",
        "[unsupported: ?]",
    ):
        assert shown in page.text, shown
    assert "ok" in page.text


# --- mrkdwn, one case at a time ------------------------------------------------------------------------

MRKDWN = [
    ("*bold*", "<b>bold</b>"),
    ("_italic_", "<i>italic</i>"),
    ("~strike~", "<s>strike</s>"),
    ("*_both_*", "<b><i>both</i></b>"),
    ("a*b*c snake_case_name 2*3*4", "a*b*c snake_case_name 2*3*4"),
    ("* not bold *", "* not bold *"),
    ("(*in brackets*)", "(<b>in brackets</b>)"),
    ("`*code*` and *bold*", '<code class="bk-code">*code*</code> and <b>bold</b>'),
    ("```line 1\n*not bold* &lt;x&gt;```", '<pre class="bk-pre">line 1\n*not bold* &lt;x&gt;</pre>'),
    ("```unclosed", "```unclosed"),
    ("&gt; quoted\n&gt; *two*\nafter", '<blockquote class="bk-quote">quoted<br><b>two</b></blockquote>after'),
    ("&gt;= 5 years", "&gt;= 5 years"),  # a quote needs "> " at the start of the line
    ("&gt; a\n&gt;\n&gt; b", '<blockquote class="bk-quote">a<br><br>b</blockquote>'),
    ("• one\n• two", '<ul class="bk-list"><li>one</li><li>two</li></ul>'),
    ("1. one\n2. two", '<ol class="bk-list"><li>one</li><li>two</li></ol>'),
    ("3. three", '<ol class="bk-list" start="3"><li>three</li></ol>'),
    ("*Title*\n• a", '<b>Title</b><ul class="bk-list"><li>a</li></ul>'),
    ("line\nnext", "line<br>next"),
    (
        "<https://example.com|Example>",
        '<a class="bk-link" href="https://example.com" target="_blank" rel="noopener noreferrer">Example</a>',
    ),
    (
        "<http://x.org/?a=1&amp;b=2>",
        '<a class="bk-link" href="http://x.org/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">http://x.org/?a=1&amp;b=2</a>',
    ),
    ("<mailto:a@b.org|mail>", 'href="mailto:a@b.org"'),
    ("<@UALICE>", '<span class="bk-mention" data-user-id="UALICE">@Alice</span>'),
    ("<@UNOBODY>", ">@UNOBODY</span>"),
    ("<@UX|xavier>", ">@xavier</span>"),
    ("<#C123|general>", '<span class="bk-channel" data-channel-id="C123">#general</span>'),
    ("<!here> <!channel>", '<span class="bk-broadcast">@here</span> <span class="bk-broadcast">@channel</span>'),
    ("<!subteam^S1|@devs>", ">@devs</span>"),
    ("&lt;b&gt; &amp;lt; R&amp;D", "&lt;b&gt; &amp;lt; R&amp;D"),
    (":white_check_mark: :fire: :no_such_emoji: 10:30", "✅ 🔥 :no_such_emoji: 10:30"),
    ("10:30:tada:", "10:30🎉"),
]


@pytest.mark.parametrize(("text", "html"), MRKDWN)
def test_mrkdwn(text: str, html: str) -> None:
    assert html in render_mrkdwn(text, {"UALICE": "Alice"})


XSS = [
    "<script>alert(1)</script>",
    "<javascript:alert(1)|click me>",
    "<JavaScript:alert(1)>",
    '<https://x.org" onmouseover="alert(1)|x>',
    "<https://x.org|<img src=x onerror=alert(1)>>",
    '"><img src=x onerror=alert(1)>',
    "&lt;img src=x onerror=alert(1)&gt;",
    "```</pre><script>alert(1)</script>```",
    "`<b>`",
    "<data:text/html,<script>alert(1)</script>|x>",
]


@pytest.mark.parametrize("attack", XSS)
def test_mrkdwn_never_makes_markup_from_text(attack: str) -> None:
    page = Html(render_mrkdwn(attack, {"U1": "<img src=x onerror=alert(1)>"}))
    assert {tag for tag, _ in page.elements} <= {"a", "span", "pre", "code", "b", "i", "s", "br"}
    for tag, attrs in page.elements:
        assert not any(name.startswith("on") for name in attrs), attack
        if tag == "a":
            assert str(attrs["href"]).startswith(("https://", "http://", "mailto:")), attack


def test_block_kit_strings_are_escaped_everywhere() -> None:
    evil = '<img src=x onerror=alert(1)>"'
    blocks = [
        bk.header(evil),
        bk.section(bk.escape(evil), accessory=bk.button(evil, evil, evil)),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "x"},
                    "action_id": "u",
                    "url": "javascript:alert(1)",
                }
            ],
        },
        {
            "type": "input",
            "block_id": evil,
            "label": {"type": "plain_text", "text": evil},
            "element": {"type": "static_select", "action_id": evil, "options": [option(evil, evil)]},
        },
    ]
    markup = render_blocks(blocks, users={"U1": evil})
    page = Html(markup)
    assert page.all("img") == [] and page.text.count(evil) == 5  # header, section, button, label, option
    assert page.one("button", data_action_id=evil)["data-value"] == evil
    assert page.one("button", data_action_id="u").get("data-url") is None and page.all("a") == []
    modal = Html(
        render_view({"type": "modal", "title": {"type": "plain_text", "text": evil}, "blocks": []}, errors={"x": evil})
    )
    assert modal.all("img") == [] and evil in modal.text


def test_plain_text_and_emoji() -> None:
    assert render_text({"type": "plain_text", "text": "a < b :tada:\nc"}) == "a &lt; b 🎉<br>c"
    assert render_text({"type": "plain_text", "text": ":tada:", "emoji": False}) == ":tada:"
    assert render_text({"type": "mrkdwn", "text": "*x*"}) == "<b>x</b>"
    assert render_text(None) == ""
    assert emojify(":+1: :-1: :star-struck:") == "👍 👎 🤩"
    for character in ("✅", "⏭️", "⏰", "📝", "🔥", "⏸️", "⏹️", "⚠️"):  # what ladderbot's own messages use
        assert character in SHORTCODES.values()


def test_the_stylesheet_styles_every_class_the_renderer_uses(content: Content) -> None:
    samples = [
        render_blocks(list(Answers(content).ladder("senior").blocks)),
        render_view(rg.build_setup_modal(content, plan_view()), errors={BlockId.SETUP_TIME: "x"}),
        render_view(rg.build_reflection_modal("p", 1)),
        render_message(
            {
                "text": "> q\n• a\n```c``` <@U1> <https://x.org|x> <#C1|c> <!here> <x>",
                "ephemeral": True,
                "edited": True,
                "files": [{"id": "F", "name": "a.png"}, {"id": "G", "name": "a.txt"}],
            },
            files={"F": "/f"},
        ),
    ]
    used = {c for markup in samples for _, a in Html(markup).elements for c in str(a.get("class") or "").split()}
    missing = {c for c in used if f".{c}" not in STYLESHEET}
    assert used and not missing, missing


RENDERED_HERE = {
    ladder_blocks: {
        "build_overview",
        "build_level",
        "build_level_part",
        "build_compare",
        "build_area",
        "build_area_list",
        "build_roadmap",
        "build_responsibilities",
        "build_ladder_help",
        "build_unknown",
    },  # all through answers_for_every_view, build_unknown through test_unknown_answer_...
    interview_blocks: {"build_questions", "build_topics", "build_interview_help"},
    rg: {
        "build_nudge",
        "build_welcome",
        "build_plan_message",
        "build_text",
        "build_history",
        "build_export_sent",
        "build_forget_confirm",
        "build_home",
        "build_setup_modal",
        "build_reflection_modal",
    },
    rt: {"build_invite", "build_text", "build_lines", "build_team_summary", "build_followers", "build_org"},
    re_blocks: {
        "build_save_modal",
        "build_evidence_list",
        "build_saved",
        "build_home_section",
        "build_packet_sent",
        "build_share_choices",
        "build_shared_item",
    },  # through test_every_evidence_message_and_view
}


def test_every_builder_is_rendered_by_a_test_here() -> None:
    """A new builder in these modules fails this until a test above renders what it builds."""
    for module, covered in RENDERED_HERE.items():
        builders = {
            name
            for name, value in vars(module).items()
            if name.startswith("build_") and getattr(value, "__module__", "") == module.__name__
        }
        assert builders <= covered, (module.__name__, builders - covered)


def test_select_placeholders_show_as_typed() -> None:
    asked = {"type": "plain_text", "text": "Who's next? & :tada:"}
    single = {"type": "static_select", "action_id": "one", "options": [option("A", "a")], "placeholder": asked}
    multi = {"type": "multi_static_select", "action_id": "many", "options": [option("A", "a")], "placeholder": asked}
    page = rendered([bk.actions(single, multi)])
    blank = page.one("option", value="")
    assert "selected" in blank and "disabled" in blank and "Who's next? & 🎉" in page.text
    assert page.one("select", data_action_id="many")["data-placeholder"] == "Who's next? & 🎉"
