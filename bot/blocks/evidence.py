"""Pure builders for the evidence log: the save modal, /growth evidence, the App Home section, and the
packet's DM with its Share buttons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.ids import ActionId, BlockId, CallbackId

MAX_OPTION_TEXT = 75
MAX_INPUT = 3000
PRIVATE = "Only you can see your evidence, unless you share a packet with someone who follows your growth."


@dataclass(frozen=True)
class ExpectationOption:
    key: str
    text: str


@dataclass(frozen=True)
class ExpectationGroup:
    name: str
    options: tuple[ExpectationOption, ...]


@dataclass(frozen=True)
class SaveModalView:
    """What the save modal shows: the message (when saved from one), the level's expectations, and the
    suggestion preselected with the words it matched."""

    level_title: str
    groups: tuple[ExpectationGroup, ...]
    suggested: tuple[str, ...]  # expectation keys, best first
    matched_words: tuple[str, ...]
    metadata: dict[str, str]  # carried back on submission: author, channel, ts, permalink, level
    text: str = ""
    author: str = ""  # Slack user id of the message's author
    permalink: str = ""
    revision: int = 0  # bumped when the note changes the suggestion (a new block id, so Slack shows it)


@dataclass(frozen=True)
class EvidenceLine:
    day: str
    text: str
    note: str
    permalink: str
    shows: tuple[str, ...]  # the expectations' texts
    id: int = 0


def expectations_block(revision: int) -> str:
    """The expectations field's block id: a new one per suggestion, because Slack keeps what a field
    shows across views.update unless its block id changes."""
    return BlockId.EVIDENCE_EXPECTATIONS if revision == 0 else f"{BlockId.EVIDENCE_EXPECTATIONS}.{revision}"


def _option(option: ExpectationOption) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": bk.clip(option.text, MAX_OPTION_TEXT)}, "value": option.key}


def build_save_modal(view: SaveModalView) -> dict[str, Any]:
    groups = [
        {
            "label": {"type": "plain_text", "text": bk.clip(g.name, MAX_OPTION_TEXT)},
            "options": [_option(o) for o in g.options],
        }
        for g in view.groups
        if g.options
    ]
    by_key = {o.key: o for g in view.groups for o in g.options}
    select: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": ActionId.EVIDENCE_EXPECTATIONS,
        "option_groups": groups,
        "placeholder": {"type": "plain_text", "text": "Pick what this shows"},
    }
    initial = [_option(by_key[k]) for k in view.suggested if k in by_key]
    if initial:
        select["initial_options"] = initial
    blocks: list[bk.Block] = []
    if view.author or view.permalink:
        source = f"Message from <@{view.author}>" if view.author else "A message"
        if view.permalink:
            source += f" · <{view.permalink}|open in Slack>"
        blocks.append(bk.context(source))
    text_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ActionId.EVIDENCE_TEXT,
        "multiline": True,
        "max_length": MAX_INPUT,
    }
    if view.text:
        text_element["initial_value"] = bk.clip(view.text, MAX_INPUT)
    from_message = bool(view.author or view.permalink)
    blocks.append(
        {
            "type": "input",
            "block_id": BlockId.EVIDENCE_TEXT,
            "optional": from_message,
            "label": {
                "type": "plain_text",
                "text": "The message (trim it, or clear it to keep only the link)"
                if from_message
                else "What did you do?",
            },
            "element": text_element,
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": BlockId.EVIDENCE_NOTE,
            "optional": True,
            "dispatch_action": True,  # Enter in the note updates the suggestion below
            "label": {"type": "plain_text", "text": "Your note: your part in it, and why it mattered"},
            "element": {
                "type": "plain_text_input",
                "action_id": ActionId.EVIDENCE_NOTE,
                "max_length": MAX_INPUT,
                "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
            },
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": expectations_block(view.revision),
            "optional": True,
            "label": {"type": "plain_text", "text": bk.clip(f"What it shows toward {view.level_title}", 2000)},
            "element": select,
        }
    )
    hint = (
        "Preselected because the message and your note mention: " + ", ".join(view.matched_words[:6]) + "."
        if view.matched_words
        else "Pick the expectations this shows."
    )
    blocks.append(bk.context(bk.escape(hint) + " " + PRIVATE))
    return {
        "type": "modal",
        "callback_id": CallbackId.EVIDENCE,
        "private_metadata": json.dumps(view.metadata, separators=(",", ":"))[:3000],
        "title": {"type": "plain_text", "text": "Growth evidence"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _line(item: EvidenceLine) -> str:
    text = bk.escape(bk.clip(" ".join(item.text.split()) or "(link only)", 220))
    line = f"• *{item.day}* {text}"
    if item.note:
        line += f"\n   _{bk.escape(bk.clip(' '.join(item.note.split()), 160))}_"
    if item.permalink:
        line += f" <{item.permalink}|link>"
    if item.shows:
        line += "\n   ↳ " + bk.escape(bk.clip("; ".join(item.shows), 200))
    return line


def _chunks(lines: list[str], limit: int = 2900) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and sum(len(x) + 1 for x in current) + len(line) > limit:
            chunks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


def build_evidence_list(items: list[EvidenceLine], total: int, what: str = "", *, shareable: bool = False) -> Message:
    """`/growth evidence [dimension or area]`: the newest items, with their links and what they show; with
    `shareable` (the person has a follower who accepted), a Share button on each."""
    title = f"Your evidence: {what}" if what else "Your evidence"
    if not items:
        text = (
            f"No evidence for {what} yet." if what else "No evidence yet."
        ) + " Save a message with the “Save as growth evidence” shortcut, or `/growth evidence add <what you did>`."
        return Message(text, (bk.section(bk.escape(text)),))
    blocks: list[bk.Block] = [bk.header(title)]
    budget = 0
    if shareable:
        for item in items:
            line = _line(item)
            if budget + len(line) > 9000:
                break
            budget += len(line)
            blocks.append(bk.section(line, accessory=bk.button("Share", ActionId.EVIDENCE_SHARE, str(item.id))))
    for chunk in [] if shareable else _chunks([_line(i) for i in items]):
        if budget + len(chunk) > 9000:
            break
        budget += len(chunk)
        blocks.append(bk.section(chunk))
    shown = f"{len(items)} of {total}" if total > len(items) else str(total)
    blocks.append(bk.context(f"{shown} item{'s' if total != 1 else ''}, newest first. " + PRIVATE))
    return Message(f"{title} ({total} item{'s' if total != 1 else ''}).", tuple(blocks))


def build_saved(item: EvidenceLine) -> Message:
    shows = "; ".join(item.shows)
    text = "Saved to your evidence log." + (f" It shows: {shows}." if shows else "")
    return Message(
        text,
        (
            bk.section(bk.escape(bk.clip(text, 2900))),
            bk.context(
                "Matched from your words. To pick yourself, use Log a win on the App Home or the shortcut. " + PRIVATE
            ),
        ),
    )


def build_home_section(
    level_title: str, counts: list[tuple[str, list[tuple[str, int]]]], latest: list[EvidenceLine]
) -> list[bk.Block]:
    """The App Home's evidence part: counts per expectation of the target level, the latest items, and
    the Log a win button."""
    blocks: list[bk.Block] = [bk.divider(), bk.section(f"*Your evidence toward {bk.escape(level_title)}*")]
    lines = []
    for name, rows in counts:
        shown = sum(1 for _, n in rows if n)
        lines.append(f"*{bk.escape(name)}*: {shown} of {len(rows)}")
        lines += [f"   {n} · {bk.escape(bk.clip(text, 70))}" for text, n in rows if n]
    blocks.append(bk.section("\n".join(lines)[:2900] or "No expectations at this level."))
    if latest:
        blocks.append(bk.section("*Latest*\n" + "\n".join(_line(i) for i in latest)[:2900]))
    blocks.append(bk.actions(bk.button("Log a win", ActionId.EVIDENCE_LOG_WIN, "home", style="primary")))
    blocks.append(bk.context("`/growth evidence` lists it all · `/growth packet` builds your promotion packet"))
    return blocks


def build_packet_sent(coverage: str, level_title: str, level_id: str, followers: list[str]) -> Message:
    """The DM after the packet's files: the coverage and one Share button per accepted follower."""
    text = f"Your promotion packet toward {level_title}: {coverage}. It is private until you share it."
    blocks: list[bk.Block] = [bk.section(bk.escape(text))]
    for follower in followers[:20]:
        blocks.append(
            bk.section(
                f"Share this packet with <@{follower}>?",
                accessory=bk.button("Share", ActionId.PACKET_SHARE, f"{follower}:{level_id}"),
            )
        )
    if not followers:
        blocks.append(bk.context("Nobody follows your growth yet, so there is nobody to share it with."))
    return Message(text, tuple(blocks))


def build_share_choices(item: EvidenceLine, followers: list[str]) -> Message:
    """After Share on an item: one button per follower who accepted; nobody else can be picked."""
    if not followers:
        text = "Nobody follows your growth yet, so there is nobody to share it with."
        return Message(text, (bk.section(text),))
    blocks: list[bk.Block] = [bk.section("*Share this item?*\n" + _line(item))]
    for follower in followers[:20]:
        blocks.append(
            bk.section(
                f"With <@{follower}>", accessory=bk.button("Share", ActionId.EVIDENCE_SHARE_TO, f"{item.id}:{follower}")
            )
        )
    return Message("Share this item with someone who follows your growth?", tuple(blocks))


def build_shared_item(author: str, item: EvidenceLine) -> Message:
    """The follower's DM: one item its author chose to share."""
    text = f"<@{author}> shared a piece of growth evidence with you."
    return Message(text, (bk.section(text + "\n" + _line(item)),))
