"""Block Kit to HTML for the sandbox page: messages, modals and the App Home, as Slack's client shows them.

Pure functions: plain dicts in, an HTML string out; standard library only, no I/O, no Slack client, no
database. Every string from a message reaches the HTML escaped (bot.sandbox.mrkdwn), and a link or an image
source is kept only when it is safe (http, https, mailto for links; http, https, a page path or a data:image
for images).

The contract with the page (bot/sandbox's server and its JavaScript):

- `render_mrkdwn(text, users={}) -> str` (bot.sandbox.mrkdwn, re-exported here): Slack mrkdwn to safe HTML:
  *bold*, _italic_, ~strike~, `code`, ```code blocks```, > quotes, "• " and "1. " lists, <url|text> and <url>
  links (only http/https/mailto become <a target="_blank" rel="noopener noreferrer">), <@U123> as "@name"
  (users maps id -> display name; an unknown id shows "@U123"), <#C123|name>, <!here>, Slack's &lt; &gt; &amp;,
  :emoji: shortcodes as characters (unknown ones stay as text), newlines as <br>.
- `render_text(obj) -> str`: a Block Kit text object (plain_text with its emoji flag, or mrkdwn).
- `render_blocks(blocks, *, users={}, files={}) -> str`: HTML for a message's or a view's blocks. `files` maps
  a Slack file id or a file name to a URL the page can load (an image, or a file to open or download).
- `render_message(message, *, users={}, files={}) -> str`: one stored chat message (a dict with "text",
  optional "blocks", "user"/"bot_id", "ts", "files", "ephemeral", "edited"): its blocks if any, else its text
  as mrkdwn; attached files inline (an image whose URL is known as <img>, any other file as its name linked
  to its URL when that is http(s) or the sandbox's own /sandbox/files/<id>); "Only visible to you" when
  ephemeral; "(edited)" when edited. The page draws the sender's name, avatar and time itself; the wrapper
  carries data-ts, data-user and data-bot-id for it.
- `render_view(view, *, users={}, files={}, errors={}) -> str`: a modal (title, close, submit, blocks; `errors`
  maps block_id -> message, shown under that input block) or a home tab (type "home": its blocks).
- Unknown block or element types, and malformed ones, render a visible "[unsupported: type]" placeholder.

Data attributes the page's JavaScript reads to build Slack's payloads:

- every block's wrapper: `data-block-id` (a missing block_id becomes the block's index: "b0", "b1", ... so
  state.values can still be built) and `data-type` (the block type); an input block with dispatch_action
  also `data-dispatch-action="true"`.
- every element: `data-block-id`, `data-action-id` (a missing action_id becomes "a<position in its block>"),
  `data-type` (the Block Kit element type); form controls also `name` = block_id + "/" + action_id.
- button: `<button type="button">`, or `<a href>` for a url button; `data-value`, `data-url` (url buttons),
  `data-confirm` (the confirm object as JSON, HTML-escaped in the attribute) on any element that has one.
- static_select, multi_static_select (`multiple`), users_select, multi_users_select (options: the `users`
  mapping) and overflow: `<select>` whose `<option value>` is the option's value; overflow options that
  open a link carry `data-url`. A select with nothing chosen shows its placeholder as a disabled option
  with value "".
- plain_text_input: `<input type="text">`, or `<textarea>` when multiline; timepicker `<input type="time">`,
  datepicker `<input type="date">`, datetimepicker `<input type="datetime-local">` (UTC), number_input,
  email_text_input, url_text_input: `<input type="number|email|url">`.
- checkboxes and radio_buttons: a `<div>` group with the element's attributes, holding
  `<input type="checkbox|radio" value="option value">` inputs named block_id + "/" + action_id, each with the
  element's data attributes too.
- initial_option(s), initial_user(s), initial_value, initial_time and initial_date are shown selected/filled.
- a modal's buttons: `data-view-action="close"` or `"submit"`; its wrapper `data-callback-id`.

CSS classes (all "bk-"): see STYLESHEET at the end of this module, which styles every class used here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from bot.sandbox.emoji import SHORTCODES, emojify
from bot.sandbox.mrkdwn import NO_USERS, escape, link, render_mrkdwn, safe_url, unescape

__all__ = ["STYLESHEET", "render_blocks", "render_message", "render_mrkdwn", "render_text", "render_view"]

NO_FILES: Mapping[str, str] = MappingProxyType({})
NO_ERRORS: Mapping[str, str] = MappingProxyType({})
IMAGE_NAME = re.compile(r"\.(png|jpe?g|gif|webp|svg)$", re.IGNORECASE)
SANDBOX_FILE = re.compile(r"/sandbox/files/[A-Za-z0-9_-]{1,64}")  # the only relative link a file may have
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$")

Obj = Mapping[str, Any]
Attributes = Mapping[str, str | bool | None]


@dataclass(frozen=True)
class Page:
    """What the renderers know beyond the blocks: names for mentions, loadable file URLs, a modal's errors."""

    users: Mapping[str, str]
    files: Mapping[str, str]
    errors: Mapping[str, str]


