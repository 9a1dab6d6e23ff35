"""Slack's mrkdwn to safe HTML, the way the Slack client shows a message.

Slack sends text with only `&`, `<` and `>` escaped (as entities), and writes links, mentions and
broadcasts between real angle brackets: `<https://x|text>`, `<@U123>`, `<#C1|general>`, `<!here>`. The
text is cut into pieces, outside in: code blocks (shown verbatim), then lines (quotes, "• " and "1. " lists,
the rest joined with <br>), then within a line code spans and angle-bracket tokens (put aside as
placeholders), emphasis (*bold*, _italic_, ~strike~) and :emoji: shortcodes. Every piece of the input
reaches the output through html.escape, so no markup in a message can become markup on the page; only
http, https and mailto links become <a>.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from bot.sandbox.emoji import emojify

NO_USERS: Mapping[str, str] = MappingProxyType({})

# Private-use characters mark where a rendered piece waits to be put back; removed from the input first.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_FENCE = "```"
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_TOKEN = re.compile(r"<([^<>\n]+)>")
_QUOTE = re.compile(r"^(?:&gt;|>)(?: |$)")
_BULLET = re.compile(r"^\s*[•◦▪] (.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,3})\. (.*)$")
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)[^\s\x00-\x1f\x7f]+$", re.IGNORECASE)


def _emphasis(marker: str) -> re.Pattern[str]:
    """A span between two markers: opened at the start or after a non-word character and followed by a
    non-space, closed after a non-space and before a non-word character (so snake_case stays as typed)."""
    m = re.escape(marker)
    return re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]+?)(?<=\S){m}(?![\w{m}])")


_STYLES = ((_emphasis("~"), "s"), (_emphasis("*"), "b"), (_emphasis("_"), "i"))

LINK_ATTRIBUTES = 'target="_blank" rel="noopener noreferrer"'


def unescape(text: str) -> str:
    """Slack's three entities back to characters, in one pass ("&amp;lt;" is the text "&lt;")."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def escape(text: str) -> str:
    """Plain text as HTML, quotes included so it is safe inside an attribute too."""
    return html.escape(text, quote=True)


def safe_url(url: str) -> str | None:
    """The URL if a page may link to it (http, https or mailto, no spaces or control characters), else None."""
    return url if _SAFE_URL.match(url) else None


def link(url: str, label_html: str) -> str:
    return f'<a class="bk-link" href="{escape(url)}" {LINK_ATTRIBUTES}>{label_html}</a>'


def render_mrkdwn(text: str, users: Mapping[str, str] = NO_USERS) -> str:
    """Slack mrkdwn (as Slack sends it) to HTML; `users` maps user ids to the names shown for mentions."""
    text = text.replace(_OPEN, "").replace(_CLOSE, "").replace("\r\n", "\n")
    pieces = text.split(_FENCE)
    if len(pieces) % 2 == 0:  # an unclosed fence is text, as in Slack
        pieces[-2:] = [pieces[-2] + _FENCE + pieces[-1]]
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(f'<pre class="bk-pre">{escape(unescape(piece.strip(chr(10))))}</pre>')
        elif piece:
            out.append(_render_lines(piece, users, quotes=True))
    return "".join(out)


def _line_kind(line: str, quotes: bool) -> str:
    if quotes and _QUOTE.match(line):
        return "quote"
    if _BULLET.match(line):
        return "bullet"
    if _NUMBERED.match(line):
        return "numbered"
    return "plain"


def _render_lines(text: str, users: Mapping[str, str], *, quotes: bool) -> str:
    """Consecutive lines of one kind become one quote, one list or one run of <br>-separated lines."""
    groups: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        kind = _line_kind(line, quotes)
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(line)
        else:
            groups.append((kind, [line]))
    out: list[str] = []
    for position, (kind, lines) in enumerate(groups):
        out.append(_GROUPS[kind](lines, users))
        if kind == "plain" and position + 1 < len(groups) and lines[-1] == "":
            out.append("<br>")  # "text\n\n• item": a <br> right before a list shows nothing, a second one the gap
    return "".join(out)


