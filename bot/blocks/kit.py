"""Block Kit primitives, the Message value, and Slack's limits.

Builders return plain dicts (cheap to build on the hot path). `message_problems` checks a message
against the limits Slack enforces; the tests also round-trip every message through slack_sdk's
Block Kit models, which validate field lengths the same way Slack does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTION_ELEMENTS = 25
MAX_FALLBACK_TEXT = 3000
# Slack answers msg_blocks_too_long at roughly 13,200 characters of block text in total
# (undocumented); we keep our own answers under this budget.
MAX_TOTAL_BLOCK_TEXT = 12000

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A message body: a plain-text fallback and Block Kit blocks."""

    text: str
    blocks: tuple[Block, ...]

    def as_ack(self) -> dict[str, Any]:
        """Arguments for Bolt's ack(): answered ephemerally inside the HTTP response."""
        return {"text": self.text, "blocks": list(self.blocks), "response_type": "ephemeral"}

    def as_payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_TEXT), "emoji": True}}


def section(markdown: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, MAX_SECTION_TEXT)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*markdown: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(m, MAX_SECTION_TEXT)} for m in markdown[:MAX_CONTEXT_ELEMENTS]],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    block: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        block["style"] = style
    return block


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements[:MAX_ACTION_ELEMENTS])}
    if block_id:
        block["block_id"] = block_id
    return block


def bullets(points: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"• {escape(p)}" for p in points)


def total_text(blocks: list[Block] | tuple[Block, ...]) -> int:
    return sum(len(t) for b in blocks if isinstance(b, dict) for t in _texts(b))


def _texts(block: Block) -> list[str]:
    out: list[str] = []
    if isinstance(block.get("text"), dict):
        out.append(block["text"].get("text", ""))
    for element in block.get("elements", []) or []:
        if isinstance(element, dict):
            if "text" in element and isinstance(element["text"], str):
                out.append(element["text"])
            elif isinstance(element.get("text"), dict):
                out.append(element["text"].get("text", ""))
    for field in block.get("fields", []) or []:
        if isinstance(field, dict):
            out.append(field.get("text", ""))
    return out


def blocks_problems(
    blocks: list[Block] | tuple[Block, ...],
    *,
    max_blocks: int = MAX_BLOCKS,
    max_total_text: int | None = MAX_TOTAL_BLOCK_TEXT,
) -> list[str]:
    """Every way these blocks break Slack's limits, as readable strings (empty when fine)."""
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks, over the limit of {max_blocks}")
    total = 0
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"blocks[{i}]: not a block")
            continue
        kind = block["type"]
        for text in _texts(block):
            total += len(text)
        if kind == "header" and len(block.get("text", {}).get("text", "")) > MAX_HEADER_TEXT:
            problems.append(f"blocks[{i}]: header text over {MAX_HEADER_TEXT} characters")
        if kind == "section":
            text = block.get("text", {}).get("text", "")
            if len(text) > MAX_SECTION_TEXT:
                problems.append(f"blocks[{i}]: section text is {len(text)} characters, over {MAX_SECTION_TEXT}")
            if not text.strip() and not block.get("fields"):
                problems.append(f"blocks[{i}]: empty section text")
        if kind == "context" and len(block.get("elements", [])) > MAX_CONTEXT_ELEMENTS:
            problems.append(f"blocks[{i}]: more than {MAX_CONTEXT_ELEMENTS} context elements")
        elements = list(block.get("elements", []) or [])
        if "accessory" in block:
            elements.append(block["accessory"])
        for j, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") == "button":
                if len(element.get("text", {}).get("text", "")) > MAX_BUTTON_TEXT:
                    problems.append(f"blocks[{i}].elements[{j}]: button text over {MAX_BUTTON_TEXT} characters")
                if len(element.get("value", "")) > MAX_BUTTON_VALUE:
                    problems.append(f"blocks[{i}].elements[{j}]: button value over {MAX_BUTTON_VALUE} characters")
    if max_total_text is not None and total > max_total_text:
        problems.append(f"{total} characters of block text, over the budget of {max_total_text}")
    return problems


def message_problems(message: Message) -> list[str]:
    problems = blocks_problems(message.blocks)
    if not message.text.strip():
        problems.append("empty fallback text")
    if len(message.text) > MAX_FALLBACK_TEXT:
        problems.append(f"fallback text over {MAX_FALLBACK_TEXT} characters")
    return problems
