"""Reading the setup and reflection modals' submitted values into plain values, with the problems a
person must fix, keyed by the block they belong to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.content.records import Content
from bot.ids import ActionId, BlockId, whole_number

# RefusedError.field -> the block its message shows under
NUDGE_ANSWERS = {ActionId.NUDGE_DONE: "done", ActionId.NUDGE_SKIP: "skipped", ActionId.NUDGE_SNOOZE: "snoozed"}
"""What each answer button on a weekly nudge records."""

FIELD_BLOCKS = {"level": BlockId.SETUP_LEVEL, "target": BlockId.SETUP_TARGET, "focus": BlockId.SETUP_FOCUS}

Values = dict[str, Any]  # view.state.values, as Slack sends it


@dataclass(frozen=True, slots=True)
class SetupForm:
    level: str
    target: str | None
    focus: list[str]
    weekday: int | None
    local_time: str | None


@dataclass(frozen=True, slots=True)
class ReflectionForm:
    text: str
    shared: bool
    delivery_id: int | None


def _element(values: Values, block: str, action: str) -> dict[str, Any]:
    return dict((values.get(block) or {}).get(action) or {})


def _picked(values: Values, block: str, action: str) -> str | None:
    option = _element(values, block, action).get("selected_option")
    return str(option.get("value")) if option else None


def parse_setup(content: Content, values: Values) -> SetupForm | dict[str, str]:
    """The submitted plan, or {block id: what to fix}."""
    level = _picked(values, BlockId.SETUP_LEVEL, ActionId.SETUP_LEVEL)
    target = _picked(values, BlockId.SETUP_TARGET, ActionId.SETUP_TARGET)
    focus = [
        str(o["value"])
        for o in _element(values, BlockId.SETUP_FOCUS, ActionId.SETUP_FOCUS).get("selected_options") or []
    ]
    weekday = _picked(values, BlockId.SETUP_WEEKDAY, ActionId.SETUP_WEEKDAY)
    hhmm = _element(values, BlockId.SETUP_TIME, ActionId.SETUP_TIME).get("selected_time")
    levels = {lv.id for lv in content.levels}
    errors: dict[str, str] = {}
    if level not in levels:
        errors[BlockId.SETUP_LEVEL] = "Pick your level."
    if target is not None and target not in levels:
        errors[BlockId.SETUP_TARGET] = "Pick a level from the list."
    if not focus:
        errors[BlockId.SETUP_FOCUS] = "Pick one to three areas."
    if errors or level is None:
        return errors
    return SetupForm(
        level=level,
        target=target,
        focus=focus,
        weekday=whole_number(weekday) if weekday else None,
        local_time=hhmm if isinstance(hhmm, str) and len(hhmm) == 5 else None,
    )


def parse_reflection(values: Values, private_metadata: str) -> ReflectionForm:
    text = _element(values, BlockId.REFLECTION_TEXT, ActionId.REFLECTION_TEXT).get("value") or ""
    chosen = _element(values, BlockId.REFLECTION_SHARED, ActionId.REFLECTION_SHARED).get("selected_options") or []
    return ReflectionForm(str(text), bool(chosen), delivery_id_of(private_metadata))


def delivery_id_of(value: str) -> int | None:
    """A nudge id carried by a button value or a modal's metadata; None when mangled."""
    return whole_number(value)