@dataclass(frozen=True)
class Where:
    """Where an element sits: its block's id and its position in that block, for the data attributes."""

    block_id: str
    position: int


# --- small pieces --------------------------------------------------------------------------------------


def attributes(values: Attributes) -> str:
    """HTML attributes, escaped: True is a bare attribute, None and False are left out."""
    out = []
    for name, value in values.items():
        if value is True:
            out.append(f" {name}")
        elif isinstance(value, str):
            out.append(f' {name}="{escape(value)}"')
    return "".join(out)


def unsupported(kind: str) -> str:
    return f'<span class="bk-unsupported">[unsupported: {escape(kind)}]</span>'


def render_text(obj: object, *, users: Mapping[str, str] = NO_USERS) -> str:
    """A Block Kit text object as HTML: mrkdwn rendered, plain_text escaped (emoji unless emoji is false)."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return render_mrkdwn(text, users)
    shown = escape(text)
    return (emojify(shown) if obj.get("emoji", True) else shown).replace("\n", "<br>")


def plain_string(obj: object) -> str:
    """A text object's words, emoji shown, not escaped: for an attribute, which attributes() escapes."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    return emojify(unescape(text) if obj.get("type") == "mrkdwn" else text)


def plain(obj: object) -> str:
    """A text object as escaped text with no tags (inside <option>, <button> and the modal's title)."""
    return escape(plain_string(obj))


def image_source(url: object, page: Page, *keys: object) -> str | None:
    """A URL an <img> may load: http(s), a path on the page's own server or a data:image; else the URL the
    page gave for one of `keys` (a Slack file id or a file name)."""
    for candidate in (url, *(page.files.get(str(k)) for k in keys if k)):
        if isinstance(candidate, str) and _loadable(candidate):
            return candidate
    return None


def _loadable(url: str) -> bool:
    if url.startswith("/") and not url.startswith("//"):
        return bool(re.fullmatch(r"/[^\s\"'<>\\]*", url))
    return bool(_DATA_IMAGE.match(url)) or (safe_url(url) is not None and not url.lower().startswith("mailto:"))


def image_tag(src: str, alt: str, css_class: str) -> str:
    return f"<img{attributes({'class': css_class, 'src': src, 'alt': alt, 'loading': 'lazy'})}>"


# --- elements ------------------------------------------------------------------------------------------


def element_attributes(element: Obj, where: Where) -> dict[str, str | bool | None]:
    """The data attributes every element carries, and the form name of its control."""
    action_id = str(element.get("action_id") or f"a{where.position}")
    confirm = element.get("confirm")
    return {
        "data-block-id": where.block_id,
        "data-action-id": action_id,
        "data-type": str(element.get("type")),
        "data-confirm": json.dumps(confirm, ensure_ascii=False) if isinstance(confirm, Mapping) else None,
        "name": f"{where.block_id}/{action_id}",
    }


def _button(element: Obj, where: Where, page: Page) -> str:
    style = element.get("style")
    css = "bk-button" + (f" bk-button-{style}" if style in ("primary", "danger") else "")
    attrs = element_attributes(element, where) | {"class": css}
    value = element.get("value")
    attrs["data-value"] = str(value) if value is not None else None
    label = render_text(element.get("text"))
    url = safe_url(str(element.get("url") or ""))
    if url is None:
        return f'<button type="button"{attributes(attrs)}>{label}</button>'
    attrs |= {"data-url": url, "href": url, "target": "_blank", "rel": "noopener noreferrer", "name": None}
    return f"<a{attributes(attrs)}>{label}</a>"


