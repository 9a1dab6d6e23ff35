"""Pure builders for the growth features: the nudge DM, its answered states, the App Home, the modals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.content.records import Content, Prompt
from bot.ids import ActionId, BlockId, CallbackId
from bot.schedule import WEEKDAYS

ANSWER_LINES = {
    "done": "✅ Marked as done. Nice work.",
    "skipped": "⏭️ Skipped this week. See you next week.",
    "snoozed": "⏰ I'll remind you about this tomorrow.",
}


@dataclass(frozen=True)
class PlanView:
    """What a person sees of their plan: plain values for the builders."""

    level: str
    target: str
    focus: tuple[str, ...]
    weekday: int
    local_time: str
    tz: str
    state: str  # active, paused, stopped, unreachable
    next_due: str  # described in the person's own zone, or ""
    paused_until: str
    unreachable_reason: str


def _prompt_group(content: Content, prompt: Prompt) -> str:
    if prompt.area:
        return f"{content.area(prompt.area).name} · toward {content.level(prompt.level).name}"
    return f"{content.level(prompt.from_level).name} → {content.level(prompt.to_level).name}"


def build_nudge(
    content: Content,
    prompt: Prompt,
    delivery_id: int,
    *,
    answer: str | None = None,
    reflected: bool = False,
    reminder: bool = False,
) -> Message:
    """The weekly DM; with `answer` set, the same message after the person chose (for chat.update)."""
    title = "Reminder: your growth prompt" if reminder else "Your growth prompt for this week"
    blocks: list[bk.Block] = [
        bk.header(title),
        bk.section(f"*{bk.escape(prompt.text)}*\n_Why it matters:_ {bk.escape(prompt.why)}"),
        bk.context(bk.escape(_prompt_group(content, prompt))),
    ]
    value = str(delivery_id)
    if answer is None:
        blocks.append(
            bk.actions(
                bk.button("Done", ActionId.NUDGE_DONE, value, style="primary"),
                bk.button("Skip this week", ActionId.NUDGE_SKIP, value),
                bk.button("Remind me tomorrow", ActionId.NUDGE_SNOOZE, value),
                bk.button("Write a reflection", ActionId.NUDGE_REFLECT, value),
                bk.button("Log a win", ActionId.EVIDENCE_LOG_WIN, "nudge"),
                block_id=f"nudge-{delivery_id}",
            )
        )
    else:
        line = ANSWER_LINES.get(answer, "")
        if reflected:
            line = (line + " " if line else "") + "📝 Reflection saved (only you can see it)."
        blocks.append(bk.section(line or "Thanks!"))
        if not reflected:
            blocks.append(
                bk.actions(
                    bk.button("Write a reflection", ActionId.NUDGE_REFLECT, value),
                    block_id=f"nudge-{delivery_id}-answered",
                )
            )
    return Message(f"{title}: {prompt.text}", tuple(blocks))


def build_welcome() -> Message:
    blocks = (
        bk.section(
            "*Hi, I'm ladderbot.* Once a week, at a time you choose, I can send you one small, concrete "
            "thing to do toward the level you are working toward. Your answers and reflections stay private."
        ),
        bk.actions(bk.button("Set up my growth plan", ActionId.GROWTH_SETUP_OPEN, "welcome", style="primary")),
        bk.context("Or type `/growth help`. `/ladder` shows the career ladder."),
    )
    return Message("Hi, I'm ladderbot. Set up your growth plan to get a weekly prompt.", blocks)


def plan_lines(content: Content, plan: PlanView) -> str:
    focus = ", ".join(content.area(a).name for a in plan.focus)
    state = {
        "active": f"Next nudge: *{plan.next_due}*",
        "paused": f"Paused until {plan.paused_until}. Next nudge: *{plan.next_due}*",
        "stopped": "Stopped. `/growth resume` starts the weekly nudges again.",
        "unreachable": f"I could not reach you in Slack ({plan.unreachable_reason}). `/growth resume` tries again.",
    }[plan.state]
    return (
        f"*Level:* {bk.escape(content.level(plan.level).name)}  →  *Target:* "
        f"{bk.escape(content.level(plan.target).name)}\n*Focus:* {bk.escape(focus)}\n"
        f"*When:* {WEEKDAYS[plan.weekday].capitalize()}s at {plan.local_time} ({bk.escape(plan.tz)})\n{state}"
    )


def build_plan_message(content: Content, plan: PlanView | None, note: str = "") -> Message:
    if plan is None:
        text = "You have no growth plan yet."
        blocks = [
            bk.section(text + " Set one up and I'll send you one prompt a week."),
            bk.actions(bk.button("Set up my growth plan", ActionId.GROWTH_SETUP_OPEN, "command", style="primary")),
        ]
        return Message(text, tuple(blocks))
    blocks = []
    if note:
        blocks.append(bk.section(bk.escape(note)))
    blocks.append(bk.section("*Your growth plan*\n" + plan_lines(content, plan)))
    blocks.append(bk.context("Change it with `/growth level|target|focus|schedule ...` or `/growth setup`."))
    return Message((note + " " if note else "") + "Your growth plan.", tuple(blocks))


def build_text(text: str) -> Message:
    return Message(text, (bk.section(bk.escape(text)),))


def build_history(content: Content, rows: list[tuple[str, str, str, str]]) -> Message:
    """rows: (week, prompt text, status, answer)."""
    if not rows:
        return build_text("No nudges yet.")
    lines = [
        f"• *{bk.escape(week)}*: {bk.escape(bk.clip(text, 120))} _({bk.escape(status)})_"
        for week, text, status in ((w, t, s if not a else a) for w, t, s, a in rows)
    ]
    sections: list[bk.Block] = [bk.header("Your last nudges")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            sections.append(bk.section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        sections.append(bk.section("\n".join(chunk)))
    return Message(f"Your last {len(rows)} nudges.", tuple(sections[: bk.MAX_BLOCKS]))


EXPORT_COMING = "Gathering all your data: it will arrive in your DM with me as a JSON file."
# How the export's list sections are counted in words; another section is named by its key.
EXPORT_COUNTED = {
    "nudges": ("nudge", "nudges"),
    "reflections": ("reflection", "reflections"),
    "evidence": ("evidence item", "evidence items"),
    "following": ("person you follow or asked", "people you follow or asked"),
    "followers": ("follower", "followers"),
}


def build_export_sent(filename: str, counts: list[tuple[str, int]], has_plan: bool) -> Message:
    """The answer once the export is in the person's DM: the file's name and what it holds, counted."""
    held = ["your plan" if has_plan else "no plan"]
    for key, count in counts:
        one, many = EXPORT_COUNTED.get(key, (key, key))
        held.append(f"{count} {one if count == 1 else many}")
    summary = ", ".join(held)
    text = f"All your ladderbot data is in your DM with me, as {filename}: {summary}."
    blocks = (
        bk.section(f"All your ladderbot data is in your DM with me, as `{bk.escape(filename)}`."),
        bk.context(bk.escape(summary[:1].upper() + summary[1:] + ".")),
    )
    return Message(text, blocks)


def build_forget_confirm() -> Message:
    blocks = (
        bk.section(
            "*Delete all your ladderbot data?* Your plan, every nudge and answer, all your reflections and "
            "your evidence log will be deleted for good. This cannot be undone."
        ),
        bk.actions(
            bk.button("Delete everything", ActionId.GROWTH_FORGET_CONFIRM, "confirm", style="danger"),
            bk.button("Cancel", ActionId.GROWTH_FORGET_CANCEL, "cancel"),
        ),
    )
    return Message("Delete all your ladderbot data?", blocks)


def build_home(
    content: Content,
    plan: PlanView | None,
    streak: int,
    reflections: list[str],
    followers: int = 0,
    following: int = 0,
    more: list[bk.Block] | None = None,
) -> dict[str, Any]:
    """The App Home tab view. `followers`: people who see my summary; `following`: accepted people I follow;
    `more`: other features' blocks (the evidence log), shown under the plan and reflections."""
    blocks: list[bk.Block] = [bk.header("Your growth")]
    if plan is None:
        blocks.append(
            bk.section(
                "You have no growth plan yet. Pick your level, the level you are working toward "
                "and up to three areas to grow in; I'll send one prompt a week."
            )
        )
        blocks.append(
            bk.actions(bk.button("Set up my growth plan", ActionId.GROWTH_SETUP_OPEN, "home", style="primary"))
        )
    else:
        blocks.append(bk.section(plan_lines(content, plan)))
        blocks.append(
            bk.section(
                f"*Streak:* {streak} week{'s' if streak != 1 else ''} in a row 🔥"
                if streak
                else "*Streak:* none yet. Answer this week's prompt to start one."
            )
        )
        buttons = [bk.button("Edit my plan", ActionId.GROWTH_SETUP_OPEN, "home")]
        if plan.state == "active":
            buttons.append(bk.button("Pause for a week", ActionId.GROWTH_PAUSE, "1"))
        else:
            buttons.append(bk.button("Resume", ActionId.GROWTH_RESUME, "home"))
        blocks.append(bk.actions(*buttons))
        blocks.append(bk.divider())
        if reflections:
            lines = "\n".join(f"• {bk.escape(bk.clip(r, 280))}" for r in reflections)
            blocks.append(bk.section(f"*Your last reflections* (only you can see these)\n{lines}"))
        else:
            blocks.append(bk.context("Your reflections will show here. Only you can see them."))
    blocks.extend(more or ())
    sharing = (
        f"{followers} {'person follows' if followers == 1 else 'people follow'} your growth summary "
        "(never your reflections unless you share one) · `/growth managers` to change that"
        if followers
        else "Nobody follows your growth summary."
    )
    team_line = (
        f" · you follow {following} {'person' if following == 1 else 'people'}: `/growth team`" if following else ""
    )
    blocks.append(bk.context(sharing + team_line))
    blocks.append(bk.context("`/ladder` shows the career ladder · `/growth help` lists what I can do"))
    return {"type": "home", "blocks": blocks}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": bk.clip(text, 75)}, "value": value}