def _quote(lines: list[str], users: Mapping[str, str]) -> str:
    inner = "\n".join(_QUOTE.sub("", line, count=1) for line in lines)
    return f'<blockquote class="bk-quote">{_render_lines(inner, users, quotes=False)}</blockquote>'


def _bullets(lines: list[str], users: Mapping[str, str]) -> str:
    items = "".join(f"<li>{render_inline(_match(_BULLET, line).group(1), users)}</li>" for line in lines)
    return f'<ul class="bk-list">{items}</ul>'


def _numbered(lines: list[str], users: Mapping[str, str]) -> str:
    first = _match(_NUMBERED, lines[0]).group(1)
    items = "".join(f"<li>{render_inline(_match(_NUMBERED, line).group(2), users)}</li>" for line in lines)
    start = f' start="{int(first)}"' if int(first) != 1 else ""
    return f'<ol class="bk-list"{start}>{items}</ol>'


def _plain(lines: list[str], users: Mapping[str, str]) -> str:
    return "<br>".join(render_inline(line, users) for line in lines)


def _match(pattern: re.Pattern[str], line: str) -> re.Match[str]:
    found = pattern.match(line)
    assert found is not None  # the line was grouped by this very pattern
    return found


_GROUPS: dict[str, Callable[[list[str], Mapping[str, str]], str]] = {
    "quote": _quote,
    "bullet": _bullets,
    "numbered": _numbered,
    "plain": _plain,
}


def render_inline(text: str, users: Mapping[str, str] = NO_USERS) -> str:
    """One line of mrkdwn: code spans, links and mentions, emphasis and emoji."""
    aside: list[str] = []

    def put_aside(rendered: str) -> str:
        aside.append(rendered)
        return f"{_OPEN}{len(aside) - 1}{_CLOSE}"

    text = _CODE_SPAN.sub(lambda m: put_aside(f'<code class="bk-code">{escape(unescape(m.group(1)))}</code>'), text)
    text = _TOKEN.sub(lambda m: put_aside(render_token(m.group(1), users)), text)
    rendered = emojify(escape(unescape(text)))
    for pattern, tag in _STYLES:
        rendered = pattern.sub(rf"<{tag}>\1</{tag}>", rendered)
    for _ in range(2):  # twice: a link's label may hold a code span put aside before the link
        rendered = _PLACEHOLDER.sub(lambda m: aside[int(m.group(1))], rendered)
    return rendered


def render_token(inner: str, users: Mapping[str, str] = NO_USERS) -> str:
    """What Slack writes between angle brackets: a mention, a channel, a broadcast or a link."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user_id = target[1:]
        name = users.get(user_id) or label.lstrip("@") or user_id
        return f'<span class="bk-mention" data-user-id="{escape(user_id)}">@{escape(unescape(name))}</span>'
    if target.startswith("#"):
        name = label or target[1:]
        return f'<span class="bk-channel" data-channel-id="{escape(target[1:])}">#{escape(unescape(name))}</span>'
    if target.startswith("!"):
        return f'<span class="bk-broadcast">{escape(unescape(_special(target[1:], label)))}</span>'
    url = unescape(target)
    if safe_url(url) is None:  # shown as text: the label, or what was between the brackets
        shown = escape(unescape(label)) if label else escape(f"<{unescape(inner)}>")
        return f'<span class="bk-link-refused">{shown}</span>'
    bare = url[len("mailto:") :] if url.lower().startswith("mailto:") else url
    return link(url, escape(unescape(label)) if label else escape(bare))


def _special(command: str, label: str) -> str:
    """<!here>, <!channel>, <!everyone>, <!subteam^S1|@team>, <!date^…|fallback>: how Slack shows them."""
    name = command.split("^", 1)[0]
    if name in ("here", "channel", "everyone"):
        return f"@{name}"
    if label:
        return label
    return f"@{name}" if name == "subteam" else name