def _option(option: object, chosen: set[str]) -> str:
    if not isinstance(option, Mapping):
        return ""
    value = str(option.get("value", ""))
    url = safe_url(str(option.get("url") or ""))
    attrs: dict[str, str | bool | None] = {"value": value, "selected": value in chosen, "data-url": url}
    description = option.get("description")
    if isinstance(description, Mapping):
        attrs["title"] = unescape(str(description.get("text") or ""))
    return f"<option{attributes(attrs)}>{plain(option.get('text'))}</option>"


def _options(element: Obj, chosen: set[str]) -> str:
    groups = element.get("option_groups")
    if isinstance(groups, Sequence) and groups:
        return "".join(
            f"<optgroup{attributes({'label': unescape(str((g.get('label') or {}).get('text') or ''))})}>"
            + "".join(_option(o, chosen) for o in g.get("options") or [])
            + "</optgroup>"
            for g in groups
        )
    return "".join(_option(o, chosen) for o in element.get("options") or [])


def _values(*options: object) -> set[str]:
    return {str(o["value"]) for o in options if isinstance(o, Mapping) and "value" in o}


def _select(element: Obj, where: Where, options_html: str, *, multiple: bool, chosen: bool) -> str:
    attrs = element_attributes(element, where) | {"class": "bk-select", "multiple": multiple}
    placeholder = plain_string(element.get("placeholder")) or "Select an item"
    if multiple:
        attrs["data-placeholder"] = placeholder
        attrs["data-max-selected-items"] = _text_or_none(element.get("max_selected_items"))
        return f"<select{attributes(attrs)}>{options_html}</select>"
    blank = f'<option value=""{" selected" if not chosen else ""} disabled>{escape(placeholder)}</option>'
    return f"<select{attributes(attrs)}>{blank}{options_html}</select>"


def _static_select(element: Obj, where: Where, page: Page) -> str:
    chosen = _values(element.get("initial_option"))
    return _select(element, where, _options(element, chosen), multiple=False, chosen=bool(chosen))


def _multi_static_select(element: Obj, where: Where, page: Page) -> str:
    chosen = _values(*(element.get("initial_options") or []))
    return _select(element, where, _options(element, chosen), multiple=True, chosen=bool(chosen))


def _user_options(page: Page, chosen: set[str]) -> str:
    people = sorted(set(page.users) | chosen, key=lambda user_id: (page.users.get(user_id, user_id).lower(), user_id))
    return "".join(
        f"<option{attributes({'value': u, 'selected': u in chosen})}>{escape(page.users.get(u, u))}</option>"
        for u in people
    )


def _users_select(element: Obj, where: Where, page: Page) -> str:
    chosen = {str(element["initial_user"])} if element.get("initial_user") else set()
    return _select(element, where, _user_options(page, chosen), multiple=False, chosen=bool(chosen))


def _multi_users_select(element: Obj, where: Where, page: Page) -> str:
    chosen = {str(u) for u in element.get("initial_users") or []}
    return _select(element, where, _user_options(page, chosen), multiple=True, chosen=bool(chosen))


def _overflow(element: Obj, where: Where, page: Page) -> str:
    attrs = element_attributes(element, where) | {"class": "bk-overflow", "aria-label": "More actions"}
    return (
        f'<select{attributes(attrs)}><option value="" selected disabled>⋯</option>{_options(element, set())}</select>'
    )


def _text_or_none(value: object) -> str | None:
    return None if value is None or isinstance(value, Mapping) else str(value)


def _input_attributes(element: Obj, where: Where, css: str) -> dict[str, str | bool | None]:
    return element_attributes(element, where) | {
        "class": css,
        "placeholder": plain_string(element.get("placeholder")) or None,
        "data-dispatch-action-config": json.dumps(element["dispatch_action_config"])
        if isinstance(element.get("dispatch_action_config"), Mapping)
        else None,
    }


def _plain_text_input(element: Obj, where: Where, page: Page) -> str:
    attrs = _input_attributes(element, where, "bk-text-input")
    attrs |= {
        "maxlength": _text_or_none(element.get("max_length")),
        "minlength": _text_or_none(element.get("min_length")),
    }
    value = str(element.get("initial_value") or "")
    if element.get("multiline"):
        return f'<textarea rows="4"{attributes(attrs)}>{escape(value)}</textarea>'
    return f'<input type="text"{attributes(attrs | {"value": value})}>'