def _select(action_id: str, options: list[dict[str, Any]], initial: str | None, placeholder: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "placeholder": {"type": "plain_text", "text": placeholder},
    }
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def build_setup_modal(content: Content, plan: PlanView | None) -> dict[str, Any]:
    levels = [_option(lv.title, lv.id) for lv in content.levels]
    areas = [_option(a.name, a.id) for a in content.growth_areas]
    focus: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": ActionId.SETUP_FOCUS,
        "options": areas,
        "max_selected_items": 3,
        "placeholder": {"type": "plain_text", "text": "Up to three"},
    }
    if plan and plan.focus:
        focus["initial_options"] = [o for o in areas if o["value"] in plan.focus]
    days = [_option(d.capitalize(), str(i)) for i, d in enumerate(WEEKDAYS)]
    time_element: dict[str, Any] = {
        "type": "timepicker",
        "action_id": ActionId.SETUP_TIME,
        "initial_time": plan.local_time if plan else "10:00",
    }

    def field(block_id: str, label: str, element: dict[str, Any], optional: bool = False) -> dict[str, Any]:
        return {
            "type": "input",
            "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "element": element,
            "optional": optional,
        }

    return {
        "type": "modal",
        "callback_id": CallbackId.GROWTH_SETUP,
        "title": {"type": "plain_text", "text": "My growth plan"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            field(
                BlockId.SETUP_LEVEL,
                "My level now",
                _select(ActionId.SETUP_LEVEL, levels, plan.level if plan else None, "Pick a level"),
            ),
            field(
                BlockId.SETUP_TARGET,
                "The level I'm working toward",
                _select(ActionId.SETUP_TARGET, levels, plan.target if plan else None, "Default: the next level"),
                optional=True,
            ),
            field(BlockId.SETUP_FOCUS, "Areas to focus on", focus),
            field(
                BlockId.SETUP_WEEKDAY,
                "Day for my weekly nudge",
                _select(ActionId.SETUP_WEEKDAY, days, str(plan.weekday if plan else 0), "Pick a day"),
            ),
            field(BlockId.SETUP_TIME, "Time (in my Slack time zone)", time_element),
        ],
    }


def build_reflection_modal(prompt_text: str, delivery_id: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.REFLECTION,
        "private_metadata": str(delivery_id),
        "title": {"type": "plain_text", "text": "Reflection"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            bk.section(f"*{bk.escape(bk.clip(prompt_text, 2900))}*"),
            {
                "type": "input",
                "block_id": BlockId.REFLECTION_TEXT,
                "label": {"type": "plain_text", "text": "What did you do or learn?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.REFLECTION_TEXT,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
            {
                "type": "input",
                "block_id": BlockId.REFLECTION_SHARED,
                "optional": True,
                "label": {"type": "plain_text", "text": "Who can see it"},
                "element": {
                    "type": "checkboxes",
                    "action_id": ActionId.REFLECTION_SHARED,
                    "options": [_option("Share with the people who follow my growth", "shared")],
                },
            },
        ],
    }
