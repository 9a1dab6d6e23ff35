"""Every growth builder (nudge DM, welcome, plan, history, export, forget, App Home, modals), checked
directly against Slack's limits and slack_sdk's Block Kit models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks import growth as rg
from bot.blocks.kit import Message, blocks_problems, message_problems
from bot.content.records import Content
from bot.ids import ActionId, BlockId, CallbackId

MAX_VIEW_BLOCKS = 100  # modals and the App Home


def plan_view(state: str = "active", **changes: Any) -> rg.PlanView:
    values: dict[str, Any] = {
        "level": "mid",
        "target": "senior",
        "focus": ("security", "api"),
        "weekday": 1,
        "local_time": "09:30",
        "tz": "Europe/Berlin",
        "state": state,
        "next_due": "Tue 2 Dec, 09:30",
        "paused_until": "Mon 1 Dec" if state == "paused" else "",
        "unreachable_reason": "account_inactive" if state == "unreachable" else "",
    }
    return rg.PlanView(**(values | changes))


def check_message(message: Message) -> str:
    assert message_problems(message) == []
    for block in message.blocks:
        Block.parse(block).validate_json()
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def check_view(view: dict[str, Any]) -> str:
    assert blocks_problems(view["blocks"], max_blocks=MAX_VIEW_BLOCKS, max_total_text=None) == []
    for block in view["blocks"]:
        if block["type"] != "input":  # slack_sdk validates input blocks' elements too strictly for dict options
            Block.parse(block).validate_json()
    return json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize("answer", [None, "done", "skipped", "snoozed"])
@pytest.mark.parametrize("reflected", [False, True])
def test_nudge_in_every_state(content: Content, answer: str | None, reflected: bool) -> None:
    prompt = content.prompts[0]
    text = check_message(rg.build_nudge(content, prompt, 42, answer=answer, reflected=reflected))
    assert prompt.text[:40] in text
    if answer is None:
        assert ActionId.NUDGE_DONE in text and "nudge-42" in text
    else:
        assert ActionId.NUDGE_DONE not in text
        assert (ActionId.NUDGE_REFLECT in text) is not reflected
        assert rg.ANSWER_LINES[answer] in text


def test_reminder_and_transition_prompts(content: Content) -> None:
    transition = next(p for p in content.prompts if not p.area)
    assert "Reminder" in check_message(rg.build_nudge(content, transition, 1, reminder=True))


def test_welcome_and_forget_confirm() -> None:
    assert ActionId.GROWTH_SETUP_OPEN in check_message(rg.build_welcome())
    text = check_message(rg.build_forget_confirm())
    assert ActionId.GROWTH_FORGET_CONFIRM in text and ActionId.GROWTH_FORGET_CANCEL in text


@pytest.mark.parametrize("state", ["active", "paused", "stopped", "unreachable"])
def test_plan_message_in_every_state(content: Content, state: str) -> None:
    text = check_message(rg.build_plan_message(content, plan_view(state), note="Focus updated."))
    assert "Focus updated." in text and "Tuesdays at 09:30" in text


def test_no_plan_offers_setup(content: Content) -> None:
    assert ActionId.GROWTH_SETUP_OPEN in check_message(rg.build_plan_message(content, None))


def test_text_is_escaped() -> None:
    assert "&lt;!channel&gt;" in check_message(rg.build_text("<!channel> hi"))


def test_history_empty_and_long(content: Content) -> None:
    assert "No nudges yet" in check_message(rg.build_history(content, []))
    rows = [(f"2026-W{i:02}", "x" * 500, "sent", "done" if i % 2 else "") for i in range(20)]  # /growth history: 20
    text = check_message(rg.build_history(content, rows))
    assert "(done)" in text and "(sent)" in text


def test_export_sent_counts_what_the_file_holds() -> None:
    counts = [("nudges", 100), ("reflections", 1), ("evidence", 0), ("followers", 2), ("team_extra", 3)]
    text = check_message(rg.build_export_sent("ladderbot-export-2026-11-30.json", counts, has_plan=True))
    assert "`ladderbot-export-2026-11-30.json`" in text and "Your plan, 100 nudges, 1 reflection," in text
    assert "0 evidence items, 2 followers, 3 team_extra." in text
    assert "No plan" in check_message(rg.build_export_sent("x.json", [], has_plan=False))


@pytest.mark.parametrize("state", ["active", "paused", "stopped"])
def test_home_with_a_plan(content: Content, state: str) -> None:
    view = rg.build_home(content, plan_view(state), 3, ["I did it <b>", "r" * 3000], followers=1, following=2)
    text = check_view(view)
    assert view["type"] == "home" and "3 weeks in a row" in text and "&lt;b&gt;" in text
    assert (ActionId.GROWTH_PAUSE in text) is (state == "active")
    assert "1 person follows" in text and "you follow 2 people" in text


def test_home_without_a_plan(content: Content) -> None:
    text = check_view(rg.build_home(content, None, 0, []))
    assert ActionId.GROWTH_SETUP_OPEN in text and "Nobody follows" in text


@pytest.mark.parametrize("plan", [None, plan_view()])
def test_setup_modal(content: Content, plan: rg.PlanView | None) -> None:
    view = rg.build_setup_modal(content, plan)
    check_view(view)
    assert view["callback_id"] == CallbackId.GROWTH_SETUP
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert set(blocks) == {
        BlockId.SETUP_LEVEL,
        BlockId.SETUP_TARGET,
        BlockId.SETUP_FOCUS,
        BlockId.SETUP_WEEKDAY,
        BlockId.SETUP_TIME,
    }
    if plan is not None:
        assert blocks[BlockId.SETUP_LEVEL]["element"]["initial_option"]["value"] == "mid"
        assert [o["value"] for o in blocks[BlockId.SETUP_FOCUS]["element"]["initial_options"]] == ["security", "api"]
        assert blocks[BlockId.SETUP_TIME]["element"]["initial_time"] == "09:30"


def test_reflection_modal_clips_a_long_prompt() -> None:
    view = rg.build_reflection_modal("p" * 5000, 7)
    check_view(view)
    assert view["private_metadata"] == "7" and view["callback_id"] == CallbackId.REFLECTION