def _typed_input(kind: str, initial: str) -> Callable[[Obj, Where, Page], str]:
    """An element shown as one <input type=kind>, filled from the element's `initial` field."""

    def render(element: Obj, where: Where, page: Page) -> str:
        attrs = _input_attributes(element, where, f"bk-{kind}-input")
        attrs["value"] = _text_or_none(element.get(initial))
        if kind == "number":
            attrs |= {
                "min": _text_or_none(element.get("min_value")),
                "max": _text_or_none(element.get("max_value")),
                "step": "any" if element.get("is_decimal_allowed") else "1",
            }
        return f'<input type="{kind}"{attributes(attrs)}>'

    return render


def _datetimepicker(element: Obj, where: Where, page: Page) -> str:
    attrs = _input_attributes(element, where, "bk-datetime-input")
    initial = element.get("initial_date_time")
    if isinstance(initial, int | float):
        attrs["value"] = datetime.fromtimestamp(initial, UTC).strftime("%Y-%m-%dT%H:%M")
    return f'<input type="datetime-local"{attributes(attrs)}>'


def _choices(kind: str) -> Callable[[Obj, Where, Page], str]:
    """checkboxes or radio_buttons: a group of <input type=kind>, one per option."""

    def render(element: Obj, where: Where, page: Page) -> str:
        attrs = element_attributes(element, where)
        initial = (element.get("initial_options") or []) if kind == "checkbox" else [element.get("initial_option")]
        chosen = _values(*initial)
        options = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
        items = "".join(_choice(kind, o, chosen, attrs, page) for o in options)
        group = attrs | {"class": f"bk-{kind}es" if kind == "checkbox" else "bk-radios", "name": None, "role": "group"}
        return f"<div{attributes(group)}>{items}</div>"

    return render


def _choice(kind: str, option: Obj, chosen: set[str], attrs: Attributes, page: Page) -> str:
    value = str(option.get("value", ""))
    control = attributes(dict(attrs) | {"type": kind, "value": value, "checked": value in chosen})
    description = option.get("description")
    note = f'<span class="bk-choice-description">{render_text(description, users=page.users)}</span>'
    return (
        f'<label class="bk-choice"><input{control}> <span class="bk-choice-text">'
        f"{render_text(option.get('text'), users=page.users)}</span>{note if description else ''}</label>"
    )


def image_html(obj: Obj, page: Page, css_class: str) -> str:
    """An image element or block's picture (image_url, or slack_file by url or id); its alt text if none loads."""
    given = obj.get("slack_file")
    slack_file: Obj = given if isinstance(given, Mapping) else {}
    src = image_source(obj.get("image_url") or slack_file.get("url"), page, slack_file.get("id"))
    alt = str(obj.get("alt_text") or "")
    return image_tag(src, alt, css_class) if src else f'<span class="bk-image-missing">[{escape(alt)}]</span>'


def _image_element(element: Obj, where: Where, page: Page) -> str:
    return image_html(element, page, "bk-image-element")


ELEMENTS: dict[str, Callable[[Obj, Where, Page], str]] = {
    "button": _button,
    "static_select": _static_select,
    "multi_static_select": _multi_static_select,
    "users_select": _users_select,
    "multi_users_select": _multi_users_select,
    "overflow": _overflow,
    "plain_text_input": _plain_text_input,
    "timepicker": _typed_input("time", "initial_time"),
    "datepicker": _typed_input("date", "initial_date"),
    "datetimepicker": _datetimepicker,
    "number_input": _typed_input("number", "initial_value"),
    "email_text_input": _typed_input("email", "initial_value"),
    "url_text_input": _typed_input("url", "initial_value"),
    "checkboxes": _choices("checkbox"),
    "radio_buttons": _choices("radio"),
    "image": _image_element,
}


def render_element(element: object, where: Where, page: Page) -> str:
    """One interactive or image element; an unknown or malformed one as a visible placeholder."""
    if not isinstance(element, Mapping):
        return unsupported("not an element")
    kind = str(element.get("type") or "?")
    renderer = ELEMENTS.get(kind)
    if renderer is None:
        return unsupported(kind)
    try:
        return renderer(element, where, page)
    except (AttributeError, KeyError, TypeError, ValueError):
        return unsupported(f"{kind}, malformed")


# --- blocks --------------------------------------------------------------------------------------------


def _header(block: Obj, block_id: str, page: Page) -> str:
    return f'<h2 class="bk-header">{render_text(block.get("text"))}</h2>'


