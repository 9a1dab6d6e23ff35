"""Rendering a Message as readable terminal text, for `ladderbot preview`."""

from __future__ import annotations

import re
import textwrap

from bot.blocks.kit import Message

_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")


def _plain(markdown: str) -> str:
    text = _BOLD.sub(r"\1", markdown)
    text = _ITALIC.sub(r"\1", text)
    text = _MENTION.sub(r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _wrap(text: str, width: int, indent: str = "") -> str:
    lines = []
    for line in text.split("\n"):
        bullet = line.startswith("• ")
        lines.append(
            textwrap.fill(
                line,
                width,
                initial_indent=indent,
                subsequent_indent=indent + ("  " if bullet else ""),
                break_on_hyphens=False,
            )
            or indent.rstrip()
        )
    return "\n".join(lines)


def message_to_text(message: Message, width: int = 100) -> str:
    out: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            out.append(f"\n{title}\n{'=' * min(len(title), width)}")
        elif kind == "section":
            out.append(_wrap(_plain(block["text"]["text"]), width))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                out.append(f"  [ {accessory['text']['text']} ]")
            out.append("")
        elif kind == "context":
            out.append(_wrap(" · ".join(_plain(e.get("text", "")) for e in block["elements"]), width, "  "))
            out.append("")
        elif kind == "divider":
            out.append("-" * min(40, width))
        elif kind == "actions":
            out.append("  ".join(f"[ {e['text']['text']} ]" for e in block["elements"] if e.get("type") == "button"))
    return "\n".join(out).strip("\n") + "\n"