def _section(block: Obj, block_id: str, page: Page) -> str:
    body = ""
    if isinstance(block.get("text"), Mapping):
        body += f'<div class="bk-section-text">{render_text(block["text"], users=page.users)}</div>'
    fields = [f for f in block.get("fields") or [] if isinstance(f, Mapping)]
    if fields:
        cells = "".join(f'<div class="bk-field">{render_text(f, users=page.users)}</div>' for f in fields)
        body += f'<div class="bk-fields">{cells}</div>'
    accessory = block.get("accessory")
    side = f'<div class="bk-accessory">{render_element(accessory, Where(block_id, 0), page)}</div>' if accessory else ""
    return f'<div class="bk-section-body">{body}</div>{side}'


def _context(block: Obj, block_id: str, page: Page) -> str:
    parts = []
    for element in block.get("elements") or []:
        if isinstance(element, Mapping) and element.get("type") in ("mrkdwn", "plain_text"):
            parts.append(f'<span class="bk-context-text">{render_text(element, users=page.users)}</span>')
        elif isinstance(element, Mapping) and element.get("type") == "image":
            parts.append(image_html(element, page, "bk-context-image"))
        else:
            parts.append(unsupported(str(element.get("type") if isinstance(element, Mapping) else "?")))
    return "".join(parts)


def _divider(block: Obj, block_id: str, page: Page) -> str:
    return '<hr class="bk-divider">'


def _actions(block: Obj, block_id: str, page: Page) -> str:
    elements = block.get("elements") or []
    return "".join(render_element(e, Where(block_id, i), page) for i, e in enumerate(elements))


def _image(block: Obj, block_id: str, page: Page) -> str:
    title = (
        f'<figcaption class="bk-image-title">{render_text(block["title"])}</figcaption>' if block.get("title") else ""
    )
    return f"<figure>{title}{image_html(block, page, 'bk-image-block')}</figure>"


def _input(block: Obj, block_id: str, page: Page) -> str:
    optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
    label = f'<label class="bk-label">{render_text(block.get("label"))}{optional}</label>'
    control = render_element(block.get("element"), Where(block_id, 0), page)
    error = page.errors.get(block_id)
    shown_error = f'<div class="bk-error" role="alert">{escape(error)}</div>' if error else ""
    hint = f'<div class="bk-hint">{render_text(block["hint"])}</div>' if block.get("hint") else ""
    return f"{label}{control}{shown_error}{hint}"


def _file(block: Obj, block_id: str, page: Page) -> str:
    return file_html({"id": block.get("external_id"), "name": block.get("external_id")}, page)


def file_html(file: object, page: Page) -> str:
    """A file shared in a message: an image inline when the page gave its URL, else its name."""
    if not isinstance(file, Mapping):
        return unsupported("file")
    file_id, name = str(file.get("id") or ""), str(file.get("name") or "")
    title = str(file.get("title") or name or file_id)
    src = image_source(None, page, file_id, name)
    is_image = bool(IMAGE_NAME.search(name)) or str(file.get("mimetype") or "").startswith("image/")
    if src and is_image:
        caption = f'<figcaption class="bk-file-title">{escape(title)}</figcaption>'
        picture = image_tag(src, title, "bk-file-image")
        return f'<figure class="bk-file" data-file-id="{escape(file_id)}">{caption}{picture}</figure>'
    href = file_url(src)
    shown = link(href, escape(title)) if href else escape(title)
    return f'<div class="bk-file" data-file-id="{escape(file_id)}">📄 {shown}</div>'


def file_url(url: str | None) -> str | None:
    """A URL a file's name may link to: http(s), or exactly the sandbox's own file path (/sandbox/files/<id>,
    which the sandbox serves with the file's type and name); anything else stays unlinked."""
    if not url:
        return None
    return url if SANDBOX_FILE.fullmatch(url) or (safe_url(url) and not url.lower().startswith("mailto:")) else None


def _rich_text(block: Obj, block_id: str, page: Page) -> str:
    return "".join(_rich_part(part, page) for part in block.get("elements") or [])


def _rich_part(part: object, page: Page) -> str:
    if not isinstance(part, Mapping):
        return unsupported("rich text part")
    kind = part.get("type")
    inline = "".join(_rich_inline(e, page) for e in part.get("elements") or [])
    if kind == "rich_text_section":
        return f'<div class="bk-rich-section">{inline}</div>'
    if kind == "rich_text_preformatted":
        return f'<pre class="bk-pre">{inline}</pre>'
    if kind == "rich_text_quote":
        return f'<blockquote class="bk-quote">{inline}</blockquote>'
    if kind == "rich_text_list":
        tag = "ol" if part.get("style") == "ordered" else "ul"
        items = "".join(f"<li>{_rich_part(e, page)}</li>" for e in part.get("elements") or [])
        return f'<{tag} class="bk-list bk-indent-{int(part.get("indent") or 0)}">{items}</{tag}>'
    return unsupported(str(kind))


def _rich_inline(element: object, page: Page) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "text":
        return _styled(escape(str(element.get("text") or "")).replace("\n", "<br>"), element.get("style"))
    if kind == "link":
        url = str(element.get("url") or "")
        label = _styled(escape(str(element.get("text") or url)), element.get("style"))
        return link(url, label) if safe_url(url) else label
    if kind == "user":
        user_id = str(element.get("user_id") or "")
        name = escape(page.users.get(user_id, user_id))
        return f'<span class="bk-mention" data-user-id="{escape(user_id)}">@{name}</span>'
    if kind == "channel":
        return f'<span class="bk-channel">#{escape(str(element.get("channel_id") or ""))}</span>'
    if kind == "emoji":
        return _rich_emoji(element)
    if kind == "broadcast":
        return f'<span class="bk-broadcast">@{escape(str(element.get("range") or ""))}</span>'
    if kind == "usergroup":
        return f'<span class="bk-broadcast">@{escape(str(element.get("usergroup_id") or ""))}</span>'
    if kind == "date":
        return escape(str(element.get("fallback") or element.get("timestamp") or ""))
    return unsupported(str(kind))


def _rich_emoji(element: Obj) -> str:
    code = str(element.get("unicode") or "")
    if re.fullmatch(r"[0-9a-fA-F]{2,6}(-[0-9a-fA-F]{2,6})*", code):
        return "".join(chr(int(point, 16)) for point in code.split("-"))
    name = str(element.get("name") or "")
    return SHORTCODES.get(name) or escape(f":{name}:")


def _styled(html_text: str, style: object) -> str:
    if not isinstance(style, Mapping):
        return html_text
    for flag, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(flag):
            html_text = f"<{tag}>{html_text}</{tag}>"
    return html_text


BLOCKS: dict[str, Callable[[Obj, str, Page], str]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "actions": _actions,
    "image": _image,
    "input": _input,
    "file": _file,
    "rich_text": _rich_text,
}


def block_id_of(block: object, index: int) -> str:
    """The block's own id, or the one the page uses when Slack would have generated one."""
    given = block.get("block_id") if isinstance(block, Mapping) else None
    return str(given) if given else f"b{index}"


def render_block(block: object, index: int, page: Page) -> str:
    """One block in its wrapper; an unknown or malformed block as a visible placeholder."""
    if not isinstance(block, Mapping):
        return f'<div class="bk-block">{unsupported("not a block")}</div>'
    kind = str(block.get("type") or "?")
    block_id = block_id_of(block, index)
    renderer = BLOCKS.get(kind)
    try:
        inner = renderer(block, block_id, page) if renderer else unsupported(kind)
    except (AttributeError, KeyError, TypeError, ValueError):
        inner = unsupported(f"{kind}, malformed")
    attrs: Attributes = {
        "class": f"bk-block bk-block-{kind}" if renderer else "bk-block",
        "data-block-id": block_id,
        "data-type": kind,
        "data-dispatch-action": "true" if kind == "input" and block.get("dispatch_action") else None,
    }
    return f"<div{attributes(attrs)}>{inner}</div>"


def _blocks_html(blocks: object, page: Page) -> str:
    if not isinstance(blocks, Sequence) or isinstance(blocks, str):
        return unsupported("blocks")
    return "".join(render_block(block, index, page) for index, block in enumerate(blocks))


def render_blocks(
    blocks: Sequence[Mapping[str, Any]], *, users: Mapping[str, str] = NO_USERS, files: Mapping[str, str] = NO_FILES
) -> str:
    """A message's or a view's blocks as HTML."""
    return f'<div class="bk-blocks">{_blocks_html(blocks, Page(users, files, NO_ERRORS))}</div>'


# --- messages and views --------------------------------------------------------------------------------


def render_message(
    message: Mapping[str, Any], *, users: Mapping[str, str] = NO_USERS, files: Mapping[str, str] = NO_FILES
) -> str:
    """One stored chat message: its blocks (or its text), its files, and the ephemeral and edited notes."""
    page = Page(users, files, NO_ERRORS)
    blocks = message.get("blocks")
    note = '<div class="bk-ephemeral">Only visible to you</div>' if message.get("ephemeral") else ""
    if blocks:
        body = f'<div class="bk-blocks">{_blocks_html(blocks, page)}</div>'
    elif message.get("text"):
        body = f'<div class="bk-text">{render_mrkdwn(str(message["text"]), users)}</div>'
    else:
        body = ""
    attached = "".join(file_html(f, page) for f in message.get("files") or [])
    edited = '<span class="bk-edited">(edited)</span>' if message.get("edited") else ""
    attrs: Attributes = {
        "class": "bk-message" + (" bk-message-ephemeral" if note else ""),
        "data-ts": _text_or_none(message.get("ts")),
        "data-user": _text_or_none(message.get("user")),
        "data-bot-id": _text_or_none(message.get("bot_id")),
    }
    return f"<div{attributes(attrs)}>{note}{body}{attached}{edited}</div>"


def render_view(
    view: Mapping[str, Any],
    *,
    users: Mapping[str, str] = NO_USERS,
    files: Mapping[str, str] = NO_FILES,
    errors: Mapping[str, str] = NO_ERRORS,
) -> str:
    """A modal with its title, buttons and the errors under their fields, or a home tab."""
    page = Page(users, files, errors)
    blocks = view.get("blocks") or []
    body = _blocks_html(blocks, page)
    if view.get("type") == "home":
        return f'<div class="bk-view bk-home" data-view-type="home">{body}</div>'
    placed = {block_id_of(b, i) for i, b in enumerate(blocks) if isinstance(b, Mapping) and b.get("type") == "input"}
    stray = "".join(
        f'<div class="bk-error" role="alert">{escape(block_id)}: {escape(message)}</div>'
        for block_id, message in errors.items()
        if block_id not in placed
    )
    close = plain(view.get("close")) or "Cancel"
    submit = view.get("submit")
    buttons = f'<button type="button" class="bk-button bk-modal-close" data-view-action="close">{close}</button>'
    if submit:
        buttons += (
            '<button type="button" class="bk-button bk-button-primary bk-modal-submit" data-view-action="submit">'
            f"{plain(submit)}</button>"
        )
    attrs: Attributes = {
        "class": "bk-view bk-modal",
        "data-view-type": str(view.get("type") or "modal"),
        "data-callback-id": _text_or_none(view.get("callback_id")),
        "role": "dialog",
    }
    return (
        f'<div{attributes(attrs)}><div class="bk-modal-header"><h1 class="bk-modal-title">{plain(view.get("title"))}'
        '</h1><button type="button" class="bk-modal-x" data-view-action="close" aria-label="Close">×</button></div>'
        f'<div class="bk-modal-body">{stray}{body}</div><div class="bk-modal-footer">{buttons}</div></div>'
    )


STYLESHEET = """
.bk-blocks, .bk-message, .bk-view { font: 15px/1.46668 -apple-system, "Segoe UI", Lato, Helvetica, Arial, sans-serif;
  color: #1d1c1d; }
.bk-block { margin: 4px 0; }
.bk-header { font-size: 18px; font-weight: 900; margin: 8px 0 4px; }
.bk-block-section { display: flex; gap: 12px; align-items: flex-start; }
.bk-section-body { flex: 1; min-width: 0; }
.bk-section-text, .bk-text, .bk-rich-section { overflow-wrap: anywhere; }
.bk-fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin-top: 4px; }
.bk-field { min-width: 0; }
.bk-accessory { flex: none; }
.bk-block-context { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; font-size: 13px; color: #616061; }
.bk-context-text { min-width: 0; }
.bk-context-image { width: 20px; height: 20px; border-radius: 4px; }
.bk-divider { border: 0; border-top: 1px solid #dddddd; margin: 12px 0; }
.bk-block-actions { display: flex; flex-wrap: wrap; gap: 8px; }
.bk-button { font: inherit; font-size: 15px; font-weight: 700; padding: 0 12px; min-height: 32px; border-radius: 4px;
  border: 1px solid #bbbbbb; background: #ffffff; color: #1d1c1d; cursor: pointer; text-decoration: none;
  display: inline-flex; align-items: center; }
.bk-button:hover { background: #f8f8f8; }
.bk-button-primary { background: #007a5a; border-color: #007a5a; color: #ffffff; }
.bk-button-primary:hover { background: #148567; }
.bk-button-danger { background: #ffffff; border-color: #e01e5a; color: #e01e5a; }
.bk-select, .bk-overflow, .bk-text-input, .bk-time-input, .bk-date-input, .bk-datetime-input, .bk-number-input,
.bk-email-input, .bk-url-input { font: inherit; padding: 6px 8px; border: 1px solid #bbbbbb; border-radius: 4px;
  background: #ffffff; max-width: 100%; box-sizing: border-box; }
.bk-text-input { width: 100%; }
.bk-select[multiple] { min-width: 260px; }
.bk-overflow { width: 36px; padding: 6px 4px; }
.bk-checkboxes, .bk-radios { display: flex; flex-direction: column; gap: 4px; }
.bk-choice { display: flex; gap: 8px; align-items: baseline; cursor: pointer; }
.bk-choice-text { font-weight: 400; }
.bk-choice-description { display: block; font-size: 13px; color: #616061; }
.bk-block-input { display: flex; flex-direction: column; gap: 4px; margin: 12px 0; }
.bk-label { font-weight: 700; }
.bk-optional, .bk-hint { font-weight: 400; font-size: 13px; color: #616061; }
.bk-error { font-size: 13px; color: #e01e5a; }
.bk-image-block, .bk-image-element, .bk-file-image { max-width: 100%; border-radius: 8px; }
.bk-image-element { width: 88px; height: 88px; object-fit: cover; }
.bk-image-title, .bk-file-title { font-size: 13px; color: #616061; margin-bottom: 4px; }
.bk-image-missing { font-size: 13px; color: #616061; font-style: italic; }
.bk-file { margin: 4px 0; }
.bk-pre { font: 12px/1.5 Monaco, Menlo, Consolas, monospace; background: #f8f8f8; border: 1px solid #dddddd;
  border-radius: 4px; padding: 8px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.bk-code { font: 12px Monaco, Menlo, Consolas, monospace; color: #e01e5a; background: #f8f8f8;
  border: 1px solid #dddddd; border-radius: 3px; padding: 0 3px; }
.bk-quote { border-left: 4px solid #dddddd; margin: 4px 0; padding-left: 12px; }
.bk-list { margin: 2px 0; padding-left: 24px; }
.bk-indent-0 { padding-left: 24px; } .bk-indent-1 { padding-left: 48px; } .bk-indent-2 { padding-left: 72px; }
.bk-link { color: #1264a3; text-decoration: none; } .bk-link:hover { text-decoration: underline; }
.bk-link-refused { color: #616061; }
.bk-mention, .bk-channel, .bk-broadcast { color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.bk-broadcast { color: #1d1c1d; background: #fef3c7; }
.bk-unsupported { font: 12px monospace; color: #8a6d00; background: #fff8e1; border: 1px dashed #d4a600;
  padding: 2px 4px; }
.bk-message { padding: 4px 0; }
.bk-message-ephemeral { background: #f8f8f8; border-radius: 6px; padding: 6px 8px; }
.bk-ephemeral { font-size: 13px; color: #616061; }
.bk-edited { font-size: 13px; color: #616061; margin-left: 4px; }
.bk-home { padding: 16px; }
.bk-modal { background: #ffffff; border-radius: 8px; width: min(520px, 96vw); max-height: 90vh; display: flex;
  flex-direction: column; box-shadow: 0 18px 48px rgba(0, 0, 0, 0.35); }
.bk-modal-header { display: flex; align-items: center; justify-content: space-between; padding: 16px 24px;
  border-bottom: 1px solid #dddddd; }
.bk-modal-title { font-size: 22px; font-weight: 900; margin: 0; }
.bk-modal-x { font-size: 22px; border: 0; background: none; cursor: pointer; color: #616061; }
.bk-modal-body { padding: 8px 24px; overflow-y: auto; }
.bk-modal-footer { display: flex; justify-content: flex-end; gap: 8px; padding: 16px 24px;
  border-top: 1px solid #dddddd; }
.bk-modal-close, .bk-modal-submit { min-width: 80px; justify-content: center; }
.bk-view, .bk-block-header, .bk-block-divider, .bk-block-image, .bk-block-file, .bk-block-rich_text { display: block; }
"""
